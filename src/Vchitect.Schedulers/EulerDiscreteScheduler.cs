using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>Config of <see cref="EulerDiscreteScheduler"/> (diffusers <c>EulerDiscreteScheduler</c>); defaults are diffusers'.</summary>
public sealed record EulerDiscreteSchedulerConfig : DiffusersConfig
{
    /// <summary>T. Default 1000.</summary>
    [JsonPropertyName("num_train_timesteps")] public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary>First β. Default 0.0001.</summary>
    [JsonPropertyName("beta_start")] public double BetaStart { get; init; } = 0.0001;

    /// <summary>Last β. Default 0.02.</summary>
    [JsonPropertyName("beta_end")] public double BetaEnd { get; init; } = 0.02;

    /// <summary>linear, scaled_linear or squaredcos_cap_v2. Default linear.</summary>
    [JsonPropertyName("beta_schedule")] public string BetaSchedule { get; init; } = "linear";

    /// <summary>Explicit βs (length T); null for none.</summary>
    [JsonPropertyName("trained_betas")] public IReadOnlyList<float>? TrainedBetas { get; init; }

    /// <summary>epsilon, v_prediction or sample. Default epsilon.</summary>
    [JsonPropertyName("prediction_type")] public string PredictionType { get; init; } = "epsilon";

    /// <summary>σ interpolation between training timesteps: linear (log_linear is not supported). Default linear.</summary>
    [JsonPropertyName("interpolation_type")] public string InterpolationType { get; init; } = "linear";

    /// <summary>Karras σ spacing (ρ = 7). Default false.</summary>
    [JsonPropertyName("use_karras_sigmas")] public bool? UseKarrasSigmas { get; init; } = false;

    /// <summary>Exponential σ spacing. Default false.</summary>
    [JsonPropertyName("use_exponential_sigmas")] public bool? UseExponentialSigmas { get; init; } = false;

    /// <summary>Beta-distribution σ spacing (not supported: needs the beta quantile function). Default false.</summary>
    [JsonPropertyName("use_beta_sigmas")] public bool? UseBetaSigmas { get; init; } = false;

    /// <summary>Lower σ for Karras/exponential spacing; null takes the schedule's.</summary>
    [JsonPropertyName("sigma_min")] public double? SigmaMin { get; init; }

    /// <summary>Upper σ for Karras/exponential spacing; null takes the schedule's.</summary>
    [JsonPropertyName("sigma_max")] public double? SigmaMax { get; init; }

    /// <summary>leading, trailing or linspace. Default linspace.</summary>
    [JsonPropertyName("timestep_spacing")] public string TimestepSpacing { get; init; } = "linspace";

    /// <summary>discrete, or continuous (model gets 0.25·ln σ; only with v_prediction). Default discrete.</summary>
    [JsonPropertyName("timestep_type")] public string TimestepType { get; init; } = "discrete";

    /// <summary>Added to leading timesteps. Default 0.</summary>
    [JsonPropertyName("steps_offset")] public int StepsOffset { get; init; }

    /// <summary>Rescale βs to zero terminal SNR. Default false.</summary>
    [JsonPropertyName("rescale_betas_zero_snr")] public bool RescaleBetasZeroSnr { get; init; }

    /// <summary>zero or sigma_min: the σ after the last step. Default zero.</summary>
    [JsonPropertyName("final_sigmas_type")] public string FinalSigmasType { get; init; } = "zero";

    /// <inheritdoc/>
    public override void Validate()
    {
        ConfigChecks.Common(NumTrainTimesteps, BetaStart, BetaEnd, BetaSchedule, TrainedBetas, StepsOffset);
        ConfigChecks.OneOf("prediction_type", PredictionType, SchedulerOptions.PredictionTypes);
        ConfigChecks.OneOf("interpolation_type", InterpolationType, ["linear", "log_linear"]);
        if (InterpolationType == "log_linear")
        {
            ConfigChecks.NotImplemented("interpolation_type", InterpolationType, "only linear interpolation is implemented.");
        }

        ConfigChecks.OneOf("timestep_spacing", TimestepSpacing, SchedulerOptions.TimestepSpacings);
        ConfigChecks.OneOf("timestep_type", TimestepType, ["discrete", "continuous"]);
        ConfigChecks.OneOf("final_sigmas_type", FinalSigmasType, ["zero", "sigma_min"]);
        ConfigException.ThrowIfNot(
            new[] { UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas }.Count(b => b == true) <= 1,
            "use_karras_sigmas", "only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas may be true.");
        if (UseBetaSigmas == true)
        {
            ConfigChecks.NotImplemented("use_beta_sigmas", "true", "beta σ spacing needs scipy's beta quantile function.");
        }
    }
}

/// <summary>
/// Euler method on the probability-flow ODE in σ-space (Karras et al. 2022, Algorithm 2), equal to diffusers'
/// <c>EulerDiscreteScheduler</c>: x̂₀ from the model, d = (x − x̂₀)/σ, x ← x + (σ_next − σ)·d.
/// </summary>
/// <remarks>Call <see cref="IScheduler.ScaleModelInput"/> before the model; start from noise × <see cref="IScheduler.InitNoiseSigma"/>.
/// Keeps a step index: one instance per generation. Churn options (<see cref="SChurn"/> …) are per-run and default off.</remarks>
public sealed class EulerDiscreteScheduler : SigmaSchedulerBase
{
    /// <summary>The diffusers class name.</summary>
    public const string ClassName = "EulerDiscreteScheduler";

