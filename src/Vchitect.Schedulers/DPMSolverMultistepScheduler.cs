using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>Config of <see cref="DPMSolverMultistepScheduler"/> (diffusers <c>DPMSolverMultistepScheduler</c>); defaults are diffusers'.</summary>
public sealed record DPMSolverMultistepSchedulerConfig : DiffusersConfig
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

    /// <summary>Multistep order 1, 2 or 3. Default 2.</summary>
    [JsonPropertyName("solver_order")] public int SolverOrder { get; init; } = 2;

    /// <summary>epsilon, v_prediction, sample or flow_prediction. Default epsilon.</summary>
    [JsonPropertyName("prediction_type")] public string PredictionType { get; init; } = "epsilon";

    /// <summary>Dynamic thresholding of x̂₀. Default false.</summary>
    [JsonPropertyName("thresholding")] public bool Thresholding { get; init; }

    /// <summary>Quantile for thresholding. Default 0.995.</summary>
    [JsonPropertyName("dynamic_thresholding_ratio")] public double DynamicThresholdingRatio { get; init; } = 0.995;

    /// <summary>Upper bound of the threshold. Default 1.</summary>
    [JsonPropertyName("sample_max_value")] public double SampleMaxValue { get; init; } = 1.0;

    /// <summary>dpmsolver++ or sde-dpmsolver++ (the deprecated dpmsolver / sde-dpmsolver are not supported). Default dpmsolver++.</summary>
    [JsonPropertyName("algorithm_type")] public string AlgorithmType { get; init; } = "dpmsolver++";

    /// <summary>midpoint or heun (second-order update). Default midpoint.</summary>
    [JsonPropertyName("solver_type")] public string SolverType { get; init; } = "midpoint";

    /// <summary>Use lower orders for the last steps when there are fewer than 15. Default true.</summary>
    [JsonPropertyName("lower_order_final")] public bool LowerOrderFinal { get; init; } = true;

    /// <summary>Use a first-order step at the end. Default false.</summary>
    [JsonPropertyName("euler_at_final")] public bool EulerAtFinal { get; init; }

    /// <summary>Karras σ spacing. Default false.</summary>
    [JsonPropertyName("use_karras_sigmas")] public bool? UseKarrasSigmas { get; init; } = false;

    /// <summary>Exponential σ spacing. Default false.</summary>
    [JsonPropertyName("use_exponential_sigmas")] public bool? UseExponentialSigmas { get; init; } = false;

    /// <summary>Beta σ spacing (not supported). Default false.</summary>
    [JsonPropertyName("use_beta_sigmas")] public bool? UseBetaSigmas { get; init; } = false;

    /// <summary>Uniform-λ spacing (not supported). Default false.</summary>
    [JsonPropertyName("use_lu_lambdas")] public bool? UseLuLambdas { get; init; } = false;

    /// <summary>Flow-matching σs (σ = shifted 1 − α). Default false.</summary>
    [JsonPropertyName("use_flow_sigmas")] public bool? UseFlowSigmas { get; init; } = false;

    /// <summary>Shift of the flow σs. Default 1.</summary>
    [JsonPropertyName("flow_shift")] public double? FlowShift { get; init; } = 1.0;

    /// <summary>zero or sigma_min. Default zero.</summary>
    [JsonPropertyName("final_sigmas_type")] public string FinalSigmasType { get; init; } = "zero";

    /// <summary>Clip λ(t) below this for numerical stability (cosine schedules). Default −∞ (written as null).</summary>
    [JsonPropertyName("lambda_min_clipped")] public double? LambdaMinClipped { get; init; }

    /// <summary>null, learned or learned_range: the model output carries variance channels, which are dropped. Default null.</summary>
    [JsonPropertyName("variance_type")] public string? VarianceType { get; init; }

    /// <summary>leading, trailing or linspace. Default linspace.</summary>
    [JsonPropertyName("timestep_spacing")] public string TimestepSpacing { get; init; } = "linspace";

    /// <summary>Added to leading timesteps. Default 0.</summary>
    [JsonPropertyName("steps_offset")] public int StepsOffset { get; init; }

    /// <summary>Rescale βs to zero terminal SNR. Default false.</summary>
    [JsonPropertyName("rescale_betas_zero_snr")] public bool RescaleBetasZeroSnr { get; init; }

    /// <summary>Dynamic shifting with μ (not supported). Default false.</summary>
    [JsonPropertyName("use_dynamic_shifting")] public bool UseDynamicShifting { get; init; }

    /// <inheritdoc/>
    public override void Validate()
    {
        ConfigChecks.Common(NumTrainTimesteps, BetaStart, BetaEnd, BetaSchedule, TrainedBetas, StepsOffset);
        ConfigException.ThrowIfNot(SolverOrder is >= 1 and <= 3, "solver_order", $"{SolverOrder} is not allowed; allowed: 1, 2, 3.");
        ConfigChecks.OneOf("prediction_type", PredictionType, ["epsilon", "v_prediction", "sample", "flow_prediction"]);
        ConfigChecks.OneOf("algorithm_type", AlgorithmType, ["dpmsolver++", "sde-dpmsolver++", "dpmsolver", "sde-dpmsolver"]);
        if (AlgorithmType is "dpmsolver" or "sde-dpmsolver")
        {
            ConfigChecks.NotImplemented("algorithm_type", AlgorithmType, "deprecated in diffusers; use dpmsolver++ or sde-dpmsolver++.");
        }

        ConfigChecks.OneOf("solver_type", SolverType, ["midpoint", "heun"]);
        ConfigChecks.OneOf("final_sigmas_type", FinalSigmasType, ["zero", "sigma_min"]);
        ConfigChecks.OneOf("timestep_spacing", TimestepSpacing, SchedulerOptions.TimestepSpacings);
        if (VarianceType is not null)
        {
            ConfigChecks.OneOf("variance_type", VarianceType, ["learned", "learned_range"]);
        }

        ConfigException.ThrowIfNot(
            new[] { UseKarrasSigmas, UseExponentialSigmas, UseBetaSigmas }.Count(b => b == true) <= 1,
            "use_karras_sigmas", "only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas may be true.");
        if (UseBetaSigmas == true)
        {
            ConfigChecks.NotImplemented("use_beta_sigmas", "true", "beta σ spacing needs scipy's beta quantile function.");
        }

        if (UseLuLambdas == true)
        {
            ConfigChecks.NotImplemented("use_lu_lambdas", "true", "uniform-λ spacing is not implemented.");
        }

        if (UseDynamicShifting)
        {
            ConfigChecks.NotImplemented("use_dynamic_shifting", "true", "set flow_shift instead.");
        }
    }
}

