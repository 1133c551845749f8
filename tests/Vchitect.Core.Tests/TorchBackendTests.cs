using Vchitect.Core;
using Xunit;
using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests;

public sealed class TorchBackendTests
{
    [Theory]
    [InlineData("cpu")]
    [InlineData(" CPU ")]
    public void Cpu_names_resolve_to_the_cpu(string name) => Assert.Equal(DeviceType.CPU, TorchBackend.ResolveDevice(name).type);

    [Fact]
    public void Auto_resolves_to_cuda_only_when_cuda_is_available()
    {
        var expected = cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU;
        Assert.Equal(expected, TorchBackend.ResolveDevice("auto").type);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:x")]
    [InlineData("")]
    public void Unknown_device_names_are_rejected(string name)
    {
        var e = Assert.ThrowsAny<Exception>(() => TorchBackend.ResolveDevice(name));
        Assert.True(e is ArgumentException or InvalidOperationException, e.GetType().Name);
        Assert.Contains(name.Trim().Length == 0 ? "''" : name, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_libtorch_folder_is_a_clear_error()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => TorchBackend.LoadLibTorchFrom("/nonexistent/libtorch/lib"));
        Assert.Contains("/nonexistent/libtorch/lib", e.Message, StringComparison.Ordinal);
    }
}
