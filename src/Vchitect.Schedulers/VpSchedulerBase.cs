using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>
/// Base of the schedulers built on a discrete variance-preserving β table (DDPM, DDIM, PNDM, Euler, DPM-Solver):
/// holds β, α = 1 − β and ᾱ = cumprod(α) in float32, computed the way diffusers does, and implements
/// <see cref="AddNoise"/> and <see cref="GetVelocity"/> by integer timestep (x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε).
/// </summary>
public abstract class VpSchedulerBase : SchedulerBase
{
    /// <summary>Builds the tables.</summary>
    /// <param name="config">The scheduler config.</param>
    /// <param name="numTrainTimesteps">T, the number of training timesteps.</param>
    /// <param name="betaStart">First β (before any square root for scaled_linear).</param>
    /// <param name="betaEnd">Last β.</param>
    /// <param name="betaSchedule">linear, scaled_linear, squaredcos_cap_v2 (or sigmoid for DDPM).</param>
    /// <param name="trainedBetas">Explicit βs overriding the schedule; null for none.</param>
    /// <param name="rescaleBetasZeroSnr">Rescale to zero terminal SNR.</param>
    /// <param name="clampTerminalAlpha">With <paramref name="rescaleBetasZeroSnr"/>, set ᾱ_{T−1} = 2⁻²⁴ instead of 0 (Euler and DPM-Solver do, so that σ stays finite).</param>
    /// <exception cref="ConfigException">Unknown beta schedule, or trained betas of the wrong length.</exception>
    protected VpSchedulerBase(DiffusersConfig config, int numTrainTimesteps, double betaStart, double betaEnd, string betaSchedule, IReadOnlyList<float>? trainedBetas, bool rescaleBetasZeroSnr, bool clampTerminalAlpha = false)
        : base(config)
    {
        if (trainedBetas is not null && trainedBetas.Count != numTrainTimesteps)
        {
            throw new ConfigException(null, "trained_betas", $"has {trainedBetas.Count} values but num_train_timesteps is {numTrainTimesteps}.");
        }

        NumTrainTimesteps = numTrainTimesteps;
        using var scope = NewDisposeScope();
        Betas = ScheduleMath.Betas(numTrainTimesteps, betaStart, betaEnd, betaSchedule, trainedBetas, rescaleBetasZeroSnr);
        Alphas = (1.0 - Betas).DetachFromDisposeScope();
        var alphasCumprod = Alphas.cumprod(0);
        if (rescaleBetasZeroSnr && clampTerminalAlpha)
        {
            alphasCumprod[-1] = tensor(MathF.Pow(2, -24));
        }

        AlphasCumprod = alphasCumprod.DetachFromDisposeScope();
        AlphasCumprodHost = AlphasCumprod.data<float>().ToArray();
    }

    /// <summary>T, the number of training timesteps.</summary>
    public int NumTrainTimesteps { get; }

    /// <summary>β_t, float32 [T].</summary>
    public Tensor Betas { get; }

    /// <summary>α_t = 1 − β_t, float32 [T].</summary>
    public Tensor Alphas { get; }

    /// <summary>ᾱ_t = Π α, float32 [T] (cumulative product in float32, as torch computes it).</summary>
    public Tensor AlphasCumprod { get; }

    /// <summary>ᾱ on the host, for per-step scalars.</summary>
    protected float[] AlphasCumprodHost { get; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">A timestep is outside [0, T).</exception>
    public override Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps)
    {
        ArgumentNullException.ThrowIfNull(originalSamples);
        ArgumentNullException.ThrowIfNull(noise);
        CheckSameShape(originalSamples, noise, nameof(noise));
        using var scope = NewDisposeScope();
        var (sqrtAlpha, sqrtOneMinusAlpha) = SqrtTables(timesteps, originalSamples);
        return ((sqrtAlpha * originalSamples) + (sqrtOneMinusAlpha * noise)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">A timestep is outside [0, T).</exception>
    public override Tensor GetVelocity(Tensor sample, Tensor noise, Tensor timesteps)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(noise);
        CheckSameShape(sample, noise, nameof(noise));
        using var scope = NewDisposeScope();
        var (sqrtAlpha, sqrtOneMinusAlpha) = SqrtTables(timesteps, sample);
        return ((sqrtAlpha * noise) - (sqrtOneMinusAlpha * sample)).MoveToOuterDisposeScope();
    }

    /// <summary>ᾱ at an integer timestep, or <paramref name="whenNegative"/> for t &lt; 0.</summary>
    protected float AlphaCumprodAt(long t, float whenNegative)
    {
        if (t >= NumTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(nameof(t), t, $"{GetType().Name}: timestep {t} is outside [0, {NumTrainTimesteps}).");
        }

        return t >= 0 ? AlphasCumprodHost[t] : whenNegative;
    }

    /// <summary>Throws when two tensors that must match do not.</summary>
    protected void CheckSameShape(Tensor expected, Tensor actual, string name)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        if (!expected.shape.SequenceEqual(actual.shape))
        {
            throw new ArgumentException($"{GetType().Name}: {name} has shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}].", name);
        }
    }

    private (Tensor SqrtAlpha, Tensor SqrtOneMinusAlpha) SqrtTables(Tensor timesteps, Tensor like)
    {
        ArgumentNullException.ThrowIfNull(timesteps);
        var t = timesteps.to_type(ScalarType.Int64).flatten();
        if (t.numel() > 0)
        {
            long min = t.min().item<long>();
            long max = t.max().item<long>();
            if (min < 0 || max >= NumTrainTimesteps)
            {
                throw new ArgumentOutOfRangeException(nameof(timesteps), $"{GetType().Name}: timesteps must lie in [0, {NumTrainTimesteps}); got values from {min} to {max}.");
            }
        }

        if (t.numel() != 1 && t.numel() != like.shape[0])
        {
            throw new ArgumentException($"{GetType().Name}: {t.numel()} timesteps for a batch of {like.shape[0]}; give one per row or a single one.", nameof(timesteps));
        }

        var ac = AlphasCumprod.to(like.dtype, like.device)[t.to(like.device)];
        var sqrtAlpha = ScheduleMath.Broadcastable(ac.pow(0.5), like.dim());
        var sqrtOneMinusAlpha = ScheduleMath.Broadcastable((1.0 - ac).pow(0.5), like.dim());
        return (sqrtAlpha, sqrtOneMinusAlpha);
    }
}
