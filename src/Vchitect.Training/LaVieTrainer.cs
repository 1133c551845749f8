using System.Diagnostics;
using Vchitect.Evaluation.TinyWorld;
using Vchitect.Models.Autoencoders;
using Vchitect.Models.TextEncoders;
using Vchitect.Models.UNets;
using Vchitect.Schedulers;
using static TorchSharp.torch;

namespace Vchitect.Training;

/// <summary>
/// One step's data for <see cref="LaVieTrainer.TrainStep"/>: pixel clips and single images in [−1, 1] with their captions.
/// The caller owns the tensors.
/// </summary>
/// <param name="Videos">Clips (B, 3, F, H, W).</param>
/// <param name="VideoCaptions">B captions.</param>
/// <param name="Images">Images (N, 3, H, W), or null for none.</param>
/// <param name="ImageCaptions">N captions (empty when <paramref name="Images"/> is null).</param>
public sealed record LaVieTrainingBatch(Tensor Videos, IReadOnlyList<string> VideoCaptions, Tensor? Images, IReadOnlyList<string> ImageCaptions);

/// <summary>The losses of one LaVie step.</summary>
/// <param name="Loss">Total: <paramref name="VideoLoss"/> + α·<paramref name="ImageLoss"/>.</param>
/// <param name="VideoLoss">ε-prediction MSE on the clips' latents.</param>
/// <param name="ImageLoss">ε-prediction MSE on the single images' latents (1-frame videos); 0 when the term is off.</param>
/// <param name="GradientNorm">Global gradient norm before clipping.</param>
/// <param name="DroppedCaptions">Captions replaced by "" this step.</param>
public sealed record LaVieStepResult(double Loss, double VideoLoss, double ImageLoss, double GradientNorm, int DroppedCaptions);

/// <summary>
/// Trains a LaVie base model with its objective: the frozen VAE encodes clips to latents (a posterior sample × the VAE's
/// scaling factor); DDPM's forward process noises them at timesteps drawn uniformly from [0, T); the
/// <see cref="UNet3DConditionModel"/>, conditioned on the CLIP text encoder's last hidden state, predicts the noise, and
/// the loss is the MSE to it. Joint image–video training adds α times the same loss on a batch of single frames, each a
/// 1-frame video. Captions are dropped to "" with a probability (classifier-free guidance). The UNet and (optionally) the
/// text encoder are trained together with <see cref="AdamWOptimizer"/>, global-norm clipping and linear warm-up, and an
/// <see cref="ExponentialMovingAverage"/> of their weights is kept.
/// </summary>
/// <remarks>
/// Determinism: step k reads the dataset's clips k·B … k·B + B − 1 and images k·N … k·N + N − 1, and draws all its
/// randomness (dropout, timesteps, noise, posterior samples) from a generator seeded by (seed, k); a checkpoint holds the
/// weights, the EMA, the optimizer moments and k, so resuming at k gives the same bits as not stopping (same device and
/// thread count). The trainer does not own the models; it owns its optimizer and EMA (dispose it).
/// </remarks>
public sealed class LaVieTrainer : IDisposable
{
    private const string Phase = "lavie";
    private const string UNetPrefix = "unet.";
    private const string TextPrefix = "text_encoder.";
    private readonly UNet3DConditionModel _unet;
    private readonly CLIPTextModel _textEncoder;
    private readonly CLIPTokenizer _tokenizer;
    private readonly AutoencoderKL _vae;
    private readonly TinyWorldDataset? _dataset;
    private readonly DDPMScheduler _noise;
    private readonly AdamWOptimizer _optimizer;
    private readonly ExponentialMovingAverage _ema;

    /// <summary>Creates a trainer at step 0; the EMA starts at the models' current weights.</summary>
    /// <param name="unet">The denoiser to train.</param>
    /// <param name="textEncoder">The text encoder (trained when <see cref="LaVieTrainingOptions.TrainTextEncoder"/>).</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="vae">The frozen VAE (its config's scaling factor scales the latents).</param>
    /// <param name="dataset">The clip and image source for <see cref="Train"/>; null when only <see cref="TrainStep"/> is used.</param>
    /// <param name="options">Run options; null for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="ArgumentException">The parts do not fit together (latent channels, text width).</exception>
    public LaVieTrainer(UNet3DConditionModel unet, CLIPTextModel textEncoder, CLIPTokenizer tokenizer, AutoencoderKL vae, TinyWorldDataset? dataset, LaVieTrainingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(unet);
        ArgumentNullException.ThrowIfNull(textEncoder);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(vae);
        Options = options ?? new LaVieTrainingOptions();
        Options.Validate();
        if (unet.Config.InChannels != vae.Config.LatentChannels)
        {
            throw new ArgumentException($"The UNet takes {unet.Config.InChannels} channels but the VAE's latents have {vae.Config.LatentChannels}.", nameof(unet));
        }

        if (unet.Config.CrossAttentionDim != textEncoder.Config.HiddenSize)
        {
            throw new ArgumentException(
                $"The UNet's cross_attention_dim is {unet.Config.CrossAttentionDim} but the text encoder's hidden_size is {textEncoder.Config.HiddenSize}.", nameof(textEncoder));
        }

        _unet = unet;
        _textEncoder = textEncoder;
        _tokenizer = tokenizer;
        _vae = vae;
        _dataset = dataset;
        _noise = new DDPMScheduler(Options.NoiseSchedule);
        var trained = Trained().ToList();
        _optimizer = new AdamWOptimizer(trained, weightDecay: Options.WeightDecay);
        _ema = new ExponentialMovingAverage(trained, Options.EmaDecay);
    }

