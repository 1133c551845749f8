using Vchitect.Core.Configuration;
using Vchitect.Models.UNets;
using Xunit;

namespace Vchitect.Models.Tests.UNets;

public sealed class UNet3DConditionConfigTests
{
    private static UNet3DConditionConfig Parse(string json) =>
        ConfigFile.Parse(json, UNet3DConditionJsonContext.Default.UNet3DConditionConfig, "test");

    [Fact]
    public void Lavie_base_preset_is_sd14_inflated()
    {
        var c = UNet3DConditionPresets.LaVieBase;
        Assert.Equal([320, 640, 1280, 1280], c.BlockOutChannels);
        Assert.Equal([8], c.AttentionHeadDim);
        Assert.Equal(768, c.CrossAttentionDim);
        Assert.Equal("CrossAttnDownBlock3D", c.DownBlockTypes[0]);
        Assert.False(c.UseFirstFrame);
        Assert.Empty(c.UnknownKeys);
    }

    [Fact]
    public void Sd_2d_config_is_accepted_and_inflated()
    {
        var c = Parse("""
            {"_class_name": "UNet2DConditionModel", "cross_attention_dim": 768,
             "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
             "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
             "mid_block_type": "UNetMidBlock2DCrossAttn"}
            """);
        var inflated = c.Inflate();
        Assert.Equal(["CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"], inflated.DownBlockTypes);
        Assert.Equal("UpBlock3D", inflated.UpBlockTypes[0]);
        Assert.Equal("UNetMidBlock3DCrossAttn", inflated.MidBlockType);
    }

    [Fact]
    public void Attention_head_dim_reads_an_int_or_a_list_and_round_trips()
    {
        var one = Parse("""{"attention_head_dim": 8}""");
        Assert.Equal([8], one.AttentionHeadDim);
        Assert.Contains("\"attention_head_dim\": 8", ConfigFile.ToJson(one, UNet3DConditionJsonContext.Default.UNet3DConditionConfig), StringComparison.Ordinal);
        var list = Parse("""{"attention_head_dim": [5, 10, 20, 20], "block_out_channels": [320, 640, 1280, 1280]}""");
        Assert.Equal([5, 10, 20, 20], list.AttentionHeadDim);
        Assert.Equal(20, list.HeadsOf(3));
    }

    [Theory]
    [InlineData("""{"block_out_channels": [320, 640]}""", "down_block_types")]
    [InlineData("""{"norm_num_groups": 48}""", "norm_num_groups")]
    [InlineData("""{"attention_head_dim": 20}""", "attention_head_dim")]
    [InlineData("""{"attention_head_dim": [8, 8]}""", "attention_head_dim")]
    [InlineData("""{"layers_per_block": 0}""", "layers_per_block")]
    [InlineData("""{"in_channels": 0}""", "in_channels")]
    public void Invalid_values_throw_config_exception_naming_the_field(string json, string field)
    {
        var ex = Assert.Throws<ConfigException>(() => Parse(json));
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"use_relative_position": true}""", "use_relative_position")]
    [InlineData("""{"act_fn": "gelu"}""", "act_fn")]
    [InlineData("""{"only_cross_attention": [false, true, false, false]}""", "only_cross_attention")]
    [InlineData("""{"num_class_embeds": 1000}""", "num_class_embeds")]
    [InlineData("""{"class_embed_type": "timestep"}""", "class_embed_type")]
    [InlineData("""{"dual_cross_attention": true}""", "dual_cross_attention")]
    [InlineData("""{"resnet_time_scale_shift": "scale_shift"}""", "resnet_time_scale_shift")]
    [InlineData("""{"mid_block_type": "UNetMidBlock3DSimpleCrossAttn"}""", "mid_block_type")]
    [InlineData("""{"down_block_types": ["SimpleCrossAttnDownBlock2D", "DownBlock3D", "DownBlock3D", "DownBlock3D"]}""", "down_block_types")]
    public void Unsupported_options_throw_not_supported_naming_the_field(string json, string field)
    {
        Exception ex = Assert.ThrowsAny<Exception>(() => Parse(json));
        var notSupported = ex as NotSupportedException ?? ex.InnerException as NotSupportedException;
        Assert.NotNull(notSupported);
        Assert.Contains(field, notSupported.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_constructor_validates_a_config_built_in_code()
    {
        var bad = UNet3DConditionPresets.LaVieBase with { UseRelativePosition = true };
        var ex = Assert.Throws<NotSupportedException>(() => new UNet3DConditionModel(bad));
        Assert.Contains("use_relative_position", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Use_first_frame_is_supported_and_kept_by_inflate()
    {
        var c = Parse("""{"use_first_frame": true, "in_channels": 8}""");
        Assert.True(c.UseFirstFrame);
        Assert.True(c.Inflate().UseFirstFrame);
        Assert.Equal(8, c.InChannels);
    }

    [Fact]
    public void Use_first_frame_lifts_the_rotary_head_width_limit_only()
    {
        // 64 channels / 4 heads = 16 per head: too narrow for the rotary temporal attention, fine without it.
        const string json = """{"block_out_channels": [64], "down_block_types": ["CrossAttnDownBlock3D"], "up_block_types": ["CrossAttnUpBlock3D"], "attention_head_dim": 4, "norm_num_groups": 32, "use_first_frame": %s}""";
        Parse(json.Replace("%s", "true", StringComparison.Ordinal));
        Assert.ThrowsAny<Exception>(() => Parse(json.Replace("%s", "false", StringComparison.Ordinal)));
    }

    [Fact]
    public void Interpolation_preset_is_the_sd14_config_with_8_channels_and_first_frame_attention()
    {
        var c = UNet3DConditionPresets.LaVieInterpolation;
        Assert.Equal(8, c.InChannels);
        Assert.True(c.UseFirstFrame);
        Assert.False(c.UseRelativePosition);
        var b = UNet3DConditionPresets.LaVieBase;
        Assert.Equal(b.BlockOutChannels, c.BlockOutChannels);
        Assert.Equal(b.DownBlockTypes, c.DownBlockTypes);
        Assert.Equal(b.UpBlockTypes, c.UpBlockTypes);
        Assert.Equal(b.AttentionHeadDim, c.AttentionHeadDim);
        Assert.Equal(b.CrossAttentionDim, c.CrossAttentionDim);
        Assert.Empty(c.UnknownKeys);
        Assert.Equal(9, UNet3DConditionPresets.Seine.InChannels);
    }
}
