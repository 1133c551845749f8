using System.Globalization;
using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;

namespace Vchitect.Models.UNets;

/// <summary>
/// The <c>config.json</c> of LaVie's <c>UNet3DConditionModel</c> (<c>base/models/unet.py</c>): the SD v1.x
/// <c>UNet2DConditionModel</c> fields plus <c>use_first_frame</c> and <c>use_relative_position</c>. Defaults are the
/// reference constructor's. An SD 2-D config reads as well: 2-D block names are mapped to their 3-D versions, as
/// <c>from_pretrained_2d</c> does (<see cref="Inflate"/>).
/// </summary>
/// <remarks>
/// The published LaVie-family UNets share one config schema but come from different model files; both of them have
/// <c>use_relative_position</c> false, so <c>use_first_frame</c> is the flag that tells them apart:
/// <list type="bullet">
/// <item><description><c>use_first_frame: false</c> → LaVie base (<c>base/models</c>) and SEINE (<c>in_channels</c> 9):
/// spatial <c>attn1</c>, temporal attention with rotary embedding and relative position bias, placed before the
/// feed-forward (keys include <c>attn_temp.rotary_emb.freqs</c> and <c>attn_temp.time_rel_pos_bias.*</c>).</description></item>
/// <item><description><c>use_first_frame: true</c> → LaVie interpolation (<c>interpolation/models</c>, <c>in_channels</c> 8)
/// and VideoBooth's UNet without its watermark branch: sparse-causal <c>attn1</c> (frame f attends to frames 0 and
/// f − 1), and a plain temporal self-attention with no positional encoding placed after the feed-forward (keys
/// <c>attn_temp.{to_q,to_k,to_v,to_out.0}</c> only).</description></item>
/// </list>
/// <c>use_relative_position: true</c> (the interpolation code's BERT-style <c>distance_embedding</c>, unused by any
/// published checkpoint) is not supported.
/// </remarks>
public sealed record UNet3DConditionConfig : DiffusersConfig
{
    private static readonly string[] DownTypes = ["CrossAttnDownBlock3D", "DownBlock3D"];
    private static readonly string[] UpTypes = ["CrossAttnUpBlock3D", "UpBlock3D"];

    /// <summary>Latent height and width the model was trained at (informational; 64 for SD v1.4). Default null.</summary>
    [JsonPropertyName("sample_size")]
    public int? SampleSize { get; init; }

    /// <summary>Input channels (4; LaVie interpolation 8; SEINE 9). Default 4.</summary>
    [JsonPropertyName("in_channels")]
    public int InChannels { get; init; } = 4;

    /// <summary>Output channels. Default 4.</summary>
    [JsonPropertyName("out_channels")]
    public int OutChannels { get; init; } = 4;

    /// <summary>Map the input x to 2x − 1 first. Default false.</summary>
    [JsonPropertyName("center_input_sample")]
    public bool CenterInputSample { get; init; }

    /// <summary>Cosines first in the sinusoidal timestep embedding. Default true.</summary>
    [JsonPropertyName("flip_sin_to_cos")]
    public bool FlipSinToCos { get; init; } = true;

    /// <summary>Frequency shift of the timestep embedding. Default 0.</summary>
    [JsonPropertyName("freq_shift")]
    public int FreqShift { get; init; }

    /// <summary>Down block types: <c>CrossAttnDownBlock3D</c> or <c>DownBlock3D</c> (2-D names accepted). One per <see cref="BlockOutChannels"/> entry.</summary>
    [JsonPropertyName("down_block_types")]
    public string[] DownBlockTypes { get; init; } = ["CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"];

    /// <summary>Mid block type: <c>UNetMidBlock3DCrossAttn</c> (the 2-D name is accepted).</summary>
    [JsonPropertyName("mid_block_type")]
    public string MidBlockType { get; init; } = "UNetMidBlock3DCrossAttn";

    /// <summary>Up block types: <c>UpBlock3D</c> or <c>CrossAttnUpBlock3D</c> (2-D names accepted).</summary>
    [JsonPropertyName("up_block_types")]
    public string[] UpBlockTypes { get; init; } = ["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"];

    /// <summary>Use attn1 as a second cross-attention, per down block (LaVie VSR). Only false is supported. Default false.</summary>
    [JsonPropertyName("only_cross_attention")]
    [JsonConverter(typeof(BoolOrArrayConverter))]
    public bool[] OnlyCrossAttention { get; init; } = [false];

    /// <summary>Channels of each resolution level. Default [320, 640, 1280, 1280].</summary>
    [JsonPropertyName("block_out_channels")]
    public int[] BlockOutChannels { get; init; } = [320, 640, 1280, 1280];

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

    /// <summary>Width of the text features. Default 1280 (768 for SD v1.x).</summary>
    [JsonPropertyName("cross_attention_dim")]
    public int CrossAttentionDim { get; init; } = 1280;

