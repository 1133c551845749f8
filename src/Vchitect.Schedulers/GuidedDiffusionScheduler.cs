using System.Globalization;
using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>
/// Config of <see cref="GuidedDiffusionScheduler"/>: the guided-diffusion (ADM) <c>create_diffusion</c> arguments that
/// LaVie's interpolation stage, SEINE and VideoBooth use. Not a diffusers class; <c>_class_name</c> is
/// <c>GuidedDiffusionScheduler</c>.
/// </summary>
public sealed record GuidedDiffusionSchedulerConfig : DiffusersConfig
{
    /// <summary>T, the training diffusion steps (<c>diffusion_steps</c>). Default 1000.</summary>
    [JsonPropertyName("num_train_timesteps")] public int NumTrainTimesteps { get; init; } = 1000;

    /// <summary><c>noise_schedule</c>: linear (β from 1e-4·1000/T to 0.02·1000/T, float64) or squaredcos_cap_v2. Default linear.</summary>
    [JsonPropertyName("noise_schedule")] public string NoiseSchedule { get; init; } = "linear";

    /// <summary>
    /// <c>timestep_respacing</c>: "" (all T steps), "K" or "a,b,c" (equal sections, float stride, round half to even) or
    /// "ddimK" (integer stride). <see cref="IScheduler.SetTimesteps"/> re-forms it for its step count: "ddimN" when this
    /// starts with ddim, otherwise "N" (a multi-section string must already sum to N). Default "".
    /// </summary>
    [JsonPropertyName("timestep_respacing")] public string TimestepRespacing { get; init; } = "";

    /// <summary>fixed_large (default; <c>sigma_small=False</c>, uses β'), fixed_small (<c>sigma_small=True</c>, the posterior variance) or learned_range (<c>learn_sigma=True</c>).</summary>
    [JsonPropertyName("variance_type")] public string VarianceType { get; init; } = "fixed_large";

    /// <summary>epsilon, or sample (<c>predict_xstart=True</c>). Default epsilon.</summary>
    [JsonPropertyName("prediction_type")] public string PredictionType { get; init; } = "epsilon";

    /// <inheritdoc/>
    public override void Validate()
    {
        ConfigException.ThrowIfNot(NumTrainTimesteps >= 2, "num_train_timesteps", $"{NumTrainTimesteps} must be at least 2.");
        ConfigChecks.OneOf("noise_schedule", NoiseSchedule, ["linear", "squaredcos_cap_v2"]);
        ConfigChecks.OneOf("variance_type", VarianceType, ["fixed_large", "fixed_small", "learned_range"]);
        ConfigChecks.OneOf("prediction_type", PredictionType, ["epsilon", "sample"]);
        try
        {
            _ = GuidedDiffusionScheduler.SpaceTimesteps(NumTrainTimesteps, TimestepRespacing);
        }
        catch (ArgumentException e)
        {
            throw new ConfigException(null, "timestep_respacing", e.Message, e);
        }
    }
}

/// <summary>How <see cref="GuidedDiffusionScheduler"/> steps.</summary>
public enum AdmSamplingMethod
{
    /// <summary>Ancestral <c>p_sample</c> (the default of SEINE and VideoBooth).</summary>
    Ddpm,

    /// <summary><c>ddim_sample</c> with <see cref="GuidedDiffusionScheduler.Eta"/> (LaVie interpolation).</summary>
    Ddim,
}

/// <summary>The result of an ADM step on per-row respaced indices.</summary>
/// <param name="Sample">x at the previous index.</param>
/// <param name="PredXStart">The predicted x₀.</param>
public sealed record AdmStepOutput(Tensor Sample, Tensor PredXStart);

/// <summary>
/// The guided-diffusion (ADM) <c>GaussianDiffusion</c> + <c>SpacedDiffusion</c> sampler as vendored by LaVie
/// (interpolation), SEINE, VideoBooth and Latte: float64 schedules, respaced timesteps, fixed-large / fixed-small /
/// learned-range variance, <c>p_sample</c> and <c>ddim_sample</c>.
/// </summary>
/// <remarks>
/// <para><see cref="IScheduler.Timesteps"/> are the <b>original</b> training timesteps (<see cref="TimestepMap"/>,
/// descending): they are what the network receives, as ADM's <c>_WrappedModel</c> maps respaced indices to them.
/// <see cref="Step"/> maps a timestep back to its respaced index.</para>
/// <para>Coefficients are gathered from the float64 tables and cast to float32 per row (<c>_extract_into_tensor</c>);
/// all tensor math is float32. Like the reference, every step consumes one noise tensor, also at the last index and
/// with η = 0, so a seeded generator reproduces the reference's draws.</para>
/// <para>Classifier-free guidance is the pipeline's concern: these repos batch [cond, uncond] and combine ε before the step.</para>
/// </remarks>
public sealed class GuidedDiffusionScheduler : SchedulerBase
{
    /// <summary>The class name used in <c>_class_name</c>.</summary>
    public const string ClassName = "GuidedDiffusionScheduler";