    /// <summary>The run options.</summary>
    public LaVieTrainingOptions Options { get; }

    /// <summary>Steps completed.</summary>
    public long Step { get; private set; }

    /// <summary>The EMA of the trained weights.</summary>
    public ExponentialMovingAverage Ema => _ema;

    /// <summary>The learning rate step <paramref name="step"/> (0-based) uses: linear warm-up, then constant.</summary>
    /// <param name="step">The 0-based step.</param>
    public double LearningRateAt(long step) =>
        Options.WarmupSteps == 0 ? Options.LearningRate : Options.LearningRate * Math.Min(1.0, (step + 1.0) / Options.WarmupSteps);

    /// <summary>
    /// The EMA weights of one component as a state dict, for writing a model: trained tensors come from the EMA, the rest
    /// (buffers, a frozen text encoder) from the module. The tensors are owned by the trainer or the module.
    /// </summary>
    /// <param name="component"><c>"unet"</c> or <c>"text_encoder"</c>.</param>
    /// <exception cref="ArgumentException">Another component name.</exception>
    public IReadOnlyDictionary<string, Tensor> EmaWeights(string component)
    {
        var (module, prefix) = component switch
        {
            "unet" => ((nn.Module)_unet, UNetPrefix),
            "text_encoder" => (_textEncoder, TextPrefix),
            _ => throw new ArgumentException($"Unknown component \"{component}\"; expected \"unet\" or \"text_encoder\".", nameof(component)),
        };
        var shadow = _ema.Shadow;
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, t) in module.state_dict())
        {
            result[name] = shadow.TryGetValue(prefix + name, out var s) ? s : t;
        }

        return result;
    }

    /// <summary>Step <paramref name="step"/>'s data from the dataset (tensors owned by the caller).</summary>
    /// <param name="step">The 0-based step.</param>
    /// <exception cref="InvalidOperationException">The trainer has no dataset.</exception>
    public LaVieTrainingBatch Batch(long step)
    {
        var dataset = _dataset ?? throw new InvalidOperationException("This LaVieTrainer was created without a dataset; pass batches to TrainStep.");
        using var scope = NewDisposeScope();
        var clips = new Tensor[Options.VideoBatchSize];
        var clipCaptions = new string[clips.Length];
        for (int i = 0; i < clips.Length; i++)
        {
            var sample = dataset.Clip((step * clips.Length) + i);
            var x = TinyWorldRenderer.ToTensor(sample.Video);
            if (Options.Frames is int f)
            {
                if (f > x.shape[1])
                {
                    throw new InvalidOperationException($"LaVieTrainingOptions.Frames is {f} but the dataset's clips have {x.shape[1]} frames.");
                }

                x = x.narrow(1, 0, f);
            }

            clips[i] = x;
            clipCaptions[i] = sample.Text;
        }

        Tensor? images = null;
        var imageCaptions = new string[Options.ImageLossWeight > 0 ? Options.ImageBatchSize : 0];
        if (imageCaptions.Length > 0)
        {
            var frames = new Tensor[imageCaptions.Length];
            for (int i = 0; i < frames.Length; i++)
            {
                var sample = dataset.Image((step * frames.Length) + i);
                frames[i] = TinyWorldRenderer.ToTensor(sample.Video).squeeze(1);
                imageCaptions[i] = sample.Text;
            }

            images = stack(frames).MoveToOuterDisposeScope();
        }

        return new LaVieTrainingBatch(stack(clips).MoveToOuterDisposeScope(), clipCaptions, images, imageCaptions);
    }

    /// <summary>Trains from <see cref="Step"/> to <see cref="LaVieTrainingOptions.Steps"/> on the dataset.</summary>
    /// <param name="progress">Receives one report per step; null for none.</param>
    /// <param name="cancellationToken">Checked before each step; when cancelled, the trainer stays at the last completed step.</param>
    /// <returns>The last step's result, or null when no step ran.</returns>
    /// <exception cref="OperationCanceledException">Cancelled between steps.</exception>
    /// <exception cref="InvalidOperationException">The trainer has no dataset.</exception>
    public LaVieStepResult? Train(IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (_dataset is null)
        {
            throw new InvalidOperationException("This LaVieTrainer was created without a dataset; pass batches to TrainStep.");
        }

        var clock = Stopwatch.StartNew();
        using var log = new JsonLinesLog(Options.LossLogPath, append: Step > 0);
        LaVieStepResult? last = null;
        while (Step < Options.Steps)
        {
            cancellationToken.ThrowIfCancellationRequested();
            double lr = LearningRateAt(Step);
            using (var scope = NewDisposeScope())
            {
                last = TrainStep(Batch(Step));
            }

            log.Write(new Dictionary<string, object>
            {
                ["step"] = Step, ["loss"] = last.Loss, ["video_loss"] = last.VideoLoss, ["image_loss"] = last.ImageLoss,
                ["lr"] = lr, ["grad_norm"] = last.GradientNorm, ["elapsed_s"] = clock.Elapsed.TotalSeconds,
            });
            progress?.Report(new TrainingProgress(Phase, Step, Options.Steps, last.Loss, lr, last.GradientNorm, clock.Elapsed));
        }

        return last;
    }

    /// <summary>One optimisation step on <paramref name="batch"/>, then one EMA update; advances <see cref="Step"/>.</summary>
    /// <param name="batch">The data (pixels in [−1, 1], on the models' device).</param>
    /// <returns>The step's losses.</returns>
    /// <exception cref="ArgumentException">The batch's shapes or caption counts do not match.</exception>
    public LaVieStepResult TrainStep(LaVieTrainingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        CheckBatch(batch);
        using var scope = NewDisposeScope();
        using var rng = TrainingSeeds.ForStep(Options.Seed, Step);
        double lr = LearningRateAt(Step);
        bool useImages = batch.Images is not null && Options.ImageLossWeight > 0 && batch.ImageCaptions.Count > 0;
        _unet.train();
        _textEncoder.train(Options.TrainTextEncoder);
        _vae.eval();
        _optimizer.ZeroGrad();

        // Draw order is fixed (dropout for every caption of the batch, then the video term, then the image term), so
        // the video term's draws do not depend on whether the image term runs.
        var captions = batch.VideoCaptions.Concat(batch.ImageCaptions).ToList();
        int b = batch.VideoCaptions.Count;
        var kept = CaptionDropout.Apply(captions, Options.CaptionDropout, rng).Take(useImages ? captions.Count : b).ToList();
        int dropped = kept.Count(c => c.Length == 0);
        var hidden = EncodeText(kept);

        var videoLoss = NoiseLoss(batch.Videos, hidden.narrow(0, 0, b), rng);
        var loss = videoLoss;
        double imageLoss = 0;
        if (useImages)
        {
            var images = batch.Images!.unsqueeze(2);
            var imageTerm = NoiseLoss(images, hidden.narrow(0, b, batch.ImageCaptions.Count), rng);
            imageLoss = imageTerm.item<float>();
            loss = videoLoss + (Options.ImageLossWeight * imageTerm);
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
                $"""LaVie step {Step}: the gradient norm is {norm} (loss {loss.item<float>()}); the parameters were not updated. Resume from the last checkpoint with a lower learning rate, or see docs/training.md (known issues).""");
        }

        _optimizer.Step(lr);
        _ema.Update();
        Step++;
        return new LaVieStepResult(loss.item<float>(), videoLoss.item<float>(), imageLoss, norm, dropped);
    }

    /// <summary>
    /// Saves the UNet and text encoder, the EMA, the optimizer moments, the step and the seed to one safetensors file
    /// (written to a temporary name, then moved).
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    public void SaveCheckpoint(string path)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, t) in _unet.state_dict())
        {
            tensors["model." + UNetPrefix + name] = t;
        }

        foreach (var (name, t) in _textEncoder.state_dict())
        {
            tensors["model." + TextPrefix + name] = t;
        }

        foreach (var (name, t) in _ema.Shadow)
        {
            tensors["ema." + name] = t;
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
            ["ema_updates"] = CheckpointFile.Invariant(_ema.UpdateCount),
            ["seed"] = CheckpointFile.Invariant(Options.Seed),
            ["train_text_encoder"] = Options.TrainTextEncoder ? "true" : "false",
        });
    }

    /// <summary>Restores a checkpoint written by <see cref="SaveCheckpoint"/> for the same configs and options.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// It is not a LaVie checkpoint, its seed or text-encoder setting differs from the options', or a tensor is missing or misshapen.
    /// </exception>
    public void LoadCheckpoint(string path)
    {
        using var file = CheckpointFile.Open(path, Phase);
        long seed = CheckpointFile.ReadLong(file, "seed");
        if (seed != Options.Seed)
        {
            throw new InvalidDataException($"Checkpoint \"{path}\" was trained with seed {seed}; the options say {Options.Seed}.");
        }

        string text = file.Metadata.GetValueOrDefault("train_text_encoder", "?");
        if (text != (Options.TrainTextEncoder ? "true" : "false"))
        {
            throw new InvalidDataException(
                $"Checkpoint \"{path}\" has train_text_encoder = {text}; the options say {Options.TrainTextEncoder.ToString().ToLowerInvariant()}.");
        }

        CheckpointFile.LoadModule(_unet, CheckpointFile.Reader(file, "model." + UNetPrefix), "model." + UNetPrefix);
        CheckpointFile.LoadModule(_textEncoder, CheckpointFile.Reader(file, "model." + TextPrefix), "model." + TextPrefix);
        _ema.LoadState(CheckpointFile.Reader(file, "ema."), CheckpointFile.ReadLong(file, "ema_updates"));
        _optimizer.LoadState(CheckpointFile.Reader(file, "optim."), CheckpointFile.ReadLong(file, "optimizer_step"));
        Step = CheckpointFile.ReadLong(file, "step");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer.Dispose();
        _ema.Dispose();
    }

    private IEnumerable<KeyValuePair<string, TorchSharp.Modules.Parameter>> Trained()
    {
        foreach (var (name, p) in _unet.named_parameters())
        {
            yield return KeyValuePair.Create(UNetPrefix + name, p);
        }

        if (Options.TrainTextEncoder)
        {
            foreach (var (name, p) in _textEncoder.named_parameters())
            {
                yield return KeyValuePair.Create(TextPrefix + name, p);
            }
        }
    }

    // The text encoder's last hidden state (B, L, D), with gradients when it is trained.
    private Tensor EncodeText(IReadOnlyList<string> captions)
    {
        var ids = _tokenizer.Encode(captions).InputIdsTensor(DeviceOf(_unet));
        if (Options.TrainTextEncoder)
        {
            // An all-ones mask (the same result as none: causal attention only, as CLIP's pipelines use it) sends CLIP's
            // attention through SDPA's explicit-mask path: the is_causal CPU kernel's backward gave NaN gradients at random
            // for batches > 1 (TorchSharp 0.107 / libtorch CPU).
            var mask = ones_like(ids);
            return _textEncoder.forward(new CLIPTextInput(ids, mask)).LastHiddenState;
        }

        using var noGrad = no_grad();
        return _textEncoder.forward(new CLIPTextInput(ids)).LastHiddenState;
    }

    // LaVie's ε-prediction loss for pixel videos (B, 3, F, H, W): encode (frozen VAE), noise at uniform t, predict, MSE.
    private Tensor NoiseLoss(Tensor pixels, Tensor hidden, Vchitect.Core.RandomGenerator rng)
    {
        Tensor latents;
        using (no_grad())
        {
            using var posterior = _vae.EncodeVideo(pixels);
            latents = posterior.Sample(rng) * _vae.Config.ScalingFactor;
        }

        long n = latents.shape[0];
        var u = rng.Rand([n], ScalarType.Float64);
        var t = (u * _noise.NumTrainTimesteps).floor().to_type(ScalarType.Int64).clamp(0, _noise.NumTrainTimesteps - 1).to(latents.device);
        var noise = rng.Randn(latents.shape, latents.dtype, latents.device);
        var noisy = _noise.AddNoise(latents, noise, t);
        var pred = _unet.forward(new UNet3DConditionInput(noisy, t, hidden)).Sample;
        return nn.functional.mse_loss(pred.to_type(ScalarType.Float32), noise.to_type(ScalarType.Float32));
    }

    private static Device DeviceOf(nn.Module module) => module.parameters().First().device;

    private static void CheckBatch(LaVieTrainingBatch batch)
    {
        if (batch.Videos.ndim != 5 || batch.Videos.shape[0] != batch.VideoCaptions.Count)
        {
            throw new ArgumentException(
                $"Videos must be (B, C, F, H, W) with B = {batch.VideoCaptions.Count} captions; got [{string.Join(", ", batch.Videos.shape)}].", nameof(batch));
        }

        if (batch.Images is not null && (batch.Images.ndim != 4 || batch.Images.shape[0] != batch.ImageCaptions.Count))
        {
            throw new ArgumentException(
                $"Images must be (N, C, H, W) with N = {batch.ImageCaptions.Count} captions; got [{string.Join(", ", batch.Images.shape)}].", nameof(batch));
        }
    }
}
