using System.Globalization;
using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;

namespace Vchitect.Models.Autoencoders;

/// <summary>
/// The <c>config.json</c> of a diffusers <c>AutoencoderKL</c> (the KL-regularised image VAE of Stable Diffusion):
/// field names and defaults as in diffusers' <c>AutoencoderKL.__init__</c>.
/// </summary>
/// <remarks>
/// The defaults are diffusers' (a one-block toy model); real models come from a file or a preset such as
/// <see cref="AutoencoderKLPresets.StableDiffusionV14"/>. Read files with
/// <c>ConfigFile.Read(path, AutoencoderJsonContext.Default.AutoencoderKLConfig)</c>.
/// </remarks>
public sealed record AutoencoderKLConfig : DiffusersConfig
{
    /// <summary>The only down block type diffusers' AutoencoderKL encoder uses.</summary>
    public const string DownEncoderBlock2D = "DownEncoderBlock2D";

    /// <summary>The only up block type diffusers' AutoencoderKL decoder uses.</summary>
    public const string UpDecoderBlock2D = "UpDecoderBlock2D";

    private static readonly string[] SupportedActivations = ["silu", "swish", "mish", "gelu", "relu"];

    /// <summary>Image channels going in (<c>in_channels</c>); default 3.</summary>
    [JsonPropertyName("in_channels")]
    public int InChannels { get; init; } = 3;

    /// <summary>Image channels coming out of the decoder (<c>out_channels</c>); default 3.</summary>
    [JsonPropertyName("out_channels")]
    public int OutChannels { get; init; } = 3;

    /// <summary>Encoder block types (<c>down_block_types</c>), one per <see cref="BlockOutChannels"/> entry; only <c>DownEncoderBlock2D</c>.</summary>
    [JsonPropertyName("down_block_types")]
    public string[] DownBlockTypes { get; init; } = [DownEncoderBlock2D];

    /// <summary>Decoder block types (<c>up_block_types</c>), one per <see cref="BlockOutChannels"/> entry; only <c>UpDecoderBlock2D</c>.</summary>
    [JsonPropertyName("up_block_types")]
    public string[] UpBlockTypes { get; init; } = [UpDecoderBlock2D];

    /// <summary>Channels of each resolution level, finest first (<c>block_out_channels</c>); default [64].</summary>
    [JsonPropertyName("block_out_channels")]
    public int[] BlockOutChannels { get; init; } = [64];

    /// <summary>Resnets per encoder block (<c>layers_per_block</c>); decoder blocks have one more. Default 1.</summary>
    [JsonPropertyName("layers_per_block")]
    public int LayersPerBlock { get; init; } = 1;

    /// <summary>Activation (<c>act_fn</c>): <c>silu</c> (default), <c>swish</c>, <c>mish</c>, <c>gelu</c> or <c>relu</c>.</summary>
    [JsonPropertyName("act_fn")]
    public string ActFn { get; init; } = "silu";

    /// <summary>Latent channels (<c>latent_channels</c>); the encoder outputs twice as many (mean and log-variance). Default 4.</summary>
    [JsonPropertyName("latent_channels")]
    public int LatentChannels { get; init; } = 4;

    /// <summary>GroupNorm groups (<c>norm_num_groups</c>); must divide every channel count. Default 32.</summary>
    [JsonPropertyName("norm_num_groups")]
    public int NormNumGroups { get; init; } = 32;

    /// <summary>Training image size in pixels (<c>sample_size</c>); tiled decoding uses it as the tile size. Default 32.</summary>
    [JsonPropertyName("sample_size")]
    public int SampleSize { get; init; } = 32;

    /// <summary>
    /// Latent scale (<c>scaling_factor</c>), default 0.18215. Not applied by encode or decode: pipelines multiply latents by it
    /// after encoding and divide by it before decoding.
    /// </summary>
    [JsonPropertyName("scaling_factor")]
    public double ScalingFactor { get; init; } = 0.18215;

    /// <summary>Latent shift (<c>shift_factor</c>) used by some newer VAEs; null (default) for none. Not applied by encode or decode.</summary>
    [JsonPropertyName("shift_factor")]
    public double? ShiftFactor { get; init; }

    /// <summary>Per-channel latent means (<c>latents_mean</c>) of some newer VAEs; null (default). Informational.</summary>
    [JsonPropertyName("latents_mean")]
    public double[]? LatentsMean { get; init; }

    /// <summary>Per-channel latent standard deviations (<c>latents_std</c>) of some newer VAEs; null (default). Informational.</summary>
    [JsonPropertyName("latents_std")]
    public double[]? LatentsStd { get; init; }

