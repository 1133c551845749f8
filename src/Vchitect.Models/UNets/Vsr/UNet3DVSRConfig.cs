using System.Globalization;
using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;

namespace Vchitect.Models.UNets.Vsr;

/// <summary>
/// The <c>config.json</c> of LaVie's x4 video super-resolution UNet (<c>UNet3DVSRModel</c>, <c>vsr/models/unet.py</c>,
/// <c>vsr/configs/unet_3d_config.json</c>): the stable-diffusion-x4-upscaler UNet fields plus the temporal-module fields.
/// Defaults are the reference constructor's, except <see cref="VideoCondition"/> (false, as the published config and
/// inference use it) and <see cref="TemporalModuleConfig"/> (the published values; the reference has none).
/// </summary>
public sealed record UNet3DVSRConfig : DiffusersConfig
{
    /// <summary>Down block indices followed by a <c>TemporalModule3D</c> (others get an empty one). Default [0, 1, 2].</summary>
    [JsonPropertyName("down_temporal_idx")]
    public int[] DownTemporalIdx { get; init; } = [0, 1, 2];

    /// <summary>Whether the mid block is followed by a <c>TemporalModule3D</c>. Default false.</summary>
    [JsonPropertyName("mid_temporal")]
    public bool MidTemporal { get; init; }

    /// <summary>Up block indices followed by a <c>TemporalModule3D</c>. Default [0, 1, 2].</summary>
    [JsonPropertyName("up_temporal_idx")]
    public int[] UpTemporalIdx { get; init; } = [0, 1, 2];

    /// <summary>Low-res video conditioning inside the temporal modules: not supported (must be false; inference forces it off). Default false.</summary>
    [JsonPropertyName("video_condition")]
    public bool VideoCondition { get; init; }

    /// <summary>Options of the temporal modules. Default: the published values.</summary>
    [JsonPropertyName("temporal_module_config")]
    public TemporalModuleConfig? TemporalModuleConfig { get; init; } = new();

    /// <summary>Latent height and width the model was trained at (informational; 128 published). Default null.</summary>
    [JsonPropertyName("sample_size")]
    public int? SampleSize { get; init; }

    /// <summary>Input channels of <c>conv_in</c>: latent channels + 3 RGB low-res channels. Default 7.</summary>
    [JsonPropertyName("in_channels")]
    public int InChannels { get; init; } = 7;

    /// <summary>Output channels. Default 4.</summary>
    [JsonPropertyName("out_channels")]
    public int OutChannels { get; init; } = 4;

    /// <summary>Map the input x to 2x − 1 first. Default false.</summary>
    [JsonPropertyName("center_input_sample")]
    public bool CenterInputSample { get; init; }

    /// <summary>Largest accepted noise level (class label). Default 350.</summary>
    [JsonPropertyName("max_noise_level")]
    public int MaxNoiseLevel { get; init; } = 350;

    /// <summary>Cosines first in the sinusoidal timestep embedding. Default true.</summary>
    [JsonPropertyName("flip_sin_to_cos")]
    public bool FlipSinToCos { get; init; } = true;

    /// <summary>Frequency shift of the timestep embedding. Default 0.</summary>
    [JsonPropertyName("freq_shift")]
    public int FreqShift { get; init; }

    /// <summary>
    /// Despite the name, the number of attention <b>heads</b>: one value or one per down block. Per-head width is
    /// channels / heads and must be at least 32 (the rotary width). Default 8.
    /// </summary>
    [JsonPropertyName("attention_head_dim")]
    [JsonConverter(typeof(IntOrArrayConverter))]
    public int[] AttentionHeadDim { get; init; } = [8];

    /// <summary>Channels of each resolution level. Default [256, 512, 512, 1024].</summary>
    [JsonPropertyName("block_out_channels")]
    public int[] BlockOutChannels { get; init; } = [256, 512, 512, 1024];

    /// <summary>Down block types: <c>CrossAttnDownBlock3D</c> or <c>DownBlock3D</c>.</summary>
    [JsonPropertyName("down_block_types")]
    public string[] DownBlockTypes { get; init; } = ["DownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D"];

    /// <summary>Mid block type: <c>UNetMidBlock3DCrossAttn</c>.</summary>
    [JsonPropertyName("mid_block_type")]
    public string MidBlockType { get; init; } = "UNetMidBlock3DCrossAttn";