    private readonly GuidedDiffusionSchedulerConfig _config;
    private readonly double[] _baseBetas;
    private readonly double[] _baseAlphasCumprod;
    private Tables? _tables;

    /// <summary>Creates the scheduler and, when <c>timestep_respacing</c> is set, its respaced schedule.</summary>
    /// <param name="config">The config; null for defaults (T = 1000, linear, fixed_large, all steps).</param>
    /// <exception cref="ConfigException">A field is invalid.</exception>
    public GuidedDiffusionScheduler(GuidedDiffusionSchedulerConfig? config = null)
        : base(Validated(config ?? new GuidedDiffusionSchedulerConfig()))
    {
        _config = (GuidedDiffusionSchedulerConfig)Config;
        int t = _config.NumTrainTimesteps;
        if (_config.NoiseSchedule == "linear")
        {
            double scale = 1000.0 / t;
            _baseBetas = ScheduleMath.NumpyLinspace(scale * 0.0001, scale * 0.02, t);
        }
        else
        {
            _baseBetas = ScheduleMath.CosineBetas(t, 0.999);
        }

        _baseAlphasCumprod = CumprodOneMinus(_baseBetas);
        if (_config.TimestepRespacing.Length > 0)
        {
            Respace(_config.TimestepRespacing, null);
        }
    }

    /// <summary>The typed config.</summary>
    public GuidedDiffusionSchedulerConfig TypedConfig => _config;

    /// <summary>Ancestral (DDPM) or DDIM stepping. Default <see cref="AdmSamplingMethod.Ddpm"/>.</summary>
    public AdmSamplingMethod SamplingMethod { get; set; } = AdmSamplingMethod.Ddpm;

    /// <summary>DDIM η (0 = deterministic). Default 0.</summary>
    public float Eta { get; set; }

    /// <summary>Clamp x̂₀ to [−1, 1] (<c>clip_denoised</c>). Default false, as every Vchitect sampler passes.</summary>
    public bool ClipDenoised { get; set; }

    /// <summary>The kept original timesteps, ascending (<c>timestep_map</c>); empty before a schedule is set.</summary>
    public IReadOnlyList<long> TimestepMap => _tables?.Map ?? [];

    /// <summary>β of the T-step process (float32 cast of the float64 table).</summary>
    public Tensor BaseBetas => tensor(_baseBetas, ScalarType.Float64).to_type(ScalarType.Float32);

    /// <summary>ᾱ of the T-step process (float32 cast).</summary>
    public Tensor BaseAlphasCumprod => tensor(_baseAlphasCumprod, ScalarType.Float64).to_type(ScalarType.Float32);

    /// <summary>
    /// A respaced table by its reference name, as a float32 cast of the float64 values: betas, alphas_cumprod,
    /// alphas_cumprod_prev, sqrt_recip_alphas_cumprod, sqrt_recipm1_alphas_cumprod, posterior_variance,
    /// posterior_log_variance_clipped, posterior_mean_coef1, posterior_mean_coef2, fixed_large_variance,
    /// fixed_large_log_variance.
    /// </summary>
    /// <exception cref="KeyNotFoundException">Unknown name.</exception>
    /// <exception cref="InvalidOperationException">No schedule is set.</exception>
    public Tensor Table(string name)
    {
        var tables = RequireTables();
        return tensor(tables.ByName(name), ScalarType.Float64).to_type(ScalarType.Float32);
    }

