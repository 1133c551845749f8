using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>Config of <see cref="DDPMScheduler"/> (diffusers <c>DDPMScheduler</c>); defaults are diffusers'.</summary>
public sealed record DDPMSchedulerConfig : DiffusersConfig
{
    /// <summary>T, the number of training timesteps. Default 1000.</summary>
    [JsonPropertyName("num_train_timesteps")] public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary>First β of the linear / scaled_linear schedule. Default 0.0001.</summary>
    [JsonPropertyName("beta_start")] public double BetaStart { get; init; } = 0.0001;

    /// <summary>Last β. Default 0.02.</summary>
    [JsonPropertyName("beta_end")] public double BetaEnd { get; init; } = 0.02;

    /// <summary>linear, scaled_linear, squaredcos_cap_v2 or sigmoid. Default linear.</summary>
    [JsonPropertyName("beta_schedule")] public string BetaSchedule { get; init; } = "linear";

    /// <summary>Explicit βs (length T) overriding the schedule; null for none.</summary>
    [JsonPropertyName("trained_betas")] public IReadOnlyList<float>? TrainedBetas { get; init; }

    /// <summary>fixed_small, fixed_small_log, fixed_large, learned or learned_range. Default fixed_small.</summary>
    [JsonPropertyName("variance_type")] public string VarianceType { get; init; } = "fixed_small";

    /// <summary>Clamp x̂₀ to ±<see cref="ClipSampleRange"/>. Default true (SD-style configs set false).</summary>
    [JsonPropertyName("clip_sample")] public bool ClipSample { get; init; } = true;

    /// <summary>epsilon, v_prediction or sample. Default epsilon.</summary>
    [JsonPropertyName("prediction_type")] public string PredictionType { get; init; } = "epsilon";

    /// <summary>Dynamic thresholding of x̂₀ (takes precedence over clipping). Default false.</summary>
    [JsonPropertyName("thresholding")] public bool Thresholding { get; init; }

    /// <summary>Quantile of |x̂₀| used by thresholding. Default 0.995.</summary>
    [JsonPropertyName("dynamic_thresholding_ratio")] public double DynamicThresholdingRatio { get; init; } = 0.995;

    /// <summary>Clip range. Default 1.</summary>
    [JsonPropertyName("clip_sample_range")] public double ClipSampleRange { get; init; } = 1.0;

    /// <summary>Upper bound of the threshold s. Default 1.</summary>
    [JsonPropertyName("sample_max_value")] public double SampleMaxValue { get; init; } = 1.0;

    /// <summary>leading, trailing or linspace. Default leading.</summary>
    [JsonPropertyName("timestep_spacing")] public string TimestepSpacing { get; init; } = "leading";

    /// <summary>Added to leading timesteps. Default 0. (diffusers ≤ 0.16 ignored it for DDPM: see <see cref="AsDiffusers016"/>.)</summary>
    [JsonPropertyName("steps_offset")] public int StepsOffset { get; init; }

    /// <summary>Rescale βs to zero terminal SNR. Default false.</summary>
    [JsonPropertyName("rescale_betas_zero_snr")] public bool RescaleBetasZeroSnr { get; init; }

    /// <summary>The valid variance types.</summary>
    public static readonly IReadOnlyList<string> VarianceTypes = ["fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log", "learned", "learned_range"];

    /// <summary>
    /// This config as diffusers 0.16 (the version LaVie pins) ran it: its DDPMScheduler had no <c>steps_offset</c>
    /// (timesteps 980 … 0 for 50 steps even with SD's <c>steps_offset: 1</c>), so the offset is set to 0.
    /// </summary>
    public DDPMSchedulerConfig AsDiffusers016() => this with { StepsOffset = 0 };

    /// <inheritdoc/>
    public override void Validate()
    {
        ConfigChecks.Common(NumTrainTimesteps, BetaStart, BetaEnd, BetaSchedule, TrainedBetas, StepsOffset, ["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"]);
        ConfigChecks.OneOf("variance_type", VarianceType, VarianceTypes);
        if (VarianceType == "fixed_large_log")
        {
            ConfigChecks.NotImplemented("variance_type", VarianceType, "diffusers takes the square root of log β here, which is NaN; use fixed_large.");
        }

        ConfigChecks.OneOf("prediction_type", PredictionType, SchedulerOptions.PredictionTypes);
        ConfigChecks.OneOf("timestep_spacing", TimestepSpacing, SchedulerOptions.TimestepSpacings);
        ConfigChecks.Thresholding(Thresholding, DynamicThresholdingRatio, SampleMaxValue, ClipSampleRange);
    }
}

/// <summary>
/// Denoising diffusion probabilistic models (Ho et al. 2020), equal to diffusers' <c>DDPMScheduler</c>:
/// ancestral sampling from the posterior q(x_{t−1} | x_t, x̂₀) with β'_t = 1 − ᾱ_t/ᾱ_prev between scheduled steps.
/// </summary>
/// <remarks>Stateless between steps (the previous timestep is the next entry of <see cref="IScheduler.Timesteps"/>), so
/// single steps may be taken in any order. Noise is drawn only where t &gt; 0.</remarks>
public sealed class DDPMScheduler : VpSchedulerBase
{
    /// <summary>The diffusers class name, <c>DDPMScheduler</c>.</summary>
    public const string ClassName = "DDPMScheduler";