    /// <summary>
    /// Despite the name, the number of attention <b>heads</b> (SD v1.x quirk): one value or one per down block.
    /// Per-head width is channels / heads and must be at least 32 (the rotary width). Default 8.
    /// </summary>
    [JsonPropertyName("attention_head_dim")]
    [JsonConverter(typeof(IntOrArrayConverter))]
    public int[] AttentionHeadDim { get; init; } = [8];

    /// <summary>Dual cross-attention: not supported (must be false). Default false.</summary>
    [JsonPropertyName("dual_cross_attention")]
    public bool DualCrossAttention { get; init; }

    /// <summary>Linear instead of 1×1 conv projections in the transformers. Default false.</summary>
    [JsonPropertyName("use_linear_projection")]
    public bool UseLinearProjection { get; init; }

    /// <summary>Class embedding type: not supported (must be null). Default null.</summary>
    [JsonPropertyName("class_embed_type")]
    public string? ClassEmbedType { get; init; }

    /// <summary>Number of class embeddings: not supported (must be null). Default null.</summary>
    [JsonPropertyName("num_class_embeds")]
    public int? NumClassEmbeds { get; init; }

    /// <summary>Compute attention in float32. Default false.</summary>
    [JsonPropertyName("upcast_attention")]
    public bool UpcastAttention { get; init; }

    /// <summary>How resnets apply the time embedding: only <c>default</c> is supported.</summary>
    [JsonPropertyName("resnet_time_scale_shift")]
    public string ResnetTimeScaleShift { get; init; } = "default";

    /// <summary>
    /// True: the LaVie interpolation / VideoBooth transformer blocks: sparse-causal <c>attn1</c> (frame f attends to
    /// frames 0 and max(f − 1, 0)) and a position-free temporal attention after the feed-forward. False: the LaVie base /
    /// SEINE blocks (rotary + relative-bias temporal attention before the feed-forward). Default false.
    /// </summary>
    [JsonPropertyName("use_first_frame")]
    public bool UseFirstFrame { get; init; }

    /// <summary>
    /// LaVie's relative position option. Must be false (LaVie base forces it off; the interpolation config leaves it
    /// out): true would add the interpolation code's BERT-style <c>distance_embedding</c>, which is not supported. Default false.
    /// </summary>
    [JsonPropertyName("use_relative_position")]
    public bool UseRelativePosition { get; init; }

    /// <summary>
    /// The same config with 2-D block names replaced by 3-D ones (what <c>from_pretrained_2d</c> does to an SD config).
    /// <see cref="UseFirstFrame"/> and <see cref="UseRelativePosition"/> are kept as they are.
    /// </summary>
    public UNet3DConditionConfig Inflate() => this with
    {
        DownBlockTypes = DownBlockTypes.Select(To3D).ToArray(),
        UpBlockTypes = UpBlockTypes.Select(To3D).ToArray(),
        MidBlockType = To3D(MidBlockType),
    };

    /// <summary>Heads of down block <paramref name="index"/> (one value for all, or per block).</summary>
    /// <param name="index">Down block index.</param>
    public int HeadsOf(int index) => AttentionHeadDim.Length == 1 ? AttentionHeadDim[0] : AttentionHeadDim[index];

    /// <summary>Whether a down or up block type has attention layers (a <c>CrossAttn…</c> type).</summary>
    /// <param name="blockType">A down or up block type (2-D or 3-D name).</param>
    public static bool HasCrossAttention(string blockType) =>
        To3D(blockType ?? throw new ArgumentNullException(nameof(blockType))).StartsWith("CrossAttn", StringComparison.Ordinal);

