using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>Config of <see cref="FlowMatchEulerDiscreteScheduler"/> (diffusers <c>FlowMatchEulerDiscreteScheduler</c>); defaults are diffusers'.</summary>
public sealed record FlowMatchEulerDiscreteSchedulerConfig : DiffusersConfig
{
    /// <summary>T. Default 1000.</summary>
    [JsonPropertyName("num_train_timesteps")] public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary>Static time shift s: σ ← sσ/(1 + (s−1)σ). Default 1 (SD3: 3).</summary>
    [JsonPropertyName("shift")] public double Shift { get; init; } = 1.0;

    /// <summary>Resolution-dependent shift with μ given to <see cref="FlowMatchEulerDiscreteScheduler.SetTimesteps(int, double, Device?)"/>. Default false.</summary>
    [JsonPropertyName("use_dynamic_shifting")] public bool UseDynamicShifting { get; init; }

    /// <summary>μ at <see cref="BaseImageSeqLen"/> (for <see cref="FlowMatchEulerDiscreteScheduler.CalculateShift"/>). Default 0.5.</summary>
    [JsonPropertyName("base_shift")] public double? BaseShift { get; init; } = 0.5;

    /// <summary>μ at <see cref="MaxImageSeqLen"/>. Default 1.15.</summary>
    [JsonPropertyName("max_shift")] public double? MaxShift { get; init; } = 1.15;

    /// <summary>Token count of the base resolution. Default 256.</summary>
    [JsonPropertyName("base_image_seq_len")] public int BaseImageSeqLen { get; init; } = 256;

    /// <summary>Token count of the largest resolution. Default 4096.</summary>
    [JsonPropertyName("max_image_seq_len")] public int MaxImageSeqLen { get; init; } = 4096;

    /// <summary>Use 1 − σ (final σ 1). Default false.</summary>
    [JsonPropertyName("invert_sigmas")] public bool InvertSigmas { get; init; }

    /// <summary>Stretch the shifted σs so the last one equals this; null for none.</summary>
    [JsonPropertyName("shift_terminal")] public double? ShiftTerminal { get; init; }

    /// <summary>Karras σ spacing. Default false.</summary>
    [JsonPropertyName("use_karras_sigmas")] public bool UseKarrasSigmas { get; init; }

    /// <summary>Exponential σ spacing. Default false.</summary>
    [JsonPropertyName("use_exponential_sigmas")] public bool UseExponentialSigmas { get; init; }

    /// <summary>Beta σ spacing (not supported). Default false.</summary>
    [JsonPropertyName("use_beta_sigmas")] public bool UseBetaSigmas { get; init; }

    /// <summary>exponential or linear dynamic-shift law. Default exponential.</summary>
    [JsonPropertyName("time_shift_type")] public string TimeShiftType { get; init; } = "exponential";

    /// <summary>Re-noise x̂₀ to σ_next with fresh noise instead of the Euler step. Default false.</summary>
    [JsonPropertyName("stochastic_sampling")] public bool StochasticSampling { get; init; }

    /// <inheritdoc/>
    public override void Validate()
    {
        ConfigException.ThrowIfNot(NumTrainTimesteps >= 1, "num_train_timesteps", $"{NumTrainTimesteps} must be at least 1.");
        ConfigException.ThrowIfNot(Shift > 0, "shift", $"{ConfigChecks.F(Shift)} must be > 0.");
        ConfigChecks.OneOf("time_shift_type", TimeShiftType, ["exponential", "linear"]);
        ConfigException.ThrowIfNot(
            new[] { UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas }.Count(b => b) <= 1,
            "use_karras_sigmas", "only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas may be true.");
        if (UseBetaSigmas)
        {
            ConfigChecks.NotImplemented("use_beta_sigmas", "true", "beta σ spacing needs scipy's beta quantile function.");
        }

        if (ShiftTerminal is double st)
        {
            ConfigException.ThrowIfNot(st > 0 && st < 1, "shift_terminal", $"{ConfigChecks.F(st)} must lie in (0, 1).");
        }
    }
}

