using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>
/// Base of the σ-parameterised (variance-exploding view) schedulers, Euler and Euler ancestral: σ_t = √((1−ᾱ_t)/ᾱ_t),
/// x_t = x₀ + σ·ε, model input scaled by 1/√(σ²+1), float32 timesteps. Step position is tracked by index.
/// </summary>
public abstract class SigmaSchedulerBase : VpSchedulerBase
{
    private Tensor? _sigmas;
    private float[] _hostSigmas = [];
    private string _timestepSpacing = "linspace";

    /// <summary>Builds the β/ᾱ tables (ᾱ_{T−1} clamped to 2⁻²⁴ under zero-SNR rescaling).</summary>
    /// <param name="config">The config.</param>
    /// <param name="numTrainTimesteps">T.</param>
    /// <param name="betaStart">First β.</param>
    /// <param name="betaEnd">Last β.</param>
    /// <param name="betaSchedule">The β schedule name.</param>
    /// <param name="trainedBetas">Explicit βs or null.</param>
    /// <param name="rescaleBetasZeroSnr">Zero terminal SNR.</param>
    protected SigmaSchedulerBase(DiffusersConfig config, int numTrainTimesteps, double betaStart, double betaEnd, string betaSchedule, IReadOnlyList<float>? trainedBetas, bool rescaleBetasZeroSnr)
        : base(config, numTrainTimesteps, betaStart, betaEnd, betaSchedule, trainedBetas, rescaleBetasZeroSnr, clampTerminalAlpha: true)
    {
        using var scope = NewDisposeScope();
        FullSigmas = ((1 - AlphasCumprod) / AlphasCumprod).pow(0.5).data<float>().ToArray();
    }

    /// <summary>σ for every training timestep (index = t), float32 values.</summary>
    protected float[] FullSigmas { get; }

    /// <inheritdoc/>
    public override Tensor? Sigmas => _sigmas;

    /// <summary>σ per step plus the final one, on the host.</summary>
    protected IReadOnlyList<float> HostSigmas => _hostSigmas;

    /// <inheritdoc/>
    /// <remarks>σ_max for linspace/trailing spacing, else √(σ_max²+1) (diffusers' rule); 1 before <see cref="IScheduler.SetTimesteps"/>.</remarks>
    public override float InitNoiseSigma
    {
        get
        {
            if (_hostSigmas.Length == 0)
            {
                return 1f;
            }

            float max = _hostSigmas.Max();
            return _timestepSpacing is "linspace" or "trailing" ? max : MathF.Sqrt((max * max) + 1f);
        }
    }

    /// <summary>Stores σs (float32) and timesteps (float32) and resets the step index.</summary>
    protected void SetSigmaSchedule(double[] timesteps, double[] sigmasWithFinal, int numInferenceSteps, string spacing, Device? device)
    {
        ArgumentNullException.ThrowIfNull(sigmasWithFinal);
        _hostSigmas = sigmasWithFinal.Select(s => (float)s).ToArray();
        var t = tensor(_hostSigmas, ScalarType.Float32);
        _sigmas?.Dispose();
        _sigmas = t.DetachFromDisposeScope();
        _timestepSpacing = spacing;
        SetSchedule(timesteps, numInferenceSteps, ScalarType.Float32, device);
    }

    /// <summary>The timesteps of a spacing as numpy gives them in float32 (linspace: float32 linspace; leading/trailing: float32 integers).</summary>
    protected double[] Float32Timesteps(string spacing, int numInferenceSteps, int stepsOffset)
    {
        if (spacing == "linspace")
        {
            return ScheduleMath.NumpyLinspace(0, NumTrainTimesteps - 1, numInferenceSteps).Reverse().Select(v => (double)(float)v).ToArray();
        }

        return ScheduleMath.SpacedTimesteps(spacing, NumTrainTimesteps, numInferenceSteps, stepsOffset);
    }

    /// <inheritdoc/>
    public override Tensor ScaleModelInput(Tensor sample, Tensor timestep)
    {
        ArgumentNullException.ThrowIfNull(sample);
        int index = EnsureStepIndex(timestep);
        float sigma = _hostSigmas[index];
        return sample / MathF.Sqrt((sigma * sigma) + 1f);
    }

    /// <inheritdoc/>
    /// <remarks>x₀ + σ(t)·ε with σ looked up by timestep in the current schedule (diffusers' Euler <c>add_noise</c>).</remarks>
    /// <exception cref="ArgumentException">A timestep is not in the schedule.</exception>
    public override Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps)
    {
        ArgumentNullException.ThrowIfNull(originalSamples);
        ArgumentNullException.ThrowIfNull(noise);
        CheckSameShape(originalSamples, noise, nameof(noise));
        using var scope = NewDisposeScope();
        var sigma = ScheduleMath.Broadcastable(SigmasFor(timesteps).to(originalSamples.dtype, originalSamples.device), originalSamples.dim());
        return (originalSamples + (noise * sigma)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    /// <remarks>In the VP frame of the σ at each timestep: α = 1/√(σ²+1), v = α·ε − σα·x₀. (diffusers' Euler indexes ᾱ by step position here, which is a bug.)</remarks>
    public override Tensor GetVelocity(Tensor sample, Tensor noise, Tensor timesteps)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(noise);
        CheckSameShape(sample, noise, nameof(noise));
        using var scope = NewDisposeScope();
        var sigma = ScheduleMath.Broadcastable(SigmasFor(timesteps).to(sample.dtype, sample.device), sample.dim());
        var alpha = 1 / (sigma.pow(2) + 1).pow(0.5);
        return ((alpha * noise) - (sigma * alpha * sample)).MoveToOuterDisposeScope();
    }

    private Tensor SigmasFor(Tensor timesteps)
    {
        ArgumentNullException.ThrowIfNull(timesteps);
        double[] ts = timesteps.to_type(ScalarType.Float64).cpu().flatten().data<double>().ToArray();
        return tensor(ts.Select(t => _hostSigmas[IndexForTimestep((float)t)]).ToArray(), ScalarType.Float32);
    }
}
