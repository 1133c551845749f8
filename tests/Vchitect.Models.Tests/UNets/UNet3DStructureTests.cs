using TorchSharp;
using System.Diagnostics;
using Vchitect.Core;
using Vchitect.Models.UNets;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.UNets;

[Collection(UNetTorchState.Name)]
public sealed class UNet3DStructureTests(ITestOutputHelper output)
{
    [Fact]
    public void Real_size_lavie_base_unet_has_the_manifest_keys_and_shapes()
    {
        var before = get_default_device();
        var watch = Stopwatch.StartNew();
        using var model = MetaDevice.Build(() => new UNet3DConditionModel(UNet3DConditionPresets.LaVieBase));
        output.WriteLine($"built on meta in {watch.ElapsedMilliseconds} ms");
        Assert.Equal(before.type, get_default_device().type);

        var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        Assert.All(model.parameters(), p => Assert.Equal(DeviceType.META, p.device_type));
        var expected = Manifests.Shapes("manifest_lavie_base_unet.json");
        Assert.Equal(830, expected.Count);
        Assert.Equal(string.Empty, Manifests.Compare(expected, actual));

        // 909,124,116 unique parameters in the reference (its 16 rotary freqs are one shared tensor); here each temporal
        // attention holds its own 16 constants, as a buffer.
        long parameters = model.parameters().Sum(p => p.numel());
        Assert.Equal(909_124_116L - 16, parameters);
    }

    [Fact]
    public void Meta_build_restores_the_default_device_when_construction_throws()
    {
        var before = get_default_device();
        Assert.Throws<InvalidOperationException>(() => MetaDevice.Build<int>(() => throw new InvalidOperationException()));
        Assert.Equal(before.type, get_default_device().type);
    }
}
