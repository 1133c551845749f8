using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>Config of <see cref="PNDMScheduler"/> (diffusers <c>PNDMScheduler</c>, Stable Diffusion's default); defaults are diffusers'.</summary>
public sealed record PNDMSchedulerConfig : DiffusersConfig
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

    /// <summary>Skip the Runge–Kutta warm-up and run PLMS only (SD configs: true). Default false.</summary>
    [JsonPropertyName("skip_prk_steps")] public bool SkipPrkSteps { get; init; }

    /// <summary>ᾱ before the first training step: 1 when true, else ᾱ_0. Default false.</summary>
    [JsonPropertyName("set_alpha_to_one")] public bool SetAlphaToOne { get; init; }

    /// <summary>epsilon or v_prediction. Default epsilon.</summary>
    [JsonPropertyName("prediction_type")] public string PredictionType { get; init; } = "epsilon";

    /// <summary>leading, trailing or linspace. Default leading.</summary>
    [JsonPropertyName("timestep_spacing")] public string TimestepSpacing { get; init; } = "leading";

    /// <summary>Added to leading timesteps. Default 0 (SD: 1).</summary>
    [JsonPropertyName("steps_offset")] public int StepsOffset { get; init; }

    /// <inheritdoc/>
    public override void Validate()
    {
        ConfigChecks.Common(NumTrainTimesteps, BetaStart, BetaEnd, BetaSchedule, TrainedBetas, StepsOffset);
        ConfigChecks.OneOf("prediction_type", PredictionType, ["epsilon", "v_prediction"]);
        ConfigChecks.OneOf("timestep_spacing", TimestepSpacing, SchedulerOptions.TimestepSpacings);
    }
}

/// <summary>
/// Pseudo numerical methods for diffusion models (Liu et al. 2022), equal to diffusers' <c>PNDMScheduler</c>: a
/// Runge–Kutta warm-up (unless <c>skip_prk_steps</c>), then the linear multistep (PLMS) update of order up to 4.
/// </summary>
/// <remarks>
/// With <c>skip_prk_steps</c> the schedule has N+1 entries: the second timestep appears twice (the first PLMS step
/// is corrected by a second model call at the same x). Without it, the first 12 entries are the RK sub-steps.
/// Timesteps are therefore non-increasing rather than strictly decreasing. The scheduler keeps the last four model
/// outputs: one instance per generation. <see cref="SchedulerOutput.PredOriginalSample"/> is null.
/// </remarks>
public sealed class PNDMScheduler : VpSchedulerBase
{
    /// <summary>The diffusers class name, <c>PNDMScheduler</c>.</summary>
    public const string ClassName = "PNDMScheduler";

    private const int PndmOrder = 4;
    private readonly PNDMSchedulerConfig _config;
    private readonly float _finalAlphaCumprod;
    private readonly List<Tensor> _ets = [];
    private Tensor? _curModelOutput;
    private Tensor? _curSample;
    private int _counter;
    private int _prkCount;

    /// <summary>Creates the scheduler.</summary>
    /// <param name="config">The config; null for diffusers' defaults.</param>
    /// <exception cref="ConfigException">A field is invalid.</exception>
    public PNDMScheduler(PNDMSchedulerConfig? config = null)
        : this(Validated(config ?? new PNDMSchedulerConfig()), 0)
    {
    }

    private PNDMScheduler(PNDMSchedulerConfig c, int _)
        : base(c, c.NumTrainTimesteps, c.BetaStart, c.BetaEnd, c.BetaSchedule, c.TrainedBetas, false)
    {
        _config = c;
        _finalAlphaCumprod = c.SetAlphaToOne ? 1f : AlphasCumprodHost[0];
    }

    /// <summary>The typed config.</summary>
    public PNDMSchedulerConfig TypedConfig => _config;

    /// <inheritdoc/>
    public override IScheduler Clone() => new PNDMScheduler(_config);

    /// <inheritdoc/>
    public override void SetTimesteps(int numInferenceSteps, Device? device = null)
    {
        CheckStepCount(numInferenceSteps, NumTrainTimesteps);
        int t = NumTrainTimesteps;
        double[] ascending = ScheduleMath.SpacedTimesteps(_config.TimestepSpacing, t, numInferenceSteps, _config.StepsOffset).Reverse().ToArray();
        var list = new List<double>();
        if (_config.SkipPrkSteps)
        {
            _prkCount = 0;
            var plms = ascending[..^1].Concat(ascending.Length >= 2 ? [ascending[^2]] : []).Append(ascending[^1]);
            list.AddRange(plms.Reverse());
        }
        else
        {
            if (numInferenceSteps < PndmOrder)
            {
                throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), numInferenceSteps, $"{ClassName}: with skip_prk_steps = false at least {PndmOrder} steps are needed.");
            }

            int half = t / numInferenceSteps / 2;
            var prk = new List<double>();
            foreach (double v in ascending[^PndmOrder..])
            {
                prk.Add(v);
                prk.Add(v + half);
            }

