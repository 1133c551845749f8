namespace Vchitect.Pipelines.Plugins;

/// <summary>Which decoder layers FreeU re-weights.</summary>
public enum FreeUPlacement
{
    /// <summary>
    /// diffusers' placement (default): by up-block index (<c>resolution_idx</c>). <c>up_blocks.0</c> uses (b1, s1) and
    /// <c>up_blocks.1</c> uses (b2, s2), before every resnet's skip concatenation in those blocks; the other blocks are left alone.
    /// </summary>
    ByBlockIndex,

    /// <summary>
    /// The official repository's placement (ChenyangSi/FreeU): by the backbone's channel count. A layer whose backbone
    /// features have <see cref="FreeUOptions.Stage1Channels"/> channels (1280 in SD) uses (b1, s1), one with
    /// <see cref="FreeUOptions.Stage2Channels"/> (640 in SD) uses (b2, s2), wherever they are in the decoder.
    /// </summary>
    ByChannelCount,
}

/// <summary>How FreeU scales the first half of the backbone channels.</summary>
public enum FreeUBackboneScaling
{
    /// <summary>Multiply by the constant b (diffusers, the official demo). Default.</summary>
    Constant,

    /// <summary>
    /// Structure-aware (the README's <c>Free_UNetModel</c>): multiply by (b − 1)·m̂ + 1, where m̂ is the channel mean of the
    /// backbone features min-max normalised over H·W, per sample and (for video) per frame.
    /// </summary>
    StructureAware,
}

/// <summary>
/// FreeU's factors (Si et al., "FreeU: Free Lunch in Diffusion U-Net"): backbone factors b1, b2 (≥ 1 strengthens the
/// backbone) and skip factors s1, s2 (≤ 1 damps the skip's low frequencies), for the two lowest-resolution decoder stages.
/// </summary>
/// <remarks>Plain data; validated when the plugin is created (<see cref="Validate"/>).</remarks>
public sealed record FreeUOptions
{
    /// <summary>SD v1.4's published values (README): b1 1.3, b2 1.4, s1 0.9, s2 0.2. LaVie and SEINE UNets derive from SD v1.4.</summary>
    public static FreeUOptions SD14 { get; } = new() { B1 = 1.3, B2 = 1.4, S1 = 0.9, S2 = 0.2 };

    /// <summary>SD v1.5's published values (README): b1 1.5, b2 1.6, s1 0.9, s2 0.2.</summary>
    public static FreeUOptions SD15 { get; } = new() { B1 = 1.5, B2 = 1.6, S1 = 0.9, S2 = 0.2 };

    /// <summary>SD v2.1's published values (README): b1 1.4, b2 1.6, s1 0.9, s2 0.2.</summary>
    public static FreeUOptions SD21 { get; } = new() { B1 = 1.4, B2 = 1.6, S1 = 0.9, S2 = 0.2 };

    /// <summary>
    /// The text-to-video values diffusers' docs use for the ModelScope UNet (from FreeU_Diffusers): b1 1.2, b2 1.4, s1 0.9,
    /// s2 0.2. These are also the defaults of a plain <c>new FreeUOptions()</c>.
    /// </summary>
    public static FreeUOptions Video { get; } = new();

    /// <summary>Backbone factor of stage 1 (the lowest resolution). Default 1.2; finite, &gt; 0 (the paper tunes 1 … 1.2).</summary>
    public double B1 { get; init; } = 1.2;

    /// <summary>Backbone factor of stage 2. Default 1.4; finite, &gt; 0 (the paper tunes 1.2 … 1.6).</summary>
    public double B2 { get; init; } = 1.4;

    /// <summary>Skip factor of stage 1: scales the skip's lowest frequencies. Default 0.9; finite, ≥ 0 (≤ 1 in the paper).</summary>
    public double S1 { get; init; } = 0.9;

    /// <summary>Skip factor of stage 2. Default 0.2; finite, ≥ 0 (≤ 1 in the paper).</summary>
    public double S2 { get; init; } = 0.2;

    /// <summary>Half-size r of the centred frequency box the skip factor scales (rows and columns [N/2 − r, N/2 + r)). Default 1; ≥ 1.</summary>
    public int Threshold { get; init; } = 1;

    /// <summary>Which layers are re-weighted. Default <see cref="FreeUPlacement.ByBlockIndex"/> (diffusers).</summary>
    public FreeUPlacement Placement { get; init; } = FreeUPlacement.ByBlockIndex;

    /// <summary>Constant or structure-aware backbone scaling. Default <see cref="FreeUBackboneScaling.Constant"/>.</summary>
    public FreeUBackboneScaling BackboneScaling { get; init; } = FreeUBackboneScaling.Constant;

    /// <summary>
    /// For <see cref="FreeUPlacement.ByChannelCount"/>: the backbone channel count of stage 1. Null (default) takes the
    /// UNet's largest <c>block_out_channels</c> value (1280 for SD).
    /// </summary>
    public int? Stage1Channels { get; init; }

    /// <summary>
    /// For <see cref="FreeUPlacement.ByChannelCount"/>: the backbone channel count of stage 2. Null (default) takes the
    /// UNet's second-largest distinct <c>block_out_channels</c> value (640 for SD).
    /// </summary>
    public int? Stage2Channels { get; init; }

    /// <summary>Checks every option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; <c>ParamName</c> is the option's name.</exception>
    public void Validate()
    {
        RequirePositive(B1, nameof(B1));
        RequirePositive(B2, nameof(B2));
        RequireNonNegative(S1, nameof(S1));
        RequireNonNegative(S2, nameof(S2));
        if (Threshold < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "FreeU's frequency threshold must be at least 1.");
        }

        if (!Enum.IsDefined(Placement))
        {
            throw new ArgumentOutOfRangeException(nameof(Placement), Placement, "Unknown FreeUPlacement.");
        }

        if (!Enum.IsDefined(BackboneScaling))
        {
            throw new ArgumentOutOfRangeException(nameof(BackboneScaling), BackboneScaling, "Unknown FreeUBackboneScaling.");
        }

        if (Stage1Channels is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Stage1Channels), Stage1Channels, "Must be a positive channel count, or null to take it from the UNet.");
        }

        if (Stage2Channels is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Stage2Channels), Stage2Channels, "Must be a positive channel count, or null to take it from the UNet.");
        }
    }

    private static void RequirePositive(double value, string name)
    {
        if (!double.IsFinite(value) || value <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"FreeU's {name} must be finite and > 0.");
        }
    }

    private static void RequireNonNegative(double value, string name)
    {
        if (!double.IsFinite(value) || value < 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"FreeU's {name} must be finite and ≥ 0.");
        }
    }
}
