using System.Diagnostics;
using Vchitect.Evaluation.TinyWorld;
using Vchitect.Models.Autoencoders;
using static TorchSharp.torch;

namespace Vchitect.Training;

/// <summary>Options of one <see cref="VaeTrainer"/> run (not part of the model's config).</summary>
public sealed record VaeTrainingOptions
{
    /// <summary>The step training ends at; default 2000, ≥ 0.</summary>
    public int Steps { get; init; } = 2000;

    /// <summary>Images per step; default 8, ≥ 1.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Peak AdamW learning rate; default 5e-4, &gt; 0.</summary>
    public double LearningRate { get; init; } = 5e-4;

    /// <summary>Steps of linear learning-rate warm-up from 0; default 50, ≥ 0.</summary>
    public int WarmupSteps { get; init; } = 50;

    /// <summary>AdamW's decoupled weight decay; default 0.01, ≥ 0.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Global gradient-norm limit; default 1.0, &gt; 0.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>Weight of the L1 reconstruction term added to the MSE; default 0 (MSE only), ≥ 0.</summary>
    public double L1Weight { get; init; }

    /// <summary>β, the weight of the KL term (per latent element, see <see cref="VaeTrainer"/>); default 1e-4, ≥ 0.</summary>
    public double KlWeight { get; init; } = 1e-4;

    /// <summary>Seed of the data order and the posterior samples; default 0.</summary>
    public long Seed { get; init; }

    /// <summary>A JSON-lines loss log (one object per step), appended to on resume; null (default) for none.</summary>
    public string? LossLogPath { get; init; }

    /// <summary>Checks every option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the message names it.</exception>
    public void Validate()
    {
        const string owner = nameof(VaeTrainingOptions);
        OptionChecks.Check(Steps >= 0, owner, nameof(Steps), Steps, "at least 0");
        OptionChecks.Check(BatchSize >= 1, owner, nameof(BatchSize), BatchSize, "at least 1");
        OptionChecks.Check(LearningRate > 0 && double.IsFinite(LearningRate), owner, nameof(LearningRate), LearningRate, "a finite number > 0");
        OptionChecks.Check(WarmupSteps >= 0, owner, nameof(WarmupSteps), WarmupSteps, "at least 0");
        OptionChecks.Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), owner, nameof(WeightDecay), WeightDecay, "a finite number ≥ 0");
        OptionChecks.Check(MaxGradNorm > 0 && double.IsFinite(MaxGradNorm), owner, nameof(MaxGradNorm), MaxGradNorm, "a finite number > 0");
        OptionChecks.Check(L1Weight >= 0 && double.IsFinite(L1Weight), owner, nameof(L1Weight), L1Weight, "a finite number ≥ 0");
        OptionChecks.Check(KlWeight >= 0 && double.IsFinite(KlWeight), owner, nameof(KlWeight), KlWeight, "a finite number ≥ 0");
    }
}

/// <summary>The losses of one VAE step.</summary>
/// <param name="Loss">Total: MSE + L1Weight·L1 + KlWeight·KL.</param>
/// <param name="Mse">Mean squared reconstruction error per pixel value, images in [−1, 1].</param>
/// <param name="L1">Mean absolute reconstruction error.</param>
/// <param name="Kl">KL(q(z|x) ‖ N(0, I)) per latent element: mean of ½(μ² + σ² − 1 − log σ²).</param>
/// <param name="GradientNorm">Global gradient norm before clipping.</param>
public sealed record VaeStepResult(double Loss, double Mse, double L1, double Kl, double GradientNorm);

/// <summary>
/// Trains an <see cref="AutoencoderKL"/> on tiny-world frames: each step encodes a batch of images, samples the posterior
/// (reparameterised, so gradients reach the encoder), decodes, and minimises MSE (+ L1Weight·L1) + KlWeight·KL with
/// <see cref="AdamWOptimizer"/>, global-norm gradient clipping and linear warm-up. Step k's images are the dataset's
/// <c>Image(k·B … k·B + B − 1)</c> and its noise comes from a generator seeded by (seed, k), so a resumed run is
/// bit-identical to an uninterrupted one.
/// </summary>
/// <remarks>The trainer does not own the VAE; it owns its optimizer (dispose the trainer).</remarks>
public sealed class VaeTrainer : IDisposable
{
    private const string Phase = "vae";
    private readonly AutoencoderKL _vae;
    private readonly TinyWorldDataset _dataset;
    private readonly AdamWOptimizer _optimizer;

