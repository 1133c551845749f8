// <snippet>
using TorchSharp;
using Vchitect.Core;
using static TorchSharp.torch;
// </snippet>
using Xunit;

namespace Vchitect.Docs.Tests.Snippets;

/// <summary>docs/backends.md</summary>
public sealed class BackendsSnippets
{
    // Compiled, not run: asking for CUDA throws on a machine without it.
    internal static Device PickCuda()
    {
        // <snippet>
        Device device = TorchBackend.ResolveDevice("cuda");   // or "cuda:1", or "auto" (CUDA when present, else CPU)
        // </snippet>
        return device;
    }

    [Fact]
    public void Auto_device_is_usable_for_a_tensor()
    {
        Device device = TorchBackend.ResolveDevice("auto");
        using var x = torch.ones(2, 2, device: device);
        Assert.Equal(4.0f, x.sum().cpu().item<float>());
    }
}