/// <summary>
/// DPM-Solver++ multistep (Lu et al. 2022), equal to diffusers' <c>DPMSolverMultistepScheduler</c> for
/// <c>dpmsolver++</c> and <c>sde-dpmsolver++</c>, orders 1–3: the model output is turned into x̂₀ and combined with
/// the previous ones in λ = ln(α/σ); the first step is first order, and <c>lower_order_final</c> lowers the order of the
/// last steps when N &lt; 15 (and always at the last step when the final σ is zero).
/// </summary>
/// <remarks>Keeps the last <c>solver_order</c> x̂₀ and a step index: one instance per generation. Timesteps are int64.</remarks>
public sealed class DPMSolverMultistepScheduler : VpSchedulerBase
{
    /// <summary>The diffusers class name.</summary>
    public const string ClassName = "DPMSolverMultistepScheduler";

    private readonly DPMSolverMultistepSchedulerConfig _config;
    private readonly Tensor?[] _modelOutputs;
    private float[] _sigmas = [];
    private Tensor? _sigmaTensor;
    private int _lowerOrderNums;

    /// <summary>Creates the scheduler.</summary>
    /// <param name="config">The config; null for diffusers' defaults.</param>
    /// <exception cref="ConfigException">A field is invalid.</exception>
    /// <exception cref="NotSupportedException">An option this library does not implement.</exception>
    public DPMSolverMultistepScheduler(DPMSolverMultistepSchedulerConfig? config = null)
        : this(Validated(config ?? new DPMSolverMultistepSchedulerConfig()), 0)
    {
    }

    private DPMSolverMultistepScheduler(DPMSolverMultistepSchedulerConfig c, int _)
        : base(c, c.NumTrainTimesteps, c.BetaStart, c.BetaEnd, c.BetaSchedule, c.TrainedBetas, c.RescaleBetasZeroSnr, clampTerminalAlpha: true)
    {
        _config = c;
        _modelOutputs = new Tensor?[c.SolverOrder];
    }

    /// <summary>The typed config.</summary>
    public DPMSolverMultistepSchedulerConfig TypedConfig => _config;