/// <summary>
/// Euler integration of a rectified-flow / flow-matching model (SD3, Vchitect-2.0), equal to diffusers'
/// <c>FlowMatchEulerDiscreteScheduler</c>: x_t = (1−σ)·x₀ + σ·ε, the model predicts u = ε − x₀, and
/// x ← x + (σ_next − σ)·u. Timesteps are σ·T as float32, given to the model as is.
/// </summary>
/// <remarks>
/// Note diffusers' double shift: the training σ grid is already shifted, and <see cref="SetTimesteps(int, Device?)"/>
/// shifts the linearly spaced σs again (shift 3 → last non-zero σ ≈ 0.0089). Keeps a step index: one instance per generation.
/// </remarks>
public sealed class FlowMatchEulerDiscreteScheduler : SchedulerBase
{
    /// <summary>The diffusers class name.</summary>
    public const string ClassName = "FlowMatchEulerDiscreteScheduler";

    private readonly FlowMatchEulerDiscreteSchedulerConfig _config;
    private readonly double _sigmaMin;
    private readonly double _sigmaMax;
    private float[] _sigmas = [];
    private Tensor? _sigmaTensor;

    /// <summary>Creates the scheduler.</summary>
    /// <param name="config">The config; null for diffusers' defaults.</param>
    /// <exception cref="ConfigException">A field is invalid.</exception>
    public FlowMatchEulerDiscreteScheduler(FlowMatchEulerDiscreteSchedulerConfig? config = null)
        : base(Validated(config ?? new FlowMatchEulerDiscreteSchedulerConfig()))
    {
        _config = (FlowMatchEulerDiscreteSchedulerConfig)Config;
        using var scope = NewDisposeScope();
        int t = _config.NumTrainTimesteps;
        var train = linspace(1, t, t, ScalarType.Float32).flip(0) / t;
        if (!_config.UseDynamicShifting)
        {
            train = _config.Shift * train / (1 + ((_config.Shift - 1) * train));
        }

        _sigmaMax = train[0].item<float>();
        _sigmaMin = train[-1].item<float>();
    }

    /// <summary>The typed config.</summary>
    public FlowMatchEulerDiscreteSchedulerConfig TypedConfig => _config;

    /// <inheritdoc/>
    public override Tensor? Sigmas => _sigmaTensor;

    /// <inheritdoc/>
    public override IScheduler Clone() => new FlowMatchEulerDiscreteScheduler(_config);

