namespace Vchitect.Pipelines.Plugins;

/// <summary>The low-pass filter FreeInit keeps the re-noised latents' low frequencies with.</summary>
public enum FreeInitFilter
{
    /// <summary>exp(−d²/(2·d_s²)). Suggested by the authors for base models with larger temporal inconsistency.</summary>
    Gaussian,

    /// <summary>1/(1 + (d²/d_s²)ⁿ) with order n (<see cref="FreeInitOptions.Order"/>). The default (n = 4).</summary>
    Butterworth,

    /// <summary>1 where d² ≤ 2·d_s, else 0 (the reference's literal code: 2·d_s, not d_s²).</summary>
    Ideal,

    /// <summary>1 inside the centred box of half-sizes round(⌊H/2⌋·d_s) (spatial) and round(⌊F/2⌋·d_t) (temporal), else 0 (original repo only).</summary>
    Box,
}

/// <summary>
/// FreeInit's options (Wu et al., "FreeInit: Bridging Initialization Gap in Video Diffusion Models"). Defaults are
/// diffusers' <c>enable_free_init</c>: 3 iterations, Butterworth n = 4, d_s = d_t = 0.25, no fast sampling.
/// </summary>
/// <remarks>Plain data; validated when the plugin is created (<see cref="Validate"/>).</remarks>
public sealed record FreeInitOptions
{
    /// <summary>Number of sampling passes K (the first is the plain one). Default 3 (README: 3–5); 1 … 50.</summary>
    public int Iterations { get; init; } = 3;

    /// <summary>The low-pass filter. Default <see cref="FreeInitFilter.Butterworth"/>.</summary>
    public FreeInitFilter Filter { get; init; } = FreeInitFilter.Butterworth;

    /// <summary>Order n of the Butterworth filter (ignored by the others). Default 4; ≥ 1.</summary>
    public int Order { get; init; } = 4;

    /// <summary>Normalised spatial stop frequency d_s. Default 0.25; 0 … 1 (0 gives an all-zero filter: pure fresh noise).</summary>
    public double SpatialStopFrequency { get; init; } = 0.25;

    /// <summary>Normalised temporal stop frequency d_t. Default 0.25; 0 … 1 (0 gives an all-zero filter: pure fresh noise).</summary>
    public double TemporalStopFrequency { get; init; } = 0.25;

    /// <summary>
    /// Coarse-to-fine sampling: pass k (0-based) runs max(1, ⌊N/K·(k+1)⌋) steps instead of N, so only the last pass uses all
    /// N; about (K+1)/2 × a plain run instead of K ×. Default false.
    /// </summary>
    public bool FastSampling { get; init; }

    /// <summary>Checks every option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; <c>ParamName</c> is the option's name.</exception>
    public void Validate()
    {
        if (Iterations is < 1 or > 50)
        {
            throw new ArgumentOutOfRangeException(nameof(Iterations), Iterations, "FreeInit's Iterations must be 1 … 50.");
        }

        if (!Enum.IsDefined(Filter))
        {
            throw new ArgumentOutOfRangeException(nameof(Filter), Filter, "Unknown FreeInitFilter.");
        }

        if (Order < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Order), Order, "The Butterworth order must be at least 1.");
        }

        if (!double.IsFinite(SpatialStopFrequency) || SpatialStopFrequency is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(SpatialStopFrequency), SpatialStopFrequency, "The spatial stop frequency d_s must be in [0, 1].");
        }

        if (!double.IsFinite(TemporalStopFrequency) || TemporalStopFrequency is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(TemporalStopFrequency), TemporalStopFrequency, "The temporal stop frequency d_t must be in [0, 1].");
        }
    }
}