    /// <summary>The respaced ("kept") timesteps for a respacing string, exactly as ADM's <c>space_timesteps</c>, ascending.</summary>
    /// <param name="numTimesteps">T.</param>
    /// <param name="respacing">"" (all), "K", "a,b,c" or "ddimK".</param>
    /// <exception cref="ArgumentException">The string cannot be parsed or cannot be satisfied.</exception>
    public static long[] SpaceTimesteps(int numTimesteps, string respacing)
    {
        ArgumentNullException.ThrowIfNull(respacing);
        if (respacing.Length == 0)
        {
            return Enumerable.Range(0, numTimesteps).Select(i => (long)i).ToArray();
        }

        if (respacing.StartsWith("ddim", StringComparison.Ordinal))
        {
            if (!int.TryParse(respacing.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out int desired))
            {
                throw new ArgumentException($"respacing '{respacing}': expected ddim followed by a step count.", nameof(respacing));
            }

            for (int i = 1; i < numTimesteps; i++)
            {
                if ((numTimesteps + i - 1) / i == desired)
                {
                    return Enumerable.Range(0, desired).Select(k => (long)k * i).ToArray();
                }
            }

            throw new ArgumentException($"respacing '{respacing}': cannot create exactly {desired} steps with an integer stride from {numTimesteps}.", nameof(respacing));
        }

        int[] counts;
        try
        {
            counts = respacing.Split(',').Select(s => int.Parse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"respacing '{respacing}': expected comma-separated step counts, or ddimN.", nameof(respacing), e);
        }

        int sizePer = numTimesteps / counts.Length;
        int extra = numTimesteps % counts.Length;
        int start = 0;
        var all = new SortedSet<long>();
        for (int i = 0; i < counts.Length; i++)
        {
            int size = sizePer + (i < extra ? 1 : 0);
            int count = counts[i];
            if (size < count || count < 1)
            {
                throw new ArgumentException($"respacing '{respacing}': cannot divide a section of {size} steps into {count}.", nameof(respacing));
            }

            double stride = count <= 1 ? 1 : (size - 1) / (double)(count - 1);
            double cur = 0.0;
            for (int k = 0; k < count; k++)
            {
                all.Add(start + (long)Math.Round(cur, MidpointRounding.ToEven));
                cur += stride;
            }

            start += size;
        }

        return all.ToArray();
    }

    /// <inheritdoc/>
    public override IScheduler Clone() => new GuidedDiffusionScheduler(_config) { SamplingMethod = SamplingMethod, Eta = Eta, ClipDenoised = ClipDenoised };

    /// <inheritdoc/>
    /// <remarks>Uses respacing "ddimN" when the config's respacing starts with ddim, else "N"; a configured multi-section respacing is kept when its counts sum to N.</remarks>
    public override void SetTimesteps(int numInferenceSteps, Device? device = null)
    {
        CheckStepCount(numInferenceSteps, _config.NumTrainTimesteps);
        string configured = _config.TimestepRespacing;
        string respacing = configured.StartsWith("ddim", StringComparison.Ordinal)
            ? $"ddim{numInferenceSteps}"
            : configured.Contains(',', StringComparison.Ordinal) && SpaceTimesteps(_config.NumTrainTimesteps, configured).Length == numInferenceSteps
                ? configured
                : numInferenceSteps.ToString(CultureInfo.InvariantCulture);
        Respace(respacing, device);
    }

    /// <summary>Sets the schedule from an explicit respacing string ("50", "250", "ddim50", "10,20,30").</summary>
    /// <param name="respacing">The respacing.</param>
    /// <param name="device">Device of the timesteps; null for CPU.</param>
    /// <exception cref="ArgumentException">Invalid respacing.</exception>
    public void SetTimesteps(string respacing, Device? device = null) => Respace(respacing, device);

    /// <summary>The original timesteps the model receives for respaced indices (<c>timestep_map[t]</c>).</summary>
    /// <param name="t">Respaced indices, int64.</param>
    public Tensor ModelTimesteps(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        using var map = tensor(RequireTables().Map, ScalarType.Int64);
        return map.to(t.device)[t.to_type(ScalarType.Int64)];
    }