    private readonly EulerDiscreteSchedulerConfig _config;

    /// <summary>Creates the scheduler.</summary>
    /// <param name="config">The config; null for diffusers' defaults.</param>
    /// <exception cref="ConfigException">A field is invalid.</exception>
    /// <exception cref="NotSupportedException">An option this library does not implement.</exception>
    public EulerDiscreteScheduler(EulerDiscreteSchedulerConfig? config = null)
        : this(Validated(config ?? new EulerDiscreteSchedulerConfig()), 0)
    {
    }

    private EulerDiscreteScheduler(EulerDiscreteSchedulerConfig c, int _)
        : base(c, c.NumTrainTimesteps, c.BetaStart, c.BetaEnd, c.BetaSchedule, c.TrainedBetas, c.RescaleBetasZeroSnr) => _config = c;

    /// <summary>The typed config.</summary>
    public EulerDiscreteSchedulerConfig TypedConfig => _config;

    /// <summary>Stochastic churn γ-total (0 = deterministic). Default 0.</summary>
    public float SChurn { get; set; }

    /// <summary>Churn is applied only for σ in [<see cref="STmin"/>, <see cref="STmax"/>]. Default 0.</summary>
    public float STmin { get; set; }

    /// <summary>Upper σ bound for churn. Default +∞.</summary>
    public float STmax { get; set; } = float.PositiveInfinity;

    /// <summary>Scale of the churn noise. Default 1.</summary>
    public float SNoise { get; set; } = 1f;

    /// <inheritdoc/>
    public override IScheduler Clone() => new EulerDiscreteScheduler(_config) { SChurn = SChurn, STmin = STmin, STmax = STmax, SNoise = SNoise };

    /// <inheritdoc/>
    public override void SetTimesteps(int numInferenceSteps, Device? device = null)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        double[] timesteps = Float32Timesteps(_config.TimestepSpacing, numInferenceSteps, _config.StepsOffset);
        double[] sigmas = ScheduleMath.InterpOnIndex(timesteps, FullSigmas);
        double[] logSigmas = FullSigmas.Select(s => (double)MathF.Log(s)).ToArray();
        if (_config.UseKarrasSigmas == true || _config.UseExponentialSigmas == true)
        {
            double min = _config.SigmaMin ?? sigmas[^1];
            double max = _config.SigmaMax ?? sigmas[0];
            sigmas = _config.UseKarrasSigmas == true
                ? ScheduleMath.KarrasSigmas(min, max, numInferenceSteps)
                : ScheduleMath.ExponentialSigmas(min, max, numInferenceSteps);
            timesteps = sigmas.Select(s => ScheduleMath.SigmaToT(s, logSigmas)).ToArray();
        }

        double last = _config.FinalSigmasType == "sigma_min" ? FullSigmas[0] : 0.0;
        double[] withFinal = [.. sigmas, last];
        if (_config.TimestepType == "continuous" && _config.PredictionType == "v_prediction")
        {
            timesteps = withFinal[..^1].Select(s => (double)(0.25f * MathF.Log((float)s))).ToArray();
        }

        SetSigmaSchedule(timesteps.Select(t => (double)(float)t).ToArray(), withFinal, numInferenceSteps, _config.TimestepSpacing, device);
    }

    /// <inheritdoc/>
    /// <remarks><paramref name="varianceNoise"/> is the churn noise, used only when <see cref="SChurn"/> &gt; 0.</remarks>
    public override SchedulerOutput Step(Tensor modelOutput, Tensor timestep, Tensor sample, Generator? generator = null, Tensor? varianceNoise = null)
    {
        ScheduleMath.CheckStepInputs(modelOutput, sample, false, ClassName);
        int index = EnsureStepIndex(timestep);
        using var scope = NewDisposeScope();
        var x = sample.to_type(ScalarType.Float32);
        float sigma = HostSigmas[index];
        float gamma = STmin <= sigma && sigma <= STmax ? Math.Min(SChurn / (HostSigmas.Count - 1), MathF.Sqrt(2f) - 1f) : 0f;
        float sigmaHat = sigma * (gamma + 1);
        if (gamma > 0)
        {
            var noise = varianceNoise ?? ScheduleMath.Randn(modelOutput.shape, modelOutput.dtype, modelOutput.device, generator);
            x = x + (noise * SNoise * MathF.Sqrt((sigmaHat * sigmaHat) - (sigma * sigma)));
        }

        Tensor x0 = _config.PredictionType switch
        {
            "sample" => modelOutput.alias(),
            "epsilon" => x - (modelOutput * sigmaHat),
            _ => (modelOutput * (-sigma / MathF.Sqrt((sigma * sigma) + 1))) + (x / ((sigma * sigma) + 1)),
        };

        var derivative = (x - x0) / sigmaHat;
        float dt = HostSigmas[index + 1] - sigmaHat;
        var prev = (x + (derivative * dt)).to_type(modelOutput.dtype);
        StepIndex = index + 1;
        return new SchedulerOutput(prev.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }

    private static EulerDiscreteSchedulerConfig Validated(EulerDiscreteSchedulerConfig c)
    {
        c.Validate();
        return c;
    }
}
