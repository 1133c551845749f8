using System.Diagnostics;
using Vchitect.Core;
using Vchitect.Models.UNets;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.UNets;

/// <summary>SEINE's UNet: the LaVie base UNet with 9 input channels (latents, mask, masked video latents).</summary>
[Collection(UNetTorchState.Name)]
public sealed class SeineUNetTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("timestep", "sample")]
    [InlineData("timestep_scalar", "sample_scalar_timestep")]
    public void Tiny_seine_unet_matches_reference(string timestepKey, string outputKey)
    {
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel(fileName: UNetFixtures.SeineFile);
        using var file = UNetFixtures.Open(UNetFixtures.SeineFile);
        using var mode = inference_mode();
        var sample = cat([file.ReadTensor("in.x"), file.ReadTensor("in.mask"), file.ReadTensor("in.masked_video_latents")], 1);
        TensorAssert.Equal(file.ReadTensor("in.sample"), sample, what: "concatenated 9-channel input");
        var input = new UNet3DConditionInput(sample, file.ReadTensor("in." + timestepKey), file.ReadTensor("in.encoder_hidden_states"));
        var actual = model.forward(input).Sample;
        var expected = file.ReadTensor("out." + outputKey);
        Assert.Equal([2L, 4, 5, 8, 8], actual.shape);
        output.WriteLine($"{outputKey}: max abs error {(actual - expected).abs().max().item<float>():G4}");
        TensorAssert.Close(expected, actual, 1e-4, what: outputKey);
    }

    [Fact]
    public void Real_size_seine_unet_has_the_manifest_keys_and_shapes()
    {
        var watch = Stopwatch.StartNew();
        using var model = MetaDevice.Build(() => new UNet3DConditionModel(UNet3DConditionPresets.Seine));
        output.WriteLine($"built on meta in {watch.ElapsedMilliseconds} ms");
        var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        var expected = Manifests.Shapes("manifest_seine_unet.json");
        Assert.Equal(830, expected.Count);
        Assert.Equal(string.Empty, Manifests.Compare(expected, actual));
        Assert.Equal([320L, 9, 3, 3], actual["conv_in.weight"]);

        // 909,138,516 unique parameters in the reference; its shared 16-value rotary freqs are a buffer per attention here.
        Assert.Equal(909_138_516L - 16, model.parameters().Sum(p => p.numel()));
    }
}
