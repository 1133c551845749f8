using System.Diagnostics;
using Vchitect.Core;
using Vchitect.Models.UNets;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.UNets;

/// <summary>
/// LaVie's interpolation UNet (use_first_frame, in_channels 8). There is no numeric fixture for it; the layout is checked
/// against models.md §3, derived from the LaVie base manifest.
/// </summary>
[Collection(UNetTorchState.Name)]
public sealed class LaVieInterpolationUNetTests(ITestOutputHelper output)
{
    [Fact]
    public void Real_size_interpolation_unet_has_the_base_keys_without_temporal_positions_and_an_8_channel_conv_in()
    {
        // models.md §3: the base layout, minus attn_temp.time_rel_pos_bias.* and attn_temp.rotary_emb.freqs, conv_in [320,8,3,3].
        var expected = Manifests.Shapes("manifest_lavie_base_unet.json")
            .Where(kv => !kv.Key.Contains(".attn_temp.time_rel_pos_bias.", StringComparison.Ordinal)
                && !kv.Key.EndsWith(".attn_temp.rotary_emb.freqs", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Key == "conv_in.weight" ? [320L, 8, 3, 3] : kv.Value, StringComparer.Ordinal);
        Assert.Equal(830 - 32, expected.Count);

        var watch = Stopwatch.StartNew();
        using var model = MetaDevice.Build(() => new UNet3DConditionModel(UNet3DConditionPresets.LaVieInterpolation));
        output.WriteLine($"built on meta in {watch.ElapsedMilliseconds} ms");
        var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        Assert.Equal(string.Empty, Manifests.Compare(expected, actual));

        // Base 909,124,116 − 16 shared freqs − 16 × 32·8 bias tables + 320·4·9 new conv_in inputs ≈ 909.13 M (models.md §3).
        Assert.Equal(909_124_116L - 16 - 16 * 256 + 320 * 4 * 9, model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Tiny_interpolation_unet_runs_on_8_input_channels()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var config = UNetFixtures.TinyConfig() with { InChannels = 8, UseFirstFrame = true };
        using var model = new UNet3DConditionModel(config);

        // The fixtures' init rule (weights N(0,1)/sqrt(fan_in), 1-D weights 1 + 0.1·N, other 1-D 0.1·N), so that the
        // check does not depend on construction-time initialisation.
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                var values = p.dim() >= 2 ? randn_like(p) / Math.Sqrt(p.numel() / p.shape[0])
                    : name.EndsWith("weight", StringComparison.Ordinal) ? 1 + 0.1 * randn_like(p) : 0.1 * randn_like(p);
                p.copy_(values);
            }
        }

        model.eval();
        using var mode = inference_mode();
        var sample = randn([1L, 8, 4, 8, 8]);
        var y = model.forward(new UNet3DConditionInput(sample, tensor(500L), randn([1L, 7, 32]))).Sample;
        Assert.Equal([1L, 4, 4, 8, 8], y.shape);
        Assert.True(y.isfinite().all().item<bool>());
    }
}