    /// <inheritdoc/>
    public override Tensor? Sigmas => _sigmaTensor;

    /// <inheritdoc/>
    public override IScheduler Clone() => new DPMSolverMultistepScheduler(_config);

    /// <inheritdoc/>
    public override void SetTimesteps(int numInferenceSteps, Device? device = null)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        int n = numInferenceSteps;
        int tTrain = NumTrainTimesteps;
        using var scope = NewDisposeScope();
        float[] full = ((1 - AlphasCumprod) / AlphasCumprod).pow(0.5).data<float>().ToArray();
        int lastTimestep = tTrain;
        if (_config.LambdaMinClipped is double clip && !double.IsNegativeInfinity(clip))
        {
            var alphaT = AlphasCumprod.sqrt();
            var lambdaT = alphaT.log() - (1 - AlphasCumprod).sqrt().log();
            long clipped = searchsorted(lambdaT.flip(0), tensor((float)clip)).item<long>();
            lastTimestep = tTrain - (int)clipped;
        }

        double[] timesteps = _config.TimestepSpacing switch
        {
            "linspace" => ScheduleMath.NumpyLinspace(0, lastTimestep - 1, n + 1).Select(v => Math.Round(v, MidpointRounding.ToEven)).Reverse().Take(n).ToArray(),
            "leading" => Enumerable.Range(0, n + 1).Select(i => (double)(i * (lastTimestep / (n + 1)))).Reverse().Take(n).Select(v => v + _config.StepsOffset).ToArray(),
            _ => Enumerable.Range(0, n).Select(i => Math.Round(lastTimestep - (i * ((double)tTrain / n)), MidpointRounding.ToEven) - 1).ToArray(),
        };

        double[] logSigmas = full.Select(s => (double)MathF.Log(s)).ToArray();
        double[] sigmas;
        bool roundT = _config.BetaSchedule != "squaredcos_cap_v2";
        if (_config.UseKarrasSigmas == true || _config.UseExponentialSigmas == true)
        {
            double min = full[0];
            double max = full[^1];
            sigmas = _config.UseKarrasSigmas == true ? ScheduleMath.KarrasSigmas(min, max, n) : ScheduleMath.ExponentialSigmas(min, max, n);
            timesteps = sigmas.Select(s => ScheduleMath.SigmaToT(s, logSigmas)).ToArray();
            if (_config.UseKarrasSigmas == true && roundT)
            {
                timesteps = timesteps.Select(v => Math.Round(v, MidpointRounding.ToEven)).ToArray();
            }
        }
        else if (_config.UseFlowSigmas == true)
        {
            double shift = _config.FlowShift ?? 1.0;
            double[] alphas = ScheduleMath.NumpyLinspace(1, 1.0 / tTrain, n + 1);
            sigmas = alphas.Select(a => 1.0 - a).Select(s => shift * s / (1 + ((shift - 1) * s))).Reverse().Take(n).ToArray();
            timesteps = sigmas.Select(s => s * tTrain).ToArray();
        }
        else
        {
            sigmas = ScheduleMath.InterpOnIndex(timesteps, full);
        }

