using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>Config of <see cref="DDIMScheduler"/> (diffusers <c>DDIMScheduler</c>); defaults are diffusers'.</summary>
public sealed record DDIMSchedulerConfig : DiffusersConfig
{
    /// <summary>T, the number of training timesteps. Default 1000.</summary>
    [JsonPropertyName("num_train_timesteps")] public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary>First β. Default 0.0001.</summary>
    [JsonPropertyName("beta_start")] public double BetaStart { get; init; } = 0.0001;

    /// <summary>Last β. Default 0.02.</summary>
    [JsonPropertyName("beta_end")] public double BetaEnd { get; init; } = 0.02;

    /// <summary>linear, scaled_linear or squaredcos_cap_v2. Default linear.</summary>
    [JsonPropertyName("beta_schedule")] public string BetaSchedule { get; init; } = "linear";

    /// <summary>Explicit βs (length T); null for none.</summary>
    [JsonPropertyName("trained_betas")] public IReadOnlyList<float>? TrainedBetas { get; init; }

    /// <summary>Clamp x̂₀ to ±<see cref="ClipSampleRange"/>. Default true.</summary>
    [JsonPropertyName("clip_sample")] public bool ClipSample { get; init; } = true;

    /// <summary>ᾱ before the first training step: 1 when true, else ᾱ_0. Default true.</summary>
    [JsonPropertyName("set_alpha_to_one")] public bool SetAlphaToOne { get; init; } = true;

    /// <summary>Added to leading timesteps. Default 0 (SD configs: 1).</summary>
    [JsonPropertyName("steps_offset")] public int StepsOffset { get; init; }

    /// <summary>epsilon, v_prediction or sample. Default epsilon.</summary>
    [JsonPropertyName("prediction_type")] public string PredictionType { get; init; } = "epsilon";

    /// <summary>Dynamic thresholding of x̂₀. Default false.</summary>
    [JsonPropertyName("thresholding")] public bool Thresholding { get; init; }

    /// <summary>Quantile of |x̂₀| for thresholding. Default 0.995.</summary>
    [JsonPropertyName("dynamic_thresholding_ratio")] public double DynamicThresholdingRatio { get; init; } = 0.995;

    /// <summary>Clip range. Default 1.</summary>
    [JsonPropertyName("clip_sample_range")] public double ClipSampleRange { get; init; } = 1.0;

    /// <summary>Upper bound of the threshold. Default 1.</summary>
    [JsonPropertyName("sample_max_value")] public double SampleMaxValue { get; init; } = 1.0;

    /// <summary>leading, trailing or linspace. Default leading.</summary>
    [JsonPropertyName("timestep_spacing")] public string TimestepSpacing { get; init; } = "leading";

    /// <summary>Rescale βs to zero terminal SNR. Default false.</summary>
    [JsonPropertyName("rescale_betas_zero_snr")] public bool RescaleBetasZeroSnr { get; init; }

    /// <inheritdoc/>
    public override void Validate()
    {
        ConfigChecks.Common(NumTrainTimesteps, BetaStart, BetaEnd, BetaSchedule, TrainedBetas, StepsOffset);
        ConfigChecks.OneOf("prediction_type", PredictionType, SchedulerOptions.PredictionTypes);
        ConfigChecks.OneOf("timestep_spacing", TimestepSpacing, SchedulerOptions.TimestepSpacings);
        ConfigChecks.Thresholding(Thresholding, DynamicThresholdingRatio, SampleMaxValue, ClipSampleRange);
    }
}

/// <summary>
/// Denoising diffusion implicit models (Song et al. 2021), equal to diffusers' <c>DDIMScheduler</c>:
/// x_{t−1} = √ᾱ_prev·x̂₀ + √(1−ᾱ_prev−σ²)·ε̂ + σ·z with σ = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1−ᾱ_t/ᾱ_prev)) and prev = t − T/N.
/// </summary>
/// <remarks>η (<see cref="Eta"/>, default 0 = deterministic) is a per-run option, as in diffusers' <c>step(eta=…)</c>.
/// Stateless between steps; noise is drawn only when η &gt; 0.</remarks>
public sealed class DDIMScheduler : VpSchedulerBase
{
    /// <summary>The diffusers class name, <c>DDIMScheduler</c>.</summary>
    public const string ClassName = "DDIMScheduler";

    private readonly DDIMSchedulerConfig _config;
    private readonly float _finalAlphaCumprod;