    /// <summary>
    /// Whether pipelines should run this VAE in float32 even when the rest runs in half precision (<c>force_upcast</c>,
    /// default true: the SD VAE overflows in float16). The model itself does not act on it.
    /// </summary>
    [JsonPropertyName("force_upcast")]
    public bool ForceUpcast { get; init; } = true;

    /// <summary>Whether the 1×1 <c>quant_conv</c> follows the encoder (<c>use_quant_conv</c>); default true.</summary>
    [JsonPropertyName("use_quant_conv")]
    public bool UseQuantConv { get; init; } = true;

    /// <summary>Whether the 1×1 <c>post_quant_conv</c> precedes the decoder (<c>use_post_quant_conv</c>); default true.</summary>
    [JsonPropertyName("use_post_quant_conv")]
    public bool UsePostQuantConv { get; init; } = true;

    /// <summary>Whether the encoder and decoder mid blocks have their self-attention (<c>mid_block_add_attention</c>); default true.</summary>
    [JsonPropertyName("mid_block_add_attention")]
    public bool MidBlockAddAttention { get; init; } = true;

    /// <summary>Spatial down-scaling factor between images and latents: 2^(levels − 1), e.g. 8 for SD.</summary>
    [JsonIgnore]
    public int SpatialScaleFactor => 1 << (BlockOutChannels.Length - 1);

    /// <summary>
    /// Checks every field.
    /// </summary>
    /// <exception cref="ConfigException">A field is out of range; the message names it, its value and what is allowed.</exception>
    /// <exception cref="NotSupportedException">A block type or activation this library does not implement.</exception>
    public override void Validate()
    {
        Positive(InChannels, "in_channels");
        Positive(OutChannels, "out_channels");
        Positive(LatentChannels, "latent_channels");
        Positive(NormNumGroups, "norm_num_groups");
        Positive(SampleSize, "sample_size");
        ConfigException.ThrowIfNot(LayersPerBlock >= 1, "layers_per_block", $"is {LayersPerBlock}; must be at least 1.");
        ConfigException.ThrowIfNot(
            BlockOutChannels is { Length: > 0 and <= 16 } && BlockOutChannels.All(c => c > 0),
            "block_out_channels",
            $"is [{Join(BlockOutChannels)}]; must be a non-empty list (at most 16 levels) of positive channel counts.");
        foreach (int c in BlockOutChannels)
        {
            ConfigException.ThrowIfNot(
                c % NormNumGroups == 0,
                "block_out_channels",
                $"has {c}, which norm_num_groups ({NormNumGroups}) does not divide; every channel count must be a multiple of it.");
        }

        CheckBlockTypes(DownBlockTypes, "down_block_types", DownEncoderBlock2D);
        CheckBlockTypes(UpBlockTypes, "up_block_types", UpDecoderBlock2D);
        ConfigException.ThrowIfNot(ActFn is not null, "act_fn", "is null; allowed: " + string.Join(", ", SupportedActivations) + ".");
        if (!SupportedActivations.Contains(ActFn, StringComparer.Ordinal))
        {
            throw new NotSupportedException(
                $"AutoencoderKL config field 'act_fn' is \"{ActFn}\"; supported: {string.Join(", ", SupportedActivations)}.");
        }

        ConfigException.ThrowIfNot(
            double.IsFinite(ScalingFactor) && ScalingFactor > 0,
            "scaling_factor",
            $"is {ScalingFactor.ToString(CultureInfo.InvariantCulture)}; must be a positive finite number.");
        ConfigException.ThrowIfNot(
            ShiftFactor is null || double.IsFinite(ShiftFactor.Value),
            "shift_factor",
            $"is {ShiftFactor?.ToString(CultureInfo.InvariantCulture)}; must be finite or null.");
    }

    private void CheckBlockTypes(string[]? types, string field, string allowed)
    {
        ConfigException.ThrowIfNot(types is not null, field, "is null; must list one block type per block_out_channels entry.");
        ConfigException.ThrowIfNot(
            types!.Length == BlockOutChannels.Length,
            field,
            $"has {types.Length} entries; must have one per block_out_channels entry ({BlockOutChannels.Length}).");
        foreach (string type in types)
        {
            if (!string.Equals(type, allowed, StringComparison.Ordinal))
            {
                throw new NotSupportedException(
                    $"AutoencoderKL config field '{field}' has \"{type}\"; supported: \"{allowed}\".");
            }
        }
    }

    private static void Positive(int value, string field) =>
        ConfigException.ThrowIfNot(value > 0, field, $"is {value}; must be positive.");

    private static string Join(int[]? values) =>
        values is null ? "null" : string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture)));
}