            var repeated = prk.Take(prk.Count - 1).SelectMany(v => new[] { v, v }).ToList();
            var prkTimesteps = repeated.Skip(1).Take(repeated.Count - 2).Reverse().ToList();
            _prkCount = prkTimesteps.Count;
            list.AddRange(prkTimesteps);
            list.AddRange(ascending[..^3].Reverse());
        }

        if (list[0] >= t)
        {
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), $"{ClassName}: steps_offset {_config.StepsOffset} pushes the first timestep to {list[0]} ≥ num_train_timesteps {t}.");
        }

        ResetHistory();
        SetSchedule(list.ToArray(), numInferenceSteps, ScalarType.Int64, device);
    }

    /// <inheritdoc/>
    /// <remarks>Steps must follow <see cref="IScheduler.Timesteps"/> in order; <paramref name="generator"/> and <paramref name="varianceNoise"/> are unused (PNDM is deterministic).</remarks>
    public override SchedulerOutput Step(Tensor modelOutput, Tensor timestep, Tensor sample, Generator? generator = null, Tensor? varianceNoise = null)
    {
        ScheduleMath.CheckStepInputs(modelOutput, sample, false, ClassName);
        if (NumInferenceSteps == 0)
        {
            throw new InvalidOperationException($"{ClassName}: call SetTimesteps before stepping.");
        }

        if (_counter >= HostTimesteps.Count)
        {
            throw new InvalidOperationException($"{ClassName}: all {HostTimesteps.Count} steps have been taken; call SetTimesteps for a new generation.");
        }

        double given = ScheduleMath.Scalar(timestep);
        if (given != HostTimesteps[_counter])
        {
            throw new ArgumentException($"{ClassName}: step {_counter} expects timestep {HostTimesteps[_counter]} (PNDM steps must follow Timesteps in order), got {given}.", nameof(timestep));
        }

        StepIndex = _counter;
        var prev = _counter < _prkCount ? StepPrk(modelOutput, (long)given, sample) : StepPlms(modelOutput, (long)given, sample);
        _counter++;
        StepIndex = _counter;
        return new SchedulerOutput(prev, null);
    }

    private Tensor StepPrk(Tensor modelOutput, long timestep, Tensor sample)
    {
        int ratio = NumTrainTimesteps / NumInferenceSteps;
        long diffToPrev = _counter % 2 == 1 ? 0 : ratio / 2;
        long prevTimestep = timestep - diffToPrev;
        long t = (long)HostTimesteps[_counter / 4 * 4];
        using var scope = NewDisposeScope();
        Tensor output = modelOutput;
        switch (_counter % 4)
        {
            case 0:
                Keep(ref _curModelOutput, modelOutput * (1.0 / 6));
                _ets.Add(Detached(modelOutput));
                Keep(ref _curSample, sample);
                break;
            case 1:
            case 2:
                Keep(ref _curModelOutput, _curModelOutput! + (modelOutput * (1.0 / 3)));
                break;
            default:
                output = _curModelOutput! + (modelOutput * (1.0 / 6));
                _curModelOutput!.Dispose();
                _curModelOutput = null;
                break;
        }

        var current = _curSample ?? sample;
        return PrevSample(current, t, prevTimestep, output).MoveToOuterDisposeScope();
    }

    private Tensor StepPlms(Tensor modelOutput, long timestep, Tensor sample)
    {
        int ratio = NumTrainTimesteps / NumInferenceSteps;
        long prevTimestep = timestep - ratio;
        using var scope = NewDisposeScope();
        if (_counter != 1)
        {
            while (_ets.Count > 3)
            {
                _ets[0].Dispose();
                _ets.RemoveAt(0);
            }

            _ets.Add(Detached(modelOutput));
        }
        else
        {
            prevTimestep = timestep;
            timestep += ratio;
        }

        Tensor output;
        Tensor x = sample;
        int n = _ets.Count;
        if (n == 1 && _counter == 0)
        {
            output = modelOutput;
            Keep(ref _curSample, sample);
        }
        else if (n == 1 && _counter == 1)
        {
            output = (modelOutput + _ets[^1]) / 2;
            x = _curSample!.alias();
            _curSample.Dispose();
            _curSample = null;
        }
        else if (n == 2)
        {
            output = ((3 * _ets[^1]) - _ets[^2]) / 2;
        }
        else if (n == 3)
        {
            output = ((23 * _ets[^1]) - (16 * _ets[^2]) + (5 * _ets[^3])) / 12;
        }
        else
        {
            output = (1.0 / 24) * ((55 * _ets[^1]) - (59 * _ets[^2]) + (37 * _ets[^3]) - (9 * _ets[^4]));
        }

        return PrevSample(x, timestep, prevTimestep, output).MoveToOuterDisposeScope();
    }

    // PNDM paper eq. (9), diffusers' _get_prev_sample.
    private Tensor PrevSample(Tensor sample, long timestep, long prevTimestep, Tensor modelOutput)
    {
        float alphaProdT = AlphaCumprodAt(timestep, _finalAlphaCumprod);
        float alphaProdPrev = AlphaCumprodAt(prevTimestep, _finalAlphaCumprod);
        float betaProdT = 1f - alphaProdT;
        float betaProdPrev = 1f - alphaProdPrev;
        if (_config.PredictionType == "v_prediction")
        {
            modelOutput = (modelOutput * MathF.Sqrt(alphaProdT)) + (sample * MathF.Sqrt(betaProdT));
        }

        float sampleCoeff = MathF.Sqrt(alphaProdPrev / alphaProdT);
        float denom = (alphaProdT * MathF.Sqrt(betaProdPrev)) + MathF.Sqrt(alphaProdT * betaProdT * alphaProdPrev);
        return (sample * sampleCoeff) - ((modelOutput * (alphaProdPrev - alphaProdT)) / denom);
    }

    private static Tensor Detached(Tensor t) => t.detach().clone().DetachFromDisposeScope();

    private static void Keep(ref Tensor? slot, Tensor value)
    {
        var kept = Detached(value);
        slot?.Dispose();
        slot = kept;
    }

    private void ResetHistory()
    {
        foreach (var e in _ets)
        {
            e.Dispose();
        }

        _ets.Clear();
        _curModelOutput?.Dispose();
        _curModelOutput = null;
        _curSample?.Dispose();
        _curSample = null;
        _counter = 0;
    }

    private static PNDMSchedulerConfig Validated(PNDMSchedulerConfig c)
    {
        c.Validate();
        return c;
    }
}