    /// <summary>Creates a trainer at step 0.</summary>
    /// <param name="vae">The autoencoder to train (in place).</param>
    /// <param name="dataset">The image source.</param>
    /// <param name="options">Run options; null for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public VaeTrainer(AutoencoderKL vae, TinyWorldDataset dataset, VaeTrainingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(vae);
        ArgumentNullException.ThrowIfNull(dataset);
        Options = options ?? new VaeTrainingOptions();
        Options.Validate();
        _vae = vae;
        _dataset = dataset;
        _optimizer = new AdamWOptimizer(
            vae.named_parameters().Select(p => KeyValuePair.Create(p.name, p.parameter)), weightDecay: Options.WeightDecay);
    }

    /// <summary>The run options.</summary>
    public VaeTrainingOptions Options { get; }

    /// <summary>Steps completed.</summary>
    public long Step { get; private set; }

    /// <summary>The learning rate step <paramref name="step"/> (0-based) uses: linear warm-up, then constant.</summary>
    /// <param name="step">The 0-based step.</param>
    public double LearningRateAt(long step) =>
        Options.WarmupSteps == 0 ? Options.LearningRate : Options.LearningRate * Math.Min(1.0, (step + 1.0) / Options.WarmupSteps);

    /// <summary>The images of step <paramref name="step"/>: (B, 3, H, W) in [−1, 1], owned by the caller.</summary>
    /// <param name="step">The 0-based step.</param>
    public Tensor Batch(long step)
    {
        using var scope = NewDisposeScope();
        var images = new Tensor[Options.BatchSize];
        for (int i = 0; i < images.Length; i++)
        {
            images[i] = TinyWorldRenderer.ToTensor(_dataset.Image((step * Options.BatchSize) + i).Video).squeeze(1);
        }

        return stack(images).MoveToOuterDisposeScope();
    }

    /// <summary>Trains from <see cref="Step"/> to <see cref="VaeTrainingOptions.Steps"/>.</summary>
    /// <param name="progress">Receives one report per step; null for none.</param>
    /// <param name="cancellationToken">Checked before each step; when cancelled, the trainer stays at the last completed step.</param>
    /// <returns>The last step's result, or null when no step ran.</returns>
    /// <exception cref="OperationCanceledException">Cancelled between steps.</exception>
    public VaeStepResult? Train(IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        using var log = new JsonLinesLog(Options.LossLogPath, append: Step > 0);
        VaeStepResult? last = null;
        while (Step < Options.Steps)
        {
            cancellationToken.ThrowIfCancellationRequested();
            double lr = LearningRateAt(Step);
            using (var scope = NewDisposeScope())
            {
                using var images = Batch(Step);
                last = TrainStep(images);
            }

            log.Write(new Dictionary<string, object>
            {
                ["step"] = Step, ["loss"] = last.Loss, ["mse"] = last.Mse, ["l1"] = last.L1, ["kl"] = last.Kl,
                ["lr"] = lr, ["grad_norm"] = last.GradientNorm, ["elapsed_s"] = clock.Elapsed.TotalSeconds,
            });
            progress?.Report(new TrainingProgress(Phase, Step, Options.Steps, last.Loss, lr, last.GradientNorm, clock.Elapsed));
        }

        return last;
    }

    /// <summary>One optimisation step on <paramref name="images"/> (B, 3, H, W) in [−1, 1]; advances <see cref="Step"/>.</summary>
    /// <param name="images">The batch, on the VAE's device and dtype.</param>
    /// <returns>The step's losses.</returns>
    /// <exception cref="ArgumentException">The images are not 4-D.</exception>
    public VaeStepResult TrainStep(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.ndim != 4)
        {
            throw new ArgumentException($"images must be (B, C, H, W); got [{string.Join(", ", images.shape)}].", nameof(images));
        }

        using var scope = NewDisposeScope();
        using var rng = TrainingSeeds.ForStep(Options.Seed, Step);
        double lr = LearningRateAt(Step);
        _vae.train();
        _optimizer.ZeroGrad();
        using var posterior = _vae.Encode(images);
        var z = posterior.Sample(rng);
        var recon = _vae.Decode(z);
        var mse = nn.functional.mse_loss(recon, images);
        var l1 = nn.functional.l1_loss(recon, images);
        var kl = (0.5 * (posterior.Mean.square() + posterior.LogVar.exp() - 1 - posterior.LogVar)).mean();
        var loss = mse + (Options.KlWeight * kl);
        if (Options.L1Weight > 0)
        {
            loss = loss + (Options.L1Weight * l1);
        }

        loss.backward();
        double norm;
        using (NewDisposeScope())
        {
            norm = GradientClipping.ClipGradients(_optimizer.Gradients(), Options.MaxGradNorm);
        }

        if (!double.IsFinite(norm))
        {
            throw new InvalidOperationException(
                $"""VAE step {Step}: the gradient norm is {norm} (loss {loss.item<float>()}); the parameters were not updated. Resume from the last checkpoint with a lower learning rate, or see docs/training.md (known issues).""");
        }

        _optimizer.Step(lr);
        Step++;
        return new VaeStepResult(loss.item<float>(), mse.item<float>(), l1.item<float>(), kl.item<float>(), norm);
    }

    /// <summary>
    /// The latent scaling factor for diffusion: 1 / std of posterior samples over <paramref name="batches"/> batches of
    /// the dataset (the way SD's 0.18215 was chosen), so scaled latents have unit variance.
    /// </summary>
    /// <param name="batches">Batches to average over, ≥ 1; default 4. They are drawn from the end of the training stream.</param>
    /// <returns>The factor to write as <see cref="AutoencoderKLConfig.ScalingFactor"/>.</returns>
    public double MeasureScalingFactor(int batches = 4)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        _vae.eval();
        var samples = new List<Tensor>();
        for (int b = 0; b < batches; b++)
        {
            using var rng = TrainingSeeds.ForStep(Options.Seed ^ 0x5CA1E, b);
            using var images = Batch(Options.Steps + b);
            using var posterior = _vae.Encode(images);
            samples.Add(posterior.Sample(rng));
        }

        return 1.0 / cat(samples).std().item<float>();
    }

    /// <summary>Saves the VAE, the optimizer moments and the step to one safetensors file (written to a temporary name, then moved).</summary>
    /// <param name="path">The checkpoint file.</param>
    public void SaveCheckpoint(string path)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, t) in _vae.state_dict())
        {
            tensors["model.vae." + name] = t;
        }

        foreach (var (key, t) in _optimizer.State())
        {
            tensors["optim." + key] = t;
        }

        CheckpointFile.Write(path, tensors, new Dictionary<string, string>
        {
            ["phase"] = Phase,
            ["step"] = CheckpointFile.Invariant(Step),
            ["optimizer_step"] = CheckpointFile.Invariant(_optimizer.StepCount),
            ["seed"] = CheckpointFile.Invariant(Options.Seed),
        });
    }

    /// <summary>Restores a checkpoint written by <see cref="SaveCheckpoint"/> for the same VAE config.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">It is not a VAE checkpoint, its seed differs from the options', or a tensor is missing or misshapen.</exception>
    public void LoadCheckpoint(string path)
    {
        using var file = CheckpointFile.Open(path, Phase);
        long seed = CheckpointFile.ReadLong(file, "seed");
        if (seed != Options.Seed)
        {
            throw new InvalidDataException($"Checkpoint \"{path}\" was trained with seed {seed}; the options say {Options.Seed}.");
        }

        CheckpointFile.LoadModule(_vae, CheckpointFile.Reader(file, "model.vae."), "model.vae.");
        _optimizer.LoadState(CheckpointFile.Reader(file, "optim."), CheckpointFile.ReadLong(file, "optimizer_step"));
        Step = CheckpointFile.ReadLong(file, "step");
    }

    /// <inheritdoc />
    public void Dispose() => _optimizer.Dispose();
}
