using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>Config of <see cref="EulerAncestralDiscreteScheduler"/> (diffusers <c>EulerAncestralDiscreteScheduler</c>); defaults are diffusers'.</summary>
public sealed record EulerAncestralDiscreteSchedulerConfig : DiffusersConfig
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

    /// <summary>epsilon or v_prediction. Default epsilon.</summary>
    [JsonPropertyName("prediction_type")] public string PredictionType { get; init; } = "epsilon";

    /// <summary>leading, trailing or linspace. Default linspace.</summary>
    [JsonPropertyName("timestep_spacing")] public string TimestepSpacing { get; init; } = "linspace";

    /// <summary>Added to leading timesteps. Default 0.</summary>
    [JsonPropertyName("steps_offset")] public int StepsOffset { get; init; }

    /// <summary>Rescale βs to zero terminal SNR. Default false.</summary>
    [JsonPropertyName("rescale_betas_zero_snr")] public bool RescaleBetasZeroSnr { get; init; }

    /// <inheritdoc/>
    public override void Validate()
    {
        ConfigChecks.Common(NumTrainTimesteps, BetaStart, BetaEnd, BetaSchedule, TrainedBetas, StepsOffset);
        ConfigChecks.OneOf("prediction_type", PredictionType, SchedulerOptions.PredictionTypes);
        if (PredictionType == "sample")
        {
            ConfigChecks.NotImplemented("prediction_type", PredictionType, "diffusers' EulerAncestralDiscreteScheduler does not implement it either.");
        }

        ConfigChecks.OneOf("timestep_spacing", TimestepSpacing, SchedulerOptions.TimestepSpacings);
    }
}

/// <summary>
/// Ancestral Euler sampling (k-diffusion's <c>sample_euler_ancestral</c>), equal to diffusers'
/// <c>EulerAncestralDiscreteScheduler</c>: an Euler step to σ_down, then fresh noise of std σ_up.
/// </summary>
/// <remarks>Draws noise at every step (from the generator, or <c>varianceNoise</c>). One instance per generation.</remarks>
public sealed class EulerAncestralDiscreteScheduler : SigmaSchedulerBase
{
    /// <summary>The diffusers class name.</summary>
    public const string ClassName = "EulerAncestralDiscreteScheduler";

    private readonly EulerAncestralDiscreteSchedulerConfig _config;

    /// <summary>Creates the scheduler.</summary>
    /// <param name="config">The config; null for diffusers' defaults.</param>
    /// <exception cref="ConfigException">A field is invalid.</exception>
    public EulerAncestralDiscreteScheduler(EulerAncestralDiscreteSchedulerConfig? config = null)
        : this(Validated(config ?? new EulerAncestralDiscreteSchedulerConfig()), 0)
    {
    }

    private EulerAncestralDiscreteScheduler(EulerAncestralDiscreteSchedulerConfig c, int _)
        : base(c, c.NumTrainTimesteps, c.BetaStart, c.BetaEnd, c.BetaSchedule, c.TrainedBetas, c.RescaleBetasZeroSnr) => _config = c;

    /// <summary>The typed config.</summary>
    public EulerAncestralDiscreteSchedulerConfig TypedConfig => _config;

    /// <inheritdoc/>
    public override IScheduler Clone() => new EulerAncestralDiscreteScheduler(_config);

    /// <inheritdoc/>
    public override void SetTimesteps(int numInferenceSteps, Device? device = null)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        double[] timesteps = Float32Timesteps(_config.TimestepSpacing, numInferenceSteps, _config.StepsOffset);
        double[] sigmas = ScheduleMath.InterpOnIndex(timesteps, FullSigmas);
        SetSigmaSchedule(timesteps, [.. sigmas, 0.0], numInferenceSteps, _config.TimestepSpacing, device);
    }

    /// <inheritdoc/>
    public override SchedulerOutput Step(Tensor modelOutput, Tensor timestep, Tensor sample, Generator? generator = null, Tensor? varianceNoise = null)
    {
        ScheduleMath.CheckStepInputs(modelOutput, sample, false, ClassName);
        int index = EnsureStepIndex(timestep);
        using var scope = NewDisposeScope();
        float sigma = HostSigmas[index];
        var x = sample.to_type(ScalarType.Float32);
        var x0 = _config.PredictionType == "epsilon"
            ? x - (modelOutput * sigma)
            : (modelOutput * (-sigma / MathF.Sqrt((sigma * sigma) + 1))) + (x / ((sigma * sigma) + 1));
        float sigmaTo = HostSigmas[index + 1];
        float sigmaUp = MathF.Sqrt(sigmaTo * sigmaTo * ((sigma * sigma) - (sigmaTo * sigmaTo)) / (sigma * sigma));
        float sigmaDown = MathF.Sqrt((sigmaTo * sigmaTo) - (sigmaUp * sigmaUp));
        var derivative = (x - x0) / sigma;
        var prev = x + (derivative * (sigmaDown - sigma));
        var noise = varianceNoise ?? ScheduleMath.Randn(modelOutput.shape, modelOutput.dtype, modelOutput.device, generator);
        CheckSameShape(sample, noise, nameof(varianceNoise));
        prev = (prev + (noise * sigmaUp)).to_type(modelOutput.dtype);
        StepIndex = index + 1;
        return new SchedulerOutput(prev.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }

    private static EulerAncestralDiscreteSchedulerConfig Validated(EulerAncestralDiscreteSchedulerConfig c)
    {
        c.Validate();
        return c;
    }
}