    /// <summary>ADM <c>p_sample</c> with a given model output: posterior mean plus [t≠0]·exp(½ log var)·noise.</summary>
    /// <param name="modelOutput">ε (or x₀), with twice the channels for learned_range.</param>
    /// <param name="t">Respaced index per batch row, int64 [B].</param>
    /// <param name="x">The current sample.</param>
    /// <param name="noise">Unit Gaussian noise of x's shape.</param>
    public AdmStepOutput PSample(Tensor modelOutput, Tensor t, Tensor x, Tensor noise)
    {
        var tables = RequireTables();
        CheckArgs(modelOutput, t, x, noise);
        using var scope = NewDisposeScope();
        var (eps, varValues) = SplitLearned(modelOutput, x);
        var x0 = PredXStart(eps, t, x, tables);
        var mean = (Extract(tables.Coef1, t, x) * x0) + (Extract(tables.Coef2, t, x) * x);
        Tensor logVariance = _config.VarianceType switch
        {
            "fixed_large" => Extract(tables.FixedLargeLogVariance, t, x),
            "fixed_small" => Extract(tables.PosteriorLogVarianceClipped, t, x),
            _ => LearnedLogVariance(varValues!, t, x, tables),
        };
        var nonzero = NonZero(t, x);
        var sample = mean + (nonzero * (0.5 * logVariance).exp() * noise);
        return new AdmStepOutput(sample.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }

    /// <summary>ADM <c>ddim_sample</c> with a given model output and η.</summary>
    /// <param name="modelOutput">ε (or x₀).</param>
    /// <param name="t">Respaced index per batch row, int64 [B].</param>
    /// <param name="x">The current sample.</param>
    /// <param name="noise">Unit Gaussian noise of x's shape (multiplied by σ, which is 0 for η = 0).</param>
    /// <param name="eta">η ≥ 0.</param>
    public AdmStepOutput DdimSample(Tensor modelOutput, Tensor t, Tensor x, Tensor noise, float eta)
    {
        var tables = RequireTables();
        CheckArgs(modelOutput, t, x, noise);
        using var scope = NewDisposeScope();
        var (modelEps, _) = SplitLearned(modelOutput, x);
        var x0 = PredXStart(modelEps, t, x, tables);
        var eps = ((Extract(tables.SqrtRecipAlphasCumprod, t, x) * x) - x0) / Extract(tables.SqrtRecipm1AlphasCumprod, t, x);
        var alphaBar = Extract(tables.AlphasCumprod, t, x);
        var alphaBarPrev = Extract(tables.AlphasCumprodPrev, t, x);
        var sigma = eta * ((1 - alphaBarPrev) / (1 - alphaBar)).sqrt() * (1 - (alphaBar / alphaBarPrev)).sqrt();
        var meanPred = (x0 * alphaBarPrev.sqrt()) + ((1 - alphaBarPrev - sigma.pow(2)).sqrt() * eps);
        var sample = meanPred + (NonZero(t, x) * sigma * noise);
        return new AdmStepOutput(sample.MoveToOuterDisposeScope(), x0.MoveToOuterDisposeScope());
    }

    /// <summary>ADM <c>q_sample</c>: √ᾱ_j·x₀ + √(1−ᾱ_j)·noise at respaced indices j.</summary>
    public Tensor QSample(Tensor xStart, Tensor t, Tensor noise)
    {
        ArgumentNullException.ThrowIfNull(xStart);
        ArgumentNullException.ThrowIfNull(noise);
        var tables = RequireTables();
        using var scope = NewDisposeScope();
        var result = (Extract(tables.SqrtAlphasCumprod, t, xStart) * xStart) + (Extract(tables.SqrtOneMinusAlphasCumprod, t, xStart) * noise);
        return result.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    /// <remarks>
    /// <paramref name="timestep"/> is the original timestep (one of <see cref="IScheduler.Timesteps"/>). One noise tensor is used
    /// per call (drawn when <paramref name="varianceNoise"/> is null), as the reference draws one for every step.
    /// </remarks>
    public override SchedulerOutput Step(Tensor modelOutput, Tensor timestep, Tensor sample, Generator? generator = null, Tensor? varianceNoise = null)
    {
        bool learned = _config.VarianceType == "learned_range";
        ScheduleMath.CheckStepInputs(modelOutput, sample, learned, ClassName);
        int index = IndexForTimestep(ScheduleMath.Scalar(timestep));
        long j = TimestepMap.Count - 1 - index;
        using var scope = NewDisposeScope();
        var t = full(sample.shape[0], j, ScalarType.Int64, sample.device);
        var noise = varianceNoise ?? ScheduleMath.Randn(sample.shape, sample.dtype, sample.device, generator);
        var result = SamplingMethod == AdmSamplingMethod.Ddim ? DdimSample(modelOutput, t, sample, noise, Eta) : PSample(modelOutput, t, sample, noise);
        StepIndex = index + 1;
        return new SchedulerOutput(result.Sample.MoveToOuterDisposeScope(), result.PredXStart.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    /// <remarks>Timesteps are original training timesteps in the current schedule (they map to respaced indices).</remarks>
    public override Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps)
    {
        using var scope = NewDisposeScope();
        return QSample(originalSamples, RespacedIndices(timesteps, originalSamples), noise).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override Tensor GetVelocity(Tensor sample, Tensor noise, Tensor timesteps)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(noise);
        var tables = RequireTables();
        using var scope = NewDisposeScope();
        var t = RespacedIndices(timesteps, sample);
        var v = (Extract(tables.SqrtAlphasCumprod, t, sample) * noise) - (Extract(tables.SqrtOneMinusAlphasCumprod, t, sample) * sample);
        return v.MoveToOuterDisposeScope();
    }

    private Tensor RespacedIndices(Tensor timesteps, Tensor like)
    {
        ArgumentNullException.ThrowIfNull(timesteps);
        var map = RequireTables().Map;
        long[] original = timesteps.to_type(ScalarType.Int64).cpu().flatten().data<long>().ToArray();
        long[] idx = original.Select(o =>
        {
            int k = Array.IndexOf(map, o);
            return k >= 0 ? (long)k : throw new ArgumentException($"{ClassName}: timestep {o} is not one of the kept timesteps of this respacing.", nameof(timesteps));
        }).ToArray();
        if (idx.Length == 1 && like.shape[0] > 1)
        {
            idx = Enumerable.Repeat(idx[0], (int)like.shape[0]).ToArray();
        }

        return tensor(idx, ScalarType.Int64, like.device);
    }

    private void Respace(string respacing, Device? device)
    {
        long[] kept = SpaceTimesteps(_config.NumTrainTimesteps, respacing);
        var betas = new double[kept.Length];
        double last = 1.0;
        for (int i = 0; i < kept.Length; i++)
        {
            double ac = _baseAlphasCumprod[kept[i]];
            betas[i] = 1 - (ac / last);
            last = ac;
        }

        _tables = new Tables(betas, kept);
        SetSchedule(kept.Reverse().Select(k => (double)k).ToArray(), kept.Length, ScalarType.Int64, device);
    }

    private Tables RequireTables() => _tables ?? throw new InvalidOperationException($"{ClassName}: call SetTimesteps (or set timestep_respacing) first.");

    private static void CheckArgs(Tensor modelOutput, Tensor t, Tensor x, Tensor noise)
    {
        ArgumentNullException.ThrowIfNull(modelOutput);
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(noise);
        if (t.dim() != 1 || t.shape[0] != x.shape[0])
        {
            throw new ArgumentException($"{ClassName}: t must be 1-D with one respaced index per batch row ({x.shape[0]}), got shape [{string.Join(", ", t.shape)}].", nameof(t));
        }

        if (!noise.shape.SequenceEqual(x.shape))
        {
            throw new ArgumentException($"{ClassName}: noise has shape [{string.Join(", ", noise.shape)}], expected [{string.Join(", ", x.shape)}].", nameof(noise));
        }
    }

    private (Tensor Eps, Tensor? VarValues) SplitLearned(Tensor modelOutput, Tensor x)
    {
        if (_config.VarianceType != "learned_range")
        {
            return (modelOutput, null);
        }

        if (modelOutput.shape[1] != 2 * x.shape[1])
        {
            throw new ArgumentException($"{ClassName}: learned_range needs a model output with {2 * x.shape[1]} channels, got {modelOutput.shape[1]}.", nameof(modelOutput));
        }

        var parts = modelOutput.split(x.shape[1], 1);
        return (parts[0], parts[1]);
    }

    private Tensor PredXStart(Tensor modelOutput, Tensor t, Tensor x, Tables tables)
    {
        var x0 = _config.PredictionType == "sample"
            ? modelOutput.alias()
            : (Extract(tables.SqrtRecipAlphasCumprod, t, x) * x) - (Extract(tables.SqrtRecipm1AlphasCumprod, t, x) * modelOutput);
        return ClipDenoised ? x0.clamp(-1, 1) : x0;
    }

    private static Tensor LearnedLogVariance(Tensor values, Tensor t, Tensor x, Tables tables)
    {
        var minLog = Extract(tables.PosteriorLogVarianceClipped, t, x);
        var maxLog = Extract(tables.LogBetas, t, x);
        var frac = (values + 1) / 2;
        return (frac * maxLog) + ((1 - frac) * minLog);
    }

    // _extract_into_tensor: gather the float64 table at t, cast to float32, shape [B, 1, …].
    private static Tensor Extract(double[] table, Tensor t, Tensor like)
    {
        var values = tensor(table, ScalarType.Float64).to(like.device)[t.to_type(ScalarType.Int64)].to_type(ScalarType.Float32);
        return ScheduleMath.Broadcastable(values, like.dim());
    }

    private static Tensor NonZero(Tensor t, Tensor x) => ScheduleMath.Broadcastable(t.ne(0).to_type(ScalarType.Float32), x.dim());

    private static double[] CumprodOneMinus(double[] betas)
    {
        var ac = new double[betas.Length];
        double p = 1.0;
        for (int i = 0; i < betas.Length; i++)
        {
            p *= 1.0 - betas[i];
            ac[i] = p;
        }

        return ac;
    }

    private static GuidedDiffusionSchedulerConfig Validated(GuidedDiffusionSchedulerConfig c)
    {
        c.Validate();
        return c;
    }

    /// <summary>GaussianDiffusion.__init__ on the respaced betas, float64.</summary>
    private sealed class Tables
    {
        public Tables(double[] betas, long[] map)
        {
            int n = betas.Length;
            Map = map;
            Betas = betas;
            AlphasCumprod = CumprodOneMinus(betas);
            AlphasCumprodPrev = [1.0, .. AlphasCumprod[..^1]];
            SqrtAlphasCumprod = AlphasCumprod.Select(v => Math.Sqrt(v)).ToArray();
            SqrtOneMinusAlphasCumprod = AlphasCumprod.Select(a => Math.Sqrt(1.0 - a)).ToArray();
            SqrtRecipAlphasCumprod = AlphasCumprod.Select(a => Math.Sqrt(1.0 / a)).ToArray();
            SqrtRecipm1AlphasCumprod = AlphasCumprod.Select(a => Math.Sqrt((1.0 / a) - 1)).ToArray();
            PosteriorVariance = new double[n];
            Coef1 = new double[n];
            Coef2 = new double[n];
            for (int i = 0; i < n; i++)
            {
                PosteriorVariance[i] = betas[i] * (1.0 - AlphasCumprodPrev[i]) / (1.0 - AlphasCumprod[i]);
                Coef1[i] = betas[i] * Math.Sqrt(AlphasCumprodPrev[i]) / (1.0 - AlphasCumprod[i]);
                Coef2[i] = (1.0 - AlphasCumprodPrev[i]) * Math.Sqrt(1.0 - betas[i]) / (1.0 - AlphasCumprod[i]);
            }

            double first = n > 1 ? PosteriorVariance[1] : PosteriorVariance[0];
            PosteriorLogVarianceClipped = [Math.Log(first), .. PosteriorVariance[1..].Select(v => Math.Log(v))];
            FixedLargeVariance = [first, .. betas[1..]];
            FixedLargeLogVariance = FixedLargeVariance.Select(v => Math.Log(v)).ToArray();
            LogBetas = betas.Select(v => Math.Log(v)).ToArray();
        }

        public long[] Map { get; }

        public double[] Betas { get; }

        public double[] AlphasCumprod { get; }

        public double[] AlphasCumprodPrev { get; }

        public double[] SqrtAlphasCumprod { get; }

        public double[] SqrtOneMinusAlphasCumprod { get; }

        public double[] SqrtRecipAlphasCumprod { get; }

        public double[] SqrtRecipm1AlphasCumprod { get; }

        public double[] PosteriorVariance { get; }

        public double[] PosteriorLogVarianceClipped { get; }

        public double[] Coef1 { get; }

        public double[] Coef2 { get; }

        public double[] FixedLargeVariance { get; }

        public double[] FixedLargeLogVariance { get; }

        public double[] LogBetas { get; }

        public double[] ByName(string name) => name switch
        {
            "betas" => Betas,
            "alphas_cumprod" => AlphasCumprod,
            "alphas_cumprod_prev" => AlphasCumprodPrev,
            "sqrt_alphas_cumprod" => SqrtAlphasCumprod,
            "sqrt_one_minus_alphas_cumprod" => SqrtOneMinusAlphasCumprod,
            "sqrt_recip_alphas_cumprod" => SqrtRecipAlphasCumprod,
            "sqrt_recipm1_alphas_cumprod" => SqrtRecipm1AlphasCumprod,
            "posterior_variance" => PosteriorVariance,
            "posterior_log_variance_clipped" => PosteriorLogVarianceClipped,
            "posterior_mean_coef1" => Coef1,
            "posterior_mean_coef2" => Coef2,
            "fixed_large_variance" => FixedLargeVariance,
            "fixed_large_log_variance" => FixedLargeLogVariance,
            _ => throw new KeyNotFoundException($"{ClassName}: no table named '{name}'."),
        };
    }
}