    /// <summary>
    /// μ for dynamic shifting from the image token count: linear between (base_image_seq_len, base_shift) and
    /// (max_image_seq_len, max_shift), as the diffusers pipelines' <c>calculate_shift</c>.
    /// </summary>
    /// <param name="imageSeqLen">Number of latent tokens (patches) of one frame.</param>
    public double CalculateShift(int imageSeqLen)
    {
        double baseShift = _config.BaseShift ?? 0.5;
        double maxShift = _config.MaxShift ?? 1.15;
        double m = (maxShift - baseShift) / (_config.MaxImageSeqLen - _config.BaseImageSeqLen);
        double b = baseShift - (m * _config.BaseImageSeqLen);
        return (imageSeqLen * m) + b;
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException"><c>use_dynamic_shifting</c> is set: use the overload with μ.</exception>
    public override void SetTimesteps(int numInferenceSteps, Device? device = null)
    {
        if (_config.UseDynamicShifting)
        {
            throw new InvalidOperationException($"{ClassName}: use_dynamic_shifting is true; call SetTimesteps(steps, mu) (see CalculateShift).");
        }

        Build(numInferenceSteps, 0, device);
    }

    /// <summary>Sets the schedule with dynamic shifting parameter μ (ignored unless <c>use_dynamic_shifting</c>).</summary>
    /// <param name="numInferenceSteps">Number of steps, 1 … T.</param>
    /// <param name="mu">μ: exponential law e^μ/(e^μ + (1/σ − 1)), linear law μ/(μ + (1/σ − 1)).</param>
    /// <param name="device">Device of the timesteps; null for CPU.</param>
    public void SetTimesteps(int numInferenceSteps, double mu, Device? device = null) => Build(numInferenceSteps, mu, device);

    private void Build(int n, double mu, Device? device)
    {
        CheckStepCount(n, _config.NumTrainTimesteps);
        int tTrain = _config.NumTrainTimesteps;
        double[] sigmas = ScheduleMath.NumpyLinspace(_sigmaMax * tTrain, _sigmaMin * tTrain, n).Select(v => v / tTrain).ToArray();
        if (_config.UseDynamicShifting)
        {
            sigmas = _config.TimeShiftType == "exponential"
                ? sigmas.Select(s => Math.Exp(mu) / (Math.Exp(mu) + Math.Pow((1 / s) - 1, 1.0))).ToArray()
                : sigmas.Select(s => mu / (mu + Math.Pow((1 / s) - 1, 1.0))).ToArray();
        }
        else
        {
            double shift = _config.Shift;
            sigmas = sigmas.Select(s => shift * s / (1 + ((shift - 1) * s))).ToArray();
        }

        if (_config.ShiftTerminal is double terminal)
        {
            double scale = (1 - sigmas[^1]) / (1 - terminal);
            sigmas = sigmas.Select(s => 1 - ((1 - s) / scale)).ToArray();
        }

        if (_config.UseKarrasSigmas)
        {
            sigmas = ScheduleMath.KarrasSigmas(sigmas[^1], sigmas[0], n);
        }
        else if (_config.UseExponentialSigmas)
        {
            sigmas = ScheduleMath.ExponentialSigmas(sigmas[^1], sigmas[0], n);
        }

        float[] s32 = sigmas.Select(s => (float)s).ToArray();
        if (_config.InvertSigmas)
        {
            s32 = s32.Select(s => 1f - s).ToArray();
        }

        double[] timesteps = s32.Select(s => (double)(s * tTrain)).ToArray();
        _sigmas = [.. s32, _config.InvertSigmas ? 1f : 0f];
        _sigmaTensor?.Dispose();
        _sigmaTensor = tensor(_sigmas, ScalarType.Float32).DetachFromDisposeScope();
        SetSchedule(timesteps, n, ScalarType.Float32, device);
    }

    /// <inheritdoc/>
    /// <remarks><see cref="SchedulerOutput.PredOriginalSample"/> is x − σ·u. <paramref name="varianceNoise"/> is used only with <c>stochastic_sampling</c>.</remarks>
    public override SchedulerOutput Step(Tensor modelOutput, Tensor timestep, Tensor sample, Generator? generator = null, Tensor? varianceNoise = null)
    {
        ScheduleMath.CheckStepInputs(modelOutput, sample, false, ClassName);
        int index = EnsureStepIndex(timestep);
        using var scope = NewDisposeScope();
        var x = sample.to_type(ScalarType.Float32);
        float sigma = _sigmas[index];
        float sigmaNext = _sigmas[index + 1];
        var x0 = x - (modelOutput * sigma);
        Tensor prev;
        if (_config.StochasticSampling)
        {
            var noise = varianceNoise ?? ScheduleMath.Randn(sample.shape, ScalarType.Float32, sample.device, generator);
            prev = (x0 * (1f - sigmaNext)) + (noise * sigmaNext);
        }
        else
        {
            prev = x + (modelOutput * (sigmaNext - sigma));
        }

        prev = prev.to_type(modelOutput.dtype);
        StepIndex = index + 1;
        return new SchedulerOutput(prev.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    /// <remarks>diffusers' <c>scale_noise</c>: σ·ε + (1−σ)·x₀, σ looked up by timestep in the current schedule.</remarks>
    public override Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps)
    {
        ArgumentNullException.ThrowIfNull(originalSamples);
        ArgumentNullException.ThrowIfNull(noise);
        ArgumentNullException.ThrowIfNull(timesteps);
        using var scope = NewDisposeScope();
        double[] ts = timesteps.to_type(ScalarType.Float64).cpu().flatten().data<double>().ToArray();
        var sigma = ScheduleMath.Broadcastable(
            tensor(ts.Select(t => _sigmas[IndexForTimestep((float)t)]).ToArray()).to(originalSamples.dtype, originalSamples.device), originalSamples.dim());
        return ((sigma * noise) + ((1.0 - sigma) * originalSamples)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    /// <remarks>For flow matching the training target is the flow u = ε − x₀ (timesteps are not needed).</remarks>
    public override Tensor GetVelocity(Tensor sample, Tensor noise, Tensor timesteps)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(noise);
        return noise - sample;
    }

    private static FlowMatchEulerDiscreteSchedulerConfig Validated(FlowMatchEulerDiscreteSchedulerConfig c)
    {
        c.Validate();
        return c;
    }
}