    /// <summary>Up block types: <c>CrossAttnUpBlock3D</c> or <c>UpBlock3D</c>.</summary>
    [JsonPropertyName("up_block_types")]
    public string[] UpBlockTypes { get; init; } = ["CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "UpBlock3D"];

    /// <summary>attn1 is a second cross-attention to the text, per down block (reversed for the up blocks). Default [true, true, true, false].</summary>
    [JsonPropertyName("only_cross_attention")]
    [JsonConverter(typeof(BoolOrArrayConverter))]
    public bool[] OnlyCrossAttention { get; init; } = [true, true, true, false];

    /// <summary>Resnets per down block (up blocks have one more). Default 2.</summary>
    [JsonPropertyName("layers_per_block")]
    public int LayersPerBlock { get; init; } = 2;

    /// <summary>Padding of the downsampler convolutions. Default 1.</summary>
    [JsonPropertyName("downsample_padding")]
    public int DownsamplePadding { get; init; } = 1;

    /// <summary>Output scale of the mid block's resnets. Default 1.</summary>
    [JsonPropertyName("mid_block_scale_factor")]
    public double MidBlockScaleFactor { get; init; } = 1.0;

    /// <summary>Activation: only <c>silu</c> is supported. Default <c>silu</c>.</summary>
    [JsonPropertyName("act_fn")]
    public string ActFn { get; init; } = "silu";

    /// <summary>GroupNorm groups. Default 32.</summary>
    [JsonPropertyName("norm_num_groups")]
    public int NormNumGroups { get; init; } = 32;

    /// <summary>GroupNorm epsilon of resnets and the output norm. Default 1e-5.</summary>
    [JsonPropertyName("norm_eps")]
    public double NormEps { get; init; } = 1e-5;

    /// <summary>Width of the text features. Default 1024 (OpenCLIP-H).</summary>
    [JsonPropertyName("cross_attention_dim")]
    public int CrossAttentionDim { get; init; } = 1024;

    /// <summary>Dual cross-attention: not supported (must be false). Default false.</summary>
    [JsonPropertyName("dual_cross_attention")]
    public bool DualCrossAttention { get; init; }

    /// <summary>Linear instead of 1×1 conv projections in the transformers. Default true.</summary>
    [JsonPropertyName("use_linear_projection")]
    public bool UseLinearProjection { get; init; } = true;

    /// <summary>Class embedding type: only null (an <c>nn.Embedding</c> table when <see cref="NumClassEmbeds"/> is set) is supported. Default null.</summary>
    [JsonPropertyName("class_embed_type")]
    public string? ClassEmbedType { get; init; }

    /// <summary>Rows of the <c>class_embedding</c> table, indexed by the noise level; null for none. Default 1000.</summary>
    [JsonPropertyName("num_class_embeds")]
    public int? NumClassEmbeds { get; init; } = 1000;

    /// <summary>Compute attention in float32. Default false.</summary>
    [JsonPropertyName("upcast_attention")]
    public bool UpcastAttention { get; init; }

    /// <summary>How resnets apply the time embedding: only <c>default</c> is supported.</summary>
    [JsonPropertyName("resnet_time_scale_shift")]
    public string ResnetTimeScaleShift { get; init; } = "default";

    /// <summary>Sparse-causal attn1: not supported (must be false). Default false.</summary>
    [JsonPropertyName("use_first_frame")]
    public bool UseFirstFrame { get; init; }

    /// <summary>Unused top-level option of the reference: must be false. Default false.</summary>
    [JsonPropertyName("use_relative_position")]
    public bool UseRelativePosition { get; init; }

    /// <summary>Training-only flag (freeze the non-temporal weights); ignored. Default null.</summary>
    [JsonPropertyName("freeze_pretrained_2d_upsampler")]
    public bool? FreezePretrained2DUpsampler { get; init; }

    /// <summary>Heads of down block <paramref name="index"/> (one value for all, or per block).</summary>
    /// <param name="index">Down block index.</param>
    public int HeadsOf(int index) => AttentionHeadDim.Length == 1 ? AttentionHeadDim[0] : AttentionHeadDim[index];

    /// <summary>Whether attn1 of down block <paramref name="index"/> is a cross-attention (one value for all, or per block).</summary>
    /// <param name="index">Down block index (up block i uses index n − 1 − i).</param>
    public bool OnlyCrossAttentionOf(int index) => OnlyCrossAttention.Length == 1 ? OnlyCrossAttention[0] : OnlyCrossAttention[index];

    /// <inheritdoc/>
    /// <exception cref="ConfigException">A field is out of range or inconsistent; the message names it.</exception>
    /// <exception cref="NotSupportedException">A valid option this library does not implement; the message names it.</exception>
    public override void Validate()
    {
        base.Validate();
        ConfigException.ThrowIfNot(OutChannels > 0, "out_channels", $"is {OutChannels}; must be positive.");
        ConfigException.ThrowIfNot(InChannels > 3, "in_channels", $"is {InChannels}; must be the latent channels plus the 3 low-res RGB channels.");
        ConfigException.ThrowIfNot(BlockOutChannels is { Length: > 0 } && BlockOutChannels.All(c => c > 0), "block_out_channels", "must be a non-empty list of positive channel counts.");
        int n = BlockOutChannels.Length;
        ConfigException.ThrowIfNot(DownBlockTypes is not null && DownBlockTypes.Length == n, "down_block_types", $"has {DownBlockTypes?.Length ?? 0} entries; must have one per block_out_channels entry ({n}).");
        ConfigException.ThrowIfNot(UpBlockTypes is not null && UpBlockTypes.Length == n, "up_block_types", $"has {UpBlockTypes?.Length ?? 0} entries; must have one per block_out_channels entry ({n}).");
        ConfigException.ThrowIfNot(LayersPerBlock >= 1, "layers_per_block", $"is {LayersPerBlock}; must be at least 1.");
        ConfigException.ThrowIfNot(NormNumGroups > 0, "norm_num_groups", $"is {NormNumGroups}; must be positive.");
        ConfigException.ThrowIfNot(NormEps > 0, "norm_eps", $"is {NormEps.ToString(CultureInfo.InvariantCulture)}; must be positive.");
        ConfigException.ThrowIfNot(CrossAttentionDim > 0, "cross_attention_dim", $"is {CrossAttentionDim}; must be positive.");
        ConfigException.ThrowIfNot(DownsamplePadding >= 0, "downsample_padding", $"is {DownsamplePadding}; must be non-negative.");
        ConfigException.ThrowIfNot(MaxNoiseLevel >= 0, "max_noise_level", $"is {MaxNoiseLevel}; must be non-negative.");
        ConfigException.ThrowIfNot(NumClassEmbeds is null or > 0, "num_class_embeds", $"is {NumClassEmbeds}; must be positive or null.");
        ConfigException.ThrowIfNot(AttentionHeadDim is not null && (AttentionHeadDim.Length == 1 || AttentionHeadDim.Length == n) && AttentionHeadDim.All(h => h > 0), "attention_head_dim", $"must be one positive head count or one per block ({n}).");
        ConfigException.ThrowIfNot(OnlyCrossAttention is not null && (OnlyCrossAttention.Length == 1 || OnlyCrossAttention.Length == n), "only_cross_attention", $"must be one bool or one per block ({n}).");
        ConfigException.ThrowIfNot(DownTemporalIdx is not null && DownTemporalIdx.All(i => i >= 0 && i < n), "down_temporal_idx", $"must list down block indices below {n}.");
        ConfigException.ThrowIfNot(UpTemporalIdx is not null && UpTemporalIdx.All(i => i >= 0 && i < n), "up_temporal_idx", $"must list up block indices below {n}.");
        bool anyTemporal = DownTemporalIdx!.Length > 0 || UpTemporalIdx!.Length > 0 || MidTemporal;
        ConfigException.ThrowIfNot(!anyTemporal || TemporalModuleConfig is not null, "temporal_module_config", "is required when any temporal module is enabled.");
        foreach (int c in BlockOutChannels)
        {
            ConfigException.ThrowIfNot(c % NormNumGroups == 0, "norm_num_groups", $"is {NormNumGroups}; must divide every block_out_channels entry ({c} does not).");
            // ResnetBlock3DCNN and the temporal modules' resnets use 32 groups whatever norm_num_groups is.
            ConfigException.ThrowIfNot(c % 32 == 0, "block_out_channels", $"has {c}; every entry must be a multiple of 32 (the temporal resnets' fixed GroupNorm groups).");
        }

        for (int i = 0; i < n; i++)
        {
            ThrowIfUnsupported("down_block_types", DownBlockTypes![i], ["CrossAttnDownBlock3D", "DownBlock3D"]);
            ThrowIfUnsupported("up_block_types", UpBlockTypes![i], ["CrossAttnUpBlock3D", "UpBlock3D"]);
            int heads = HeadsOf(i);
            int channels = BlockOutChannels[i];
            ConfigException.ThrowIfNot(channels % heads == 0, "attention_head_dim", $"is {heads} heads at block {i}; must divide its {channels} channels.");
            ConfigException.ThrowIfNot(channels / heads >= 32, "attention_head_dim", $"is {heads} heads at block {i}, giving {channels / heads} channels per head; temporal attention rotates 32 channels per head, so at least 32 are needed.");
        }

        ThrowIfUnsupported("mid_block_type", MidBlockType, ["UNetMidBlock3DCrossAttn"]);
        NotSupportedIf(!string.Equals(ActFn, "silu", StringComparison.Ordinal), "act_fn", ActFn, "silu");
        NotSupportedIf(DualCrossAttention, "dual_cross_attention", "true", "false");
        NotSupportedIf(ClassEmbedType is not null, "class_embed_type", ClassEmbedType ?? "", "null");
        NotSupportedIf(!string.Equals(ResnetTimeScaleShift, "default", StringComparison.Ordinal), "resnet_time_scale_shift", ResnetTimeScaleShift, "default");
        NotSupportedIf(UseFirstFrame, "use_first_frame", "true", "false");
        NotSupportedIf(UseRelativePosition, "use_relative_position", "true", "false");
        NotSupportedIf(VideoCondition, "video_condition", "true", "false (LaVie VSR inference runs without it)");
        TemporalModuleConfig?.Validate();
    }

    private static void ThrowIfUnsupported(string field, string? value, string[] allowed)
    {
        ConfigException.ThrowIfNot(value is not null, field, "contains null.");
        if (!allowed.Contains(value!, StringComparer.Ordinal))
        {
            throw new NotSupportedException($"{field}: '{value}' is not supported; supported: {string.Join(", ", allowed)}.");
        }
    }

    internal static void NotSupportedIf(bool condition, string field, string value, string allowed)
    {
        if (condition)
        {
            throw new NotSupportedException($"{field}: {value} is not supported; supported: {allowed}.");
        }
    }
}

/// <summary>
/// The <c>temporal_module_config</c> of <see cref="UNet3DVSRConfig"/> (keyword arguments of <c>TemporalModule3D</c>).
/// Only the published form is supported: <c>attention_block_types</c> ["", ""], i.e. no attention layers inside the
/// temporal modules, which makes every other field inert.
/// </summary>
public sealed record TemporalModuleConfig
{
    /// <summary>Attention layers per temporal transformer (inert without attention). Default 1.</summary>
    [JsonPropertyName("num_attention_layers")]
    public int? NumAttentionLayers { get; init; } = 1;