    private readonly DDPMSchedulerConfig _config;

    /// <summary>Creates the scheduler.</summary>
    /// <param name="config">The config; null for diffusers' defaults.</param>
    /// <exception cref="ConfigException">A field is invalid.</exception>
    /// <exception cref="NotSupportedException">A valid option this library does not implement.</exception>
    public DDPMScheduler(DDPMSchedulerConfig? config = null)
        : this(Validated(config ?? new DDPMSchedulerConfig()), 0)
    {
    }

    private DDPMScheduler(DDPMSchedulerConfig c, int _)
        : base(c, c.NumTrainTimesteps, c.BetaStart, c.BetaEnd, c.BetaSchedule, c.TrainedBetas, c.RescaleBetasZeroSnr) => _config = c;

    /// <summary>The typed config.</summary>
    public DDPMSchedulerConfig TypedConfig => _config;

    /// <inheritdoc/>
    public override IScheduler Clone() => new DDPMScheduler(_config);

    /// <inheritdoc/>
    public override void SetTimesteps(int numInferenceSteps, Device? device = null)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        double[] t = ScheduleMath.SpacedTimesteps(_config.TimestepSpacing, NumTrainTimesteps, numInferenceSteps, _config.StepsOffset);
        if (t[0] >= NumTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), $"{ClassName}: steps_offset {_config.StepsOffset} pushes the first timestep to {t[0]} ≥ num_train_timesteps {NumTrainTimesteps}.");
        }

        SetSchedule(t, numInferenceSteps, ScalarType.Int64, device);
    }

    /// <inheritdoc/>
    /// <remarks><paramref name="varianceNoise"/>, when given, is the z of x_{t−1} = μ + σ·z (ignored at t = 0).</remarks>
    public override SchedulerOutput Step(Tensor modelOutput, Tensor timestep, Tensor sample, Generator? generator = null, Tensor? varianceNoise = null)
    {
        bool learned = _config.VarianceType is "learned" or "learned_range";
        ScheduleMath.CheckStepInputs(modelOutput, sample, learned, ClassName);
        int index = IndexForTimestep(ScheduleMath.Scalar(timestep));
        long t = (long)HostTimesteps[index];
        long prevT = index == HostTimesteps.Count - 1 ? -1 : (long)HostTimesteps[index + 1];

        using var scope = NewDisposeScope();
        Tensor? predictedVariance = null;
        if (learned && modelOutput.shape[1] == 2 * sample.shape[1])
        {
            var parts = modelOutput.split(sample.shape[1], 1);
            modelOutput = parts[0];
            predictedVariance = parts[1];
        }

        float alphaProdT = AlphaCumprodAt(t, 1f);
        float alphaProdPrev = AlphaCumprodAt(prevT, 1f);
        float betaProdT = 1f - alphaProdT;
        float betaProdPrev = 1f - alphaProdPrev;
        float currentAlpha = alphaProdT / alphaProdPrev;
        float currentBeta = 1f - currentAlpha;

        var x0 = ScheduleMath.PredictOriginal(_config.PredictionType, modelOutput, sample, MathF.Sqrt(alphaProdT), MathF.Sqrt(betaProdT));
        if (_config.Thresholding)
        {
            x0 = ScheduleMath.Threshold(x0, _config.DynamicThresholdingRatio, _config.SampleMaxValue);
        }
        else if (_config.ClipSample)
        {
            x0 = x0.clamp(-_config.ClipSampleRange, _config.ClipSampleRange);
        }

        float x0Coeff = MathF.Sqrt(alphaProdPrev) * currentBeta / betaProdT;
        float sampleCoeff = MathF.Sqrt(currentAlpha) * betaProdPrev / betaProdT;
        var prev = (x0 * x0Coeff) + (sample * sampleCoeff);

        if (t > 0)
        {
            var noise = varianceNoise ?? ScheduleMath.Randn(modelOutput.shape, modelOutput.dtype, modelOutput.device, generator);
            CheckSameShape(sample, noise, nameof(varianceNoise));
            float variance = Math.Max(betaProdPrev / betaProdT * currentBeta, 1e-20f);
            Tensor std = _config.VarianceType switch
            {
                "fixed_small" => tensor(MathF.Sqrt(variance)),
                "fixed_small_log" => tensor(MathF.Exp(0.5f * MathF.Log(variance))),
                "fixed_large" => tensor(MathF.Sqrt(currentBeta)),
                "learned" => (predictedVariance ?? throw LearnedNeedsChannels()).pow(0.5),
                "learned_range" => ((((predictedVariance ?? throw LearnedNeedsChannels()) + 1) / 2 * MathF.Log(currentBeta)) + ((1 - ((predictedVariance + 1) / 2)) * MathF.Log(variance))).mul(0.5).exp(),
                _ => throw new NotSupportedException($"variance_type '{_config.VarianceType}'."),
            };
            prev = prev + (std.to(noise.dtype, noise.device) * noise);
        }

        return new SchedulerOutput(prev.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }

    private static ArgumentException LearnedNeedsChannels() =>
        new($"{ClassName}: variance_type learned/learned_range needs a model output with twice the sample's channels.", "modelOutput");

    private static DDPMSchedulerConfig Validated(DDPMSchedulerConfig c)
    {
        c.Validate();
        return c;
    }
}
