using Vchitect.Core;
using Vchitect.Models.UNets;
using Vchitect.TestUtilities;
using Xunit;

namespace Vchitect.Models.Tests.UNets;

/// <summary>
/// VideoBooth's UNet without its watermark branch and exemplar injection is the use_first_frame layout (models.md §6).
/// The watermark branch is not implemented, so only the key/shape layout is checked here, not the outputs.
/// </summary>
[Collection(UNetTorchState.Name)]
public sealed class VideoBoothLayoutTests
{
    private static bool IsWatermarkOrInjected(string key) =>
        key.StartsWith("watermark_", StringComparison.Ordinal)
        || key.Contains("_exemplar.", StringComparison.Ordinal)
        || key.Contains("_new.", StringComparison.Ordinal)
        || key.Contains("_global.", StringComparison.Ordinal);

    [Fact]
    public void Real_size_videobooth_manifest_without_the_watermark_branch_is_the_first_frame_layout()
    {
        var manifest = Manifests.Shapes("manifest_videobooth_unet.json");
        var expected = manifest.Where(kv => !IsWatermarkOrInjected(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        Assert.Equal(978 - 180, expected.Count);

        using var model = MetaDevice.Build(() => new UNet3DConditionModel(UNet3DConditionPresets.LaVieInterpolation with { InChannels = 4 }));
        var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        Assert.Equal(string.Empty, Manifests.Compare(expected, actual));
    }

    [Fact]
    public void Tiny_videobooth_fixture_weights_cover_the_first_frame_layout()
    {
        // Fixture config: block_out (32, 48), 2 heads, groups 16, cross 32, use_first_frame; its extra
        // WATERMARK_CHANNELS belongs to the watermark branch.
        var config = new UNet3DConditionConfig
        {
            BlockOutChannels = [32, 48],
            AttentionHeadDim = [2],
            CrossAttentionDim = 32,
            DownBlockTypes = ["CrossAttnDownBlock3D", "DownBlock3D"],
            UpBlockTypes = ["UpBlock3D", "CrossAttnUpBlock3D"],
            LayersPerBlock = 1,
            NormNumGroups = 16,
            UseFirstFrame = true,
        };
        using var model = MetaDevice.Build(() => new UNet3DConditionModel(config));
        var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);

        using var file = UNetFixtures.Open("videobooth_unet_tiny.safetensors");
        var expected = file.Keys
            .Where(k => k.StartsWith("weights.", StringComparison.Ordinal) && !IsWatermarkOrInjected(k["weights.".Length..]))
            .ToDictionary(k => k["weights.".Length..], k => file.GetInfo(k).Shape.ToArray(), StringComparer.Ordinal);
        Assert.Equal(string.Empty, Manifests.Compare(expected, actual));
    }
}
