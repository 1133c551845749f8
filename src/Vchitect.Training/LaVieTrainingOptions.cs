using Vchitect.Schedulers;

namespace Vchitect.Training;

/// <summary>Options of one <see cref="LaVieTrainer"/> run (not part of any model's config).</summary>
public sealed record LaVieTrainingOptions
{
    /// <summary>The step training ends at; default 3000, ≥ 0.</summary>
    public int Steps { get; init; } = 3000;

    /// <summary>Video clips per step; default 2, ≥ 1.</summary>
    public int VideoBatchSize { get; init; } = 2;

    /// <summary>Single images per step for the joint image loss; default 4, ≥ 0 (0 turns the image term off).</summary>
    public int ImageBatchSize { get; init; } = 4;

    /// <summary>α, the weight of the image loss in loss = video loss + α·image loss; default 1.0, ≥ 0 (0 turns it off).</summary>
    public double ImageLossWeight { get; init; } = 1.0;

    /// <summary>Frames of each clip trained on (its first frames); null (default) for the whole clip.</summary>
    public int? Frames { get; init; }

    /// <summary>Probability that a caption is replaced by "" (for classifier-free guidance); default 0.1, in [0, 1].</summary>
    public double CaptionDropout { get; init; } = 0.1;

    /// <summary>Train the CLIP text encoder together with the UNet (default true); false keeps it frozen.</summary>
    public bool TrainTextEncoder { get; init; } = true;

    /// <summary>Peak AdamW learning rate; default 2e-4, &gt; 0.</summary>
    public double LearningRate { get; init; } = 2e-4;

    /// <summary>Steps of linear learning-rate warm-up from 0; default 100, ≥ 0.</summary>
    public int WarmupSteps { get; init; } = 100;

    /// <summary>AdamW's decoupled weight decay; default 0.01, ≥ 0.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Global gradient-norm limit; default 1.0, &gt; 0.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>Largest EMA decay (see <see cref="ExponentialMovingAverage"/>); default 0.999, in [0, 1].</summary>
    public double EmaDecay { get; init; } = 0.999;

    /// <summary>The forward noise process; default LaVie's DDPM: 1000 steps, β linear from 1e-4 to 0.02.</summary>
    public DDPMSchedulerConfig NoiseSchedule { get; init; } = LaVieNoiseSchedule;

    /// <summary>Seed of the data order, caption dropout, timesteps, noise and posterior samples; default 0.</summary>
    public long Seed { get; init; }

    /// <summary>A JSON-lines loss log (one object per step), appended to on resume; null (default) for none.</summary>
    public string? LossLogPath { get; init; }

    /// <summary>LaVie's noise schedule (its <c>configs/train.yaml</c>): DDPM, 1000 steps, β linear 1e-4 … 0.02.</summary>
    public static DDPMSchedulerConfig LaVieNoiseSchedule { get; } = new()
    {
        NumTrainTimesteps = 1000, BetaStart = 1e-4, BetaEnd = 0.02, BetaSchedule = "linear", ClipSample = false, StepsOffset = 1,
    };

    /// <summary>Checks every option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the message names it.</exception>
    /// <exception cref="ArgumentException">The noise schedule is invalid or does not predict ε.</exception>
    public void Validate()
    {
        const string owner = nameof(LaVieTrainingOptions);
        OptionChecks.Check(Steps >= 0, owner, nameof(Steps), Steps, "at least 0");
        OptionChecks.Check(VideoBatchSize >= 1, owner, nameof(VideoBatchSize), VideoBatchSize, "at least 1");
        OptionChecks.Check(ImageBatchSize >= 0, owner, nameof(ImageBatchSize), ImageBatchSize, "at least 0");
        OptionChecks.Check(ImageLossWeight >= 0 && double.IsFinite(ImageLossWeight), owner, nameof(ImageLossWeight), ImageLossWeight, "a finite number ≥ 0");
        OptionChecks.Check(Frames is null or >= 1, owner, nameof(Frames), Frames ?? 0, "null or at least 1");
        OptionChecks.Check(CaptionDropout is >= 0 and <= 1, owner, nameof(CaptionDropout), CaptionDropout, "0 to 1");
        OptionChecks.Check(LearningRate > 0 && double.IsFinite(LearningRate), owner, nameof(LearningRate), LearningRate, "a finite number > 0");
        OptionChecks.Check(WarmupSteps >= 0, owner, nameof(WarmupSteps), WarmupSteps, "at least 0");
        OptionChecks.Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), owner, nameof(WeightDecay), WeightDecay, "a finite number ≥ 0");
        OptionChecks.Check(MaxGradNorm > 0 && double.IsFinite(MaxGradNorm), owner, nameof(MaxGradNorm), MaxGradNorm, "a finite number > 0");
        OptionChecks.Check(EmaDecay is >= 0 and <= 1, owner, nameof(EmaDecay), EmaDecay, "0 to 1");
        ArgumentNullException.ThrowIfNull(NoiseSchedule, nameof(NoiseSchedule));
        NoiseSchedule.Validate();
        if (NoiseSchedule.PredictionType != "epsilon")
        {
            throw new ArgumentException(
                $"{owner}.{nameof(NoiseSchedule)}.prediction_type is \"{NoiseSchedule.PredictionType}\"; LaVie's objective predicts \"epsilon\".", nameof(NoiseSchedule));
        }
    }
}