    /// <summary>Spatial and temporal attention kinds; both must be empty. Default ["", ""].</summary>
    [JsonPropertyName("attention_block_types")]
    public string[] AttentionBlockTypes { get; init; } = ["", ""];

    /// <summary>Cross-frame attention mode (inert). Default <c>0_i-1_i</c>.</summary>
    [JsonPropertyName("cross_frame_attention_mode")]
    public string? CrossFrameAttentionMode { get; init; } = "0_i-1_i";

    /// <summary>Temporal shift fold divisor (inert). Default 2.</summary>
    [JsonPropertyName("temporal_shift_fold_div")]
    public int? TemporalShiftFoldDiv { get; init; } = 2;

    /// <summary>Temporal shift direction (inert). Default <c>right</c>.</summary>
    [JsonPropertyName("temporal_shift_direction")]
    public string? TemporalShiftDirection { get; init; } = "right";

    /// <summary>Deformable warping after temporal attention (inert). Default false.</summary>
    [JsonPropertyName("use_dcn_warpping")]
    public bool? UseDcnWarpping { get; init; } = false;

    /// <summary>Deformable convolution in the warping (inert). Default true.</summary>
    [JsonPropertyName("use_deformable_conv")]
    public bool? UseDeformableConv { get; init; } = true;

    /// <summary>Divisor of the temporal attention width (inert). Default 2.</summary>
    [JsonPropertyName("attention_dim_div")]
    public int? AttentionDimDiv { get; init; } = 2;

    /// <summary>Checks that the options describe the supported (attention-free) temporal module.</summary>
    /// <exception cref="ConfigException">attention_block_types does not have two entries.</exception>
    /// <exception cref="NotSupportedException">An attention kind is requested.</exception>
    public void Validate()
    {
        ConfigException.ThrowIfNot(AttentionBlockTypes is { Length: 2 }, "temporal_module_config.attention_block_types", "must have exactly two entries.");
        UNet3DVSRConfig.NotSupportedIf(
            AttentionBlockTypes!.Any(t => !string.IsNullOrEmpty(t)),
            "temporal_module_config.attention_block_types",
            $"[{string.Join(", ", AttentionBlockTypes!)}]",
            "[\"\", \"\"] (no attention inside the temporal modules)");
    }
}