    /// <inheritdoc/>
    /// <exception cref="ConfigException">A field is out of range or inconsistent; the message names it.</exception>
    /// <exception cref="NotSupportedException">A valid option this library does not implement; the message names it.</exception>
    public override void Validate()
    {
        ConfigException.ThrowIfNot(InChannels > 0, "in_channels", $"is {InChannels}; must be positive.");
        ConfigException.ThrowIfNot(OutChannels > 0, "out_channels", $"is {OutChannels}; must be positive.");
        ConfigException.ThrowIfNot(BlockOutChannels is { Length: > 0 } && BlockOutChannels.All(c => c > 0), "block_out_channels", "must be a non-empty list of positive channel counts.");
        int n = BlockOutChannels.Length;
        ConfigException.ThrowIfNot(DownBlockTypes is not null && DownBlockTypes.Length == n, "down_block_types", $"has {DownBlockTypes?.Length ?? 0} entries; must have one per block_out_channels entry ({n}).");
        ConfigException.ThrowIfNot(UpBlockTypes is not null && UpBlockTypes.Length == n, "up_block_types", $"has {UpBlockTypes?.Length ?? 0} entries; must have one per block_out_channels entry ({n}).");
        ConfigException.ThrowIfNot(LayersPerBlock >= 1, "layers_per_block", $"is {LayersPerBlock}; must be at least 1.");
        ConfigException.ThrowIfNot(NormNumGroups > 0, "norm_num_groups", $"is {NormNumGroups}; must be positive.");
        ConfigException.ThrowIfNot(NormEps > 0, "norm_eps", $"is {NormEps.ToString(CultureInfo.InvariantCulture)}; must be positive.");
        ConfigException.ThrowIfNot(CrossAttentionDim > 0, "cross_attention_dim", $"is {CrossAttentionDim}; must be positive.");
        ConfigException.ThrowIfNot(DownsamplePadding >= 0, "downsample_padding", $"is {DownsamplePadding}; must be non-negative.");
        ConfigException.ThrowIfNot(AttentionHeadDim is not null && (AttentionHeadDim.Length == 1 || AttentionHeadDim.Length == n) && AttentionHeadDim.All(h => h > 0), "attention_head_dim", $"must be one positive head count or one per block ({n}).");
        ConfigException.ThrowIfNot(OnlyCrossAttention is not null && (OnlyCrossAttention.Length == 1 || OnlyCrossAttention.Length == n), "only_cross_attention", $"must be one bool or one per block ({n}).");
        foreach (int c in BlockOutChannels)
        {
            ConfigException.ThrowIfNot(c % NormNumGroups == 0, "norm_num_groups", $"is {NormNumGroups}; must divide every block_out_channels entry ({c} does not).");
        }

        for (int i = 0; i < n; i++)
        {
            ThrowIfUnsupported("down_block_types", DownBlockTypes![i], DownTypes);
            ThrowIfUnsupported("up_block_types", UpBlockTypes![i], UpTypes);
            int heads = HeadsOf(i);
            int channels = BlockOutChannels[i];
            ConfigException.ThrowIfNot(channels % heads == 0, "attention_head_dim", $"is {heads} heads at block {i}; must divide its {channels} channels.");
            // Only the rotary temporal attention (use_first_frame false) needs 32 channels per head.
            ConfigException.ThrowIfNot(UseFirstFrame || channels / heads >= 32, "attention_head_dim", $"is {heads} heads at block {i}, giving {channels / heads} channels per head; temporal attention rotates 32 channels per head, so at least 32 are needed.");
        }

        ThrowIfUnsupported("mid_block_type", MidBlockType, ["UNetMidBlock3DCrossAttn"]);
        NotSupportedIf(!string.Equals(ActFn, "silu", StringComparison.Ordinal), "act_fn", ActFn, "silu");
        NotSupportedIf(DualCrossAttention, "dual_cross_attention", "true", "false");
        NotSupportedIf(ClassEmbedType is not null, "class_embed_type", ClassEmbedType ?? "", "null");
        NotSupportedIf(NumClassEmbeds is not null, "num_class_embeds", NumClassEmbeds?.ToString(CultureInfo.InvariantCulture) ?? "", "null");
        NotSupportedIf(!string.Equals(ResnetTimeScaleShift, "default", StringComparison.Ordinal), "resnet_time_scale_shift", ResnetTimeScaleShift, "default");
        NotSupportedIf(OnlyCrossAttention!.Any(b => b), "only_cross_attention", "true", "false");
        NotSupportedIf(UseRelativePosition, "use_relative_position", "true", "false (LaVie base forces it off; the distance-embedding variant of the interpolation code is not implemented)");
    }

    /// <summary>Maps a 2-D diffusers block name to its 3-D counterpart; 3-D and unknown names are returned unchanged.</summary>
    /// <param name="blockType">The block type name.</param>
    public static string To3D(string blockType) => blockType switch
    {
        "CrossAttnDownBlock2D" => "CrossAttnDownBlock3D",
        "DownBlock2D" => "DownBlock3D",
        "CrossAttnUpBlock2D" => "CrossAttnUpBlock3D",
        "UpBlock2D" => "UpBlock3D",
        "UNetMidBlock2DCrossAttn" => "UNetMidBlock3DCrossAttn",
        _ => blockType,
    };

    private static void ThrowIfUnsupported(string field, string? value, string[] allowed)
    {
        ConfigException.ThrowIfNot(value is not null, field, "contains null.");
        if (!allowed.Contains(To3D(value!), StringComparer.Ordinal))
        {
            throw new NotSupportedException($"{field}: '{value}' is not supported; supported: {string.Join(", ", allowed)} (and their 2-D names).");
        }
    }

    private static void NotSupportedIf(bool condition, string field, string value, string allowed)
    {
        if (condition)
        {
            throw new NotSupportedException($"{field}: {value} is not supported; supported: {allowed}.");
        }
    }
}