        double last = _config.FinalSigmasType == "sigma_min" ? full[0] : 0.0;
        _sigmas = [.. sigmas.Select(s => (float)s), (float)last];
        _sigmaTensor?.Dispose();
        _sigmaTensor = tensor(_sigmas, ScalarType.Float32).DetachFromDisposeScope();
        ResetHistory();
        SetSchedule(timesteps.Select(v => (double)(long)v).ToArray(), n, ScalarType.Int64, device);
    }

    /// <inheritdoc/>
    /// <remarks><see cref="SchedulerOutput.PredOriginalSample"/> is the (thresholded) x̂₀ of this step.
    /// <paramref name="varianceNoise"/> is the SDE noise (sde-dpmsolver++ only).</remarks>
    public override SchedulerOutput Step(Tensor modelOutput, Tensor timestep, Tensor sample, Generator? generator = null, Tensor? varianceNoise = null)
    {
        ScheduleMath.CheckStepInputs(modelOutput, sample, _config.VarianceType is not null, ClassName);
        int index = EnsureStepIndex(timestep);
        int count = HostTimesteps.Count;
        bool lowerOrderFinal = index == count - 1 && (_config.EulerAtFinal || (_config.LowerOrderFinal && count < 15) || _config.FinalSigmasType == "zero");
        bool lowerOrderSecond = index == count - 2 && _config.LowerOrderFinal && count < 15;

        using var scope = NewDisposeScope();
        var x0 = ConvertModelOutput(modelOutput, sample, index);
        var kept = x0.detach().clone().DetachFromDisposeScope();
        _modelOutputs[0]?.Dispose();
        for (int i = 0; i < _modelOutputs.Length - 1; i++)
        {
            _modelOutputs[i] = _modelOutputs[i + 1];
        }

        _modelOutputs[^1] = kept;
        var x = sample.to_type(ScalarType.Float32);
        Tensor? noise = null;
        if (_config.AlgorithmType == "sde-dpmsolver++")
        {
            noise = varianceNoise is null
                ? ScheduleMath.Randn(modelOutput.shape, ScalarType.Float32, modelOutput.device, generator)
                : varianceNoise.to(ScalarType.Float32, modelOutput.device);
        }

        Tensor prev;
        if (_config.SolverOrder == 1 || _lowerOrderNums < 1 || lowerOrderFinal)
        {
            prev = FirstOrder(x0, x, noise, index);
        }
        else if (_config.SolverOrder == 2 || _lowerOrderNums < 2 || lowerOrderSecond)
        {
            prev = SecondOrder(x, noise, index);
        }
        else
        {
            prev = ThirdOrder(x, noise, index);
        }

        if (_lowerOrderNums < _config.SolverOrder)
        {
            _lowerOrderNums++;
        }

        prev = prev.to_type(modelOutput.dtype);
        StepIndex = index + 1;
        return new SchedulerOutput(prev.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    /// <remarks>α(σ)·x₀ + σ_t(σ)·ε with σ looked up by timestep in the current schedule (diffusers' <c>add_noise</c>).</remarks>
    public override Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps)
    {
        ArgumentNullException.ThrowIfNull(originalSamples);
        ArgumentNullException.ThrowIfNull(noise);
        ArgumentNullException.ThrowIfNull(timesteps);
        CheckSameShape(originalSamples, noise, nameof(noise));
        using var scope = NewDisposeScope();
        double[] ts = timesteps.to_type(ScalarType.Float64).cpu().flatten().data<double>().ToArray();
        var pairs = ts.Select(t => AlphaSigma(_sigmas[IndexForTimestep(t)])).ToArray();
        var alpha = ScheduleMath.Broadcastable(tensor(pairs.Select(p => p.Alpha).ToArray()).to(originalSamples.dtype, originalSamples.device), originalSamples.dim());
        var sigma = ScheduleMath.Broadcastable(tensor(pairs.Select(p => p.Sigma).ToArray()).to(originalSamples.dtype, originalSamples.device), originalSamples.dim());
        return ((alpha * originalSamples) + (sigma * noise)).MoveToOuterDisposeScope();
    }

    private (float Alpha, float Sigma) AlphaSigma(float sigma)
    {
        if (_config.UseFlowSigmas == true)
        {
            return (1 - sigma, sigma);
        }

        float alpha = 1 / MathF.Sqrt((sigma * sigma) + 1);
        return (alpha, sigma * alpha);
    }

    private static float Lambda((float Alpha, float Sigma) p) => MathF.Log(p.Alpha) - MathF.Log(p.Sigma);

    private Tensor ConvertModelOutput(Tensor modelOutput, Tensor sample, int index)
    {
        var (alpha, sigmaT) = AlphaSigma(_sigmas[index]);
        Tensor x0;
        switch (_config.PredictionType)
        {
            case "epsilon":
                var eps = _config.VarianceType is not null ? modelOutput[.., ..(int)sample.shape[1]] : modelOutput;
                x0 = (sample - (eps * sigmaT)) / alpha;
                break;
            case "sample":
                x0 = modelOutput.alias();
                break;
            case "v_prediction":
                x0 = (sample * alpha) - (modelOutput * sigmaT);
                break;
            default:
                x0 = sample - (modelOutput * _sigmas[index]);
                break;
        }

        return _config.Thresholding ? ScheduleMath.Threshold(x0, _config.DynamicThresholdingRatio, _config.SampleMaxValue) : x0;
    }

    private Tensor FirstOrder(Tensor x0, Tensor sample, Tensor? noise, int index)
    {
        var t = AlphaSigma(_sigmas[index + 1]);
        var s = AlphaSigma(_sigmas[index]);
        float h = Lambda(t) - Lambda(s);
        if (noise is null)
        {
            return (sample * (t.Sigma / s.Sigma)) - (x0 * (t.Alpha * (MathF.Exp(-h) - 1f)));
        }

        return (sample * (t.Sigma / s.Sigma * MathF.Exp(-h)))
            + (x0 * (t.Alpha * (1 - MathF.Exp(-2f * h))))
            + (noise * (t.Sigma * MathF.Sqrt(1f - MathF.Exp(-2 * h))));
    }

    private Tensor SecondOrder(Tensor sample, Tensor? noise, int index)
    {
        var t = AlphaSigma(_sigmas[index + 1]);
        var s0 = AlphaSigma(_sigmas[index]);
        var s1 = AlphaSigma(_sigmas[index - 1]);
        float lt = Lambda(t), l0 = Lambda(s0), l1 = Lambda(s1);
        var m0 = _modelOutputs[^1]!;
        var m1 = _modelOutputs[^2]!;
        float h = lt - l0, h0 = l0 - l1;
        float r0 = h0 / h;
        var d0 = m0;
        var d1 = (m0 - m1) * (1f / r0);
        float expm = MathF.Exp(-h) - 1f;
        if (noise is null)
        {
            return _config.SolverType == "midpoint"
                ? (sample * (t.Sigma / s0.Sigma)) - (d0 * (t.Alpha * expm)) - (d1 * (0.5f * (t.Alpha * expm)))
                : (sample * (t.Sigma / s0.Sigma)) - (d0 * (t.Alpha * expm)) + (d1 * (t.Alpha * ((expm / h) + 1f)));
        }

        float e2 = 1 - MathF.Exp(-2f * h);
        var baseTerm = (sample * (t.Sigma / s0.Sigma * MathF.Exp(-h))) + (d0 * (t.Alpha * e2));
        var corr = _config.SolverType == "midpoint" ? d1 * (0.5f * (t.Alpha * e2)) : d1 * (t.Alpha * ((e2 / (-2f * h)) + 1f));
        return baseTerm + corr + (noise * (t.Sigma * MathF.Sqrt(1f - MathF.Exp(-2 * h))));
    }

    private Tensor ThirdOrder(Tensor sample, Tensor? noise, int index)
    {
        var t = AlphaSigma(_sigmas[index + 1]);
        var s0 = AlphaSigma(_sigmas[index]);
        var s1 = AlphaSigma(_sigmas[index - 1]);
        var s2 = AlphaSigma(_sigmas[index - 2]);
        float lt = Lambda(t), l0 = Lambda(s0), l1 = Lambda(s1), l2 = Lambda(s2);
        var m0 = _modelOutputs[^1]!;
        var m1 = _modelOutputs[^2]!;
        var m2 = _modelOutputs[^3]!;
        float h = lt - l0, h0 = l0 - l1, h1 = l1 - l2;
        float r0 = h0 / h, r1 = h1 / h;
        var d10 = (m0 - m1) * (1f / r0);
        var d11 = (m1 - m2) * (1f / r1);
        var d1 = d10 + ((d10 - d11) * (r0 / (r0 + r1)));
        var d2 = (d10 - d11) * (1f / (r0 + r1));
        if (noise is null)
        {
            float expm = MathF.Exp(-h) - 1f;
            return (sample * (t.Sigma / s0.Sigma))
                - (m0 * (t.Alpha * expm))
                + (d1 * (t.Alpha * ((expm / h) + 1f)))
                - (d2 * (t.Alpha * (((expm + h) / (h * h)) - 0.5f)));
        }

        float e2 = 1f - MathF.Exp(-2f * h);
        return (sample * (t.Sigma / s0.Sigma * MathF.Exp(-h)))
            + (m0 * (t.Alpha * e2))
            + (d1 * (t.Alpha * ((e2 / (-2f * h)) + 1f)))
            + (d2 * (t.Alpha * (((e2 - (2f * h)) / (2f * h * (2f * h))) - 0.5f)))
            + (noise * (t.Sigma * MathF.Sqrt(1f - MathF.Exp(-2 * h))));
    }

    private void ResetHistory()
    {
        for (int i = 0; i < _modelOutputs.Length; i++)
        {
            _modelOutputs[i]?.Dispose();
            _modelOutputs[i] = null;
        }

        _lowerOrderNums = 0;
    }

    private static DPMSolverMultistepSchedulerConfig Validated(DPMSolverMultistepSchedulerConfig c)
    {
        c.Validate();
        return c;
    }
}
