using Vchitect.Core.Configuration;

namespace Vchitect.Models.UNets;

/// <summary>Real-size configs of published 3-D UNets.</summary>
public static class UNet3DConditionPresets
{
    /// <summary>
    /// The SD v1.4 <c>unet/config.json</c> as LaVie's <c>from_pretrained_2d</c> inflates it (3-D block types,
    /// use_first_frame and use_relative_position false): the config <c>lavie_base.pt</c> loads into (909,124,116 parameters).
    /// </summary>
    public const string LaVieBaseJson = """
        {
          "_class_name": "UNet3DConditionModel",
          "_diffusers_version": "0.16.0",
          "act_fn": "silu",
          "attention_head_dim": 8,
          "block_out_channels": [320, 640, 1280, 1280],
          "center_input_sample": false,
          "cross_attention_dim": 768,
          "down_block_types": ["CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"],
          "downsample_padding": 1,
          "flip_sin_to_cos": true,
          "freq_shift": 0,
          "in_channels": 4,
          "layers_per_block": 2,
          "mid_block_scale_factor": 1,
          "norm_eps": 1e-05,
          "norm_num_groups": 32,
          "out_channels": 4,
          "sample_size": 64,
          "up_block_types": ["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"],
          "use_first_frame": false,
          "use_relative_position": false
        }
        """;

    /// <summary>The LaVie base UNet config (<see cref="LaVieBaseJson"/>), parsed and validated.</summary>
    public static UNet3DConditionConfig LaVieBase => ConfigFile.Parse(LaVieBaseJson, UNet3DConditionJsonContext.Default.UNet3DConditionConfig, "preset lavie_base");

    /// <summary>
    /// LaVie's interpolation UNet (<c>interpolation/models/unet.py</c>, <c>lavie_interpolation.pt</c>): the SD v1.4
    /// <c>unet/config.json</c> with 3-D block types, <c>in_channels</c> 8 ([noisy latents 4 | guide latents 4],
    /// <c>copy_no_mask</c>), <c>use_first_frame</c> true (sparse-causal <c>attn1</c>, position-free temporal attention after
    /// the feed-forward) and no <c>use_relative_position</c> (false). 909,131,524 parameters.
    /// </summary>
    public const string LaVieInterpolationJson = """
        {
          "_class_name": "UNet3DConditionModel",
          "_diffusers_version": "0.16.0",
          "act_fn": "silu",
          "attention_head_dim": 8,
          "block_out_channels": [320, 640, 1280, 1280],
          "center_input_sample": false,
          "cross_attention_dim": 768,
          "down_block_types": ["CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"],
          "downsample_padding": 1,
          "flip_sin_to_cos": true,
          "freq_shift": 0,
          "in_channels": 8,
          "layers_per_block": 2,
          "mid_block_scale_factor": 1,
          "norm_eps": 1e-05,
          "norm_num_groups": 32,
          "out_channels": 4,
          "sample_size": 64,
          "up_block_types": ["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"],
          "use_first_frame": true
        }
        """;

    /// <summary>The LaVie interpolation UNet config (<see cref="LaVieInterpolationJson"/>), parsed and validated.</summary>
    public static UNet3DConditionConfig LaVieInterpolation => ConfigFile.Parse(LaVieInterpolationJson, UNet3DConditionJsonContext.Default.UNet3DConditionConfig, "preset lavie_interpolation");

    /// <summary>
    /// SEINE's UNet: the LaVie base config with <c>in_channels</c> 9, whose input is
    /// concat([noisy latents (4), mask (1), masked video latents (4)], dim 1) (909,138,516 parameters).
    /// </summary>
    public static UNet3DConditionConfig Seine => LaVieBase with { InChannels = 9 };
}