    /// <summary>Creates the scheduler.</summary>
    /// <param name="config">The config; null for diffusers' defaults.</param>
    /// <exception cref="ConfigException">A field is invalid.</exception>
    public DDIMScheduler(DDIMSchedulerConfig? config = null)
        : this(Validated(config ?? new DDIMSchedulerConfig()), 0)
    {
    }

    private DDIMScheduler(DDIMSchedulerConfig c, int _)
        : base(c, c.NumTrainTimesteps, c.BetaStart, c.BetaEnd, c.BetaSchedule, c.TrainedBetas, c.RescaleBetasZeroSnr)
    {
        _config = c;
        _finalAlphaCumprod = c.SetAlphaToOne ? 1f : AlphasCumprodHost[0];
    }

    /// <summary>The typed config.</summary>
    public DDIMSchedulerConfig TypedConfig => _config;

    /// <summary>η: 0 gives deterministic DDIM, 1 gives DDPM-like noise. Default 0. Must be ≥ 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative or NaN.</exception>
    public float Eta
    {
        get;
        set => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "DDIM eta must be ≥ 0.");
    }

    /// <summary>Recompute ε̂ from the clipped x̂₀ (diffusers' <c>use_clipped_model_output</c>). Default false.</summary>
    public bool UseClippedModelOutput { get; set; }

    /// <inheritdoc/>
    public override IScheduler Clone() => new DDIMScheduler(_config) { Eta = Eta, UseClippedModelOutput = UseClippedModelOutput };

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
    /// <remarks><paramref name="varianceNoise"/> is diffusers' <c>variance_noise</c>: the z of σ·z, used when η &gt; 0.</remarks>
    public override SchedulerOutput Step(Tensor modelOutput, Tensor timestep, Tensor sample, Generator? generator = null, Tensor? varianceNoise = null)
    {
        ScheduleMath.CheckStepInputs(modelOutput, sample, false, ClassName);
        int index = IndexForTimestep(ScheduleMath.Scalar(timestep));
        long t = (long)HostTimesteps[index];
        long prevT = t - (NumTrainTimesteps / NumInferenceSteps);

        using var scope = NewDisposeScope();
        float alphaProdT = AlphaCumprodAt(t, 1f);
        float alphaProdPrev = AlphaCumprodAt(prevT, _finalAlphaCumprod);
        float betaProdT = 1f - alphaProdT;
        float sqrtAlpha = MathF.Sqrt(alphaProdT);
        float sqrtBeta = MathF.Sqrt(betaProdT);

        Tensor x0;
        Tensor eps;
        switch (_config.PredictionType)
        {
            case "epsilon":
                x0 = (sample - (modelOutput * sqrtBeta)) / sqrtAlpha;
                eps = modelOutput.alias();
                break;
            case "sample":
                x0 = modelOutput.alias();
                eps = (sample - (x0 * sqrtAlpha)) / sqrtBeta;
                break;
            default:
                x0 = (sample * sqrtAlpha) - (modelOutput * sqrtBeta);
                eps = (modelOutput * sqrtAlpha) + (sample * sqrtBeta);
                break;
        }

        if (_config.Thresholding)
        {
            x0 = ScheduleMath.Threshold(x0, _config.DynamicThresholdingRatio, _config.SampleMaxValue);
        }
        else if (_config.ClipSample)
        {
            x0 = x0.clamp(-_config.ClipSampleRange, _config.ClipSampleRange);
        }

        float betaProdPrev = 1f - alphaProdPrev;
        float variance = betaProdPrev / betaProdT * (1f - (alphaProdT / alphaProdPrev));
        float std = Eta * MathF.Sqrt(variance);
        if (UseClippedModelOutput)
        {
            eps = (sample - (x0 * sqrtAlpha)) / sqrtBeta;
        }

        var direction = eps * MathF.Sqrt(1f - alphaProdPrev - (std * std));
        var prev = (x0 * MathF.Sqrt(alphaProdPrev)) + direction;
        if (Eta > 0)
        {
            if (varianceNoise is not null && generator is not null)
            {
                throw new ArgumentException($"{ClassName}: pass either a generator or explicit variance noise, not both.", nameof(varianceNoise));
            }

            var noise = varianceNoise ?? ScheduleMath.Randn(modelOutput.shape, modelOutput.dtype, modelOutput.device, generator);
            CheckSameShape(sample, noise, nameof(varianceNoise));
            prev = prev + (noise * std);
        }

        return new SchedulerOutput(prev.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }

    private static DDIMSchedulerConfig Validated(DDIMSchedulerConfig c)
    {
        c.Validate();
        return c;
    }
}
