using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using Vchitect.Core;
using Vchitect.Core.Media;
using Vchitect.Core.Models;
using Vchitect.Models.Autoencoders;
using Vchitect.Models.Denoising;
using Vchitect.Models.UNets;
using Vchitect.Schedulers;
using static TorchSharp.torch;

namespace Vchitect.Pipelines;

/// <summary>
/// LaVie's temporal interpolation stage (<c>interpolation/sample.py</c>, "copy_no_mask" mode): a video of N frames becomes
/// 4N − 3 frames (16 → 61). Each input frame is VAE-encoded; output frame j is guided by input frame ⌊(j + 1) / 4⌋, whose
/// latents are concatenated to the noisy latents on the channel axis (the UNet takes 8 channels); the interpolation UNet
/// (sparse-causal attention, <c>use_first_frame</c>) denoises with the ADM sampler (DDIM, η 0, 50 respaced steps of the
/// linear 1000-step process) and classifier-free guidance 4 against the prompt "None"; the VAE decodes every frame. Owns its
/// modules: dispose it.
/// </summary>
/// <remarks>
/// <para>Usable alone (any <see cref="Video"/>) or chained after <see cref="LaVieVideoPipeline"/>: the stages exchange decoded
/// videos, as the reference scripts do. Same seed, options and device give the same video.</para>
/// <para>Random draws follow the reference, which re-seeds torch before each: the VAE posterior noise is drawn for all
/// 4N − 3 resampled frames (shape (4N − 3, 4, h, w), as the reference encodes its 61 resampled frames; only the rows of
/// original frames are used, so only the N distinct frames are encoded), the initial latents (1, 4, 4N − 3, h, w) from a fresh
/// generator with the seed, and the sampler's noise from a third one.</para>
/// <para><see cref="Denoiser"/> and <see cref="Sampler"/> are the seams plugins decorate.</para>
/// </remarks>
/// <example>
/// <code>
/// using var lavie = LaVieVideoPipeline.FromPretrained("models/stable-diffusion-v1-4");
/// using var interp = LaVieInterpolationPipeline.FromPretrained("models/stable-diffusion-v1-4");   // + lavie_interpolation.pt
/// Video clip = lavie.Generate("a teddy bear walking on the beach", new LaVieOptions { Seed = 400 });
/// Video smooth = interp.Interpolate(clip, "a teddy bear walking on the beach");               // 61 frames at 24 fps
/// </code>
/// </example>
public sealed class LaVieInterpolationPipeline : IVideoPipeline, IDisposable
{
    /// <summary>File name of LaVie's interpolation UNet checkpoint, looked for inside and next to the model folder.</summary>
    public const string UNetCheckpointName = "lavie_interpolation.pt";

    private readonly IPromptEncoder _promptEncoder;
    private readonly UNet3DConditionModel _unet;
    private readonly AutoencoderKL _vae;
    private readonly GuidedDiffusionScheduler _scheduler;
    private readonly ILogger _logger;
    private bool _disposed;

    /// <summary>Builds the pipeline from loaded components and takes ownership of them.</summary>
    /// <param name="promptEncoder">Prompts → (B, L, D) text features with D = the UNet's cross-attention dim.</param>
    /// <param name="unet">The interpolation UNet: <c>in_channels</c> = 2 × the VAE's latent channels (its parameters fix the pipeline's device and dtype).</param>
    /// <param name="vae">The VAE.</param>
    /// <param name="logger">Receives run messages; null for none.</param>
    /// <exception cref="ArgumentException">The components do not fit together.</exception>
    public LaVieInterpolationPipeline(IPromptEncoder promptEncoder, UNet3DConditionModel unet, AutoencoderKL vae, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(promptEncoder);
        ArgumentNullException.ThrowIfNull(unet);
        ArgumentNullException.ThrowIfNull(vae);
        if (promptEncoder.EmbeddingDim != unet.Config.CrossAttentionDim)
        {
            throw new ArgumentException($"The prompt encoder gives {promptEncoder.EmbeddingDim}-d features; the UNet's cross_attention_dim is {unet.Config.CrossAttentionDim}.", nameof(promptEncoder));
        }

        if (unet.Config.InChannels != 2 * vae.Config.LatentChannels || unet.Config.OutChannels != vae.Config.LatentChannels)
        {
            throw new ArgumentException(
                $"The interpolation UNet must take 2 × {vae.Config.LatentChannels} channels (noisy + guide latents) and give {vae.Config.LatentChannels}; it has in_channels {unet.Config.InChannels}, out_channels {unet.Config.OutChannels}.",
                nameof(unet));
        }

        _promptEncoder = promptEncoder;
        _unet = unet;
        _vae = vae;
        _logger = logger ?? NullLogger.Instance;
        _scheduler = new GuidedDiffusionScheduler(new GuidedDiffusionSchedulerConfig()) { SamplingMethod = AdmSamplingMethod.Ddim };
        var p = unet.parameters().First();
        Device = p.device;
        DType = p.dtype;
        unet.eval();
        vae.eval();
        Denoiser = new UNet3DDenoiser(unet);
    }

    /// <summary>The device the modules live on.</summary>
    public Device Device { get; }

    /// <summary>The UNet's dtype (latents are kept in it).</summary>
    public ScalarType DType { get; }

    /// <inheritdoc/>
    public IVideoDenoiser Denoiser { get; set; }

    /// <inheritdoc/>
    public IVideoSampler Sampler { get; set; } = DenoisingLoop.Instance;

    /// <summary>
    /// Loads a hub-style SD v1.4 folder plus LaVie's interpolation UNet weights: <c>tokenizer/</c>, <c>text_encoder/</c>,
    /// <c>vae/</c>, <c>unet/config.json</c> (inflated to 3-D with <c>use_first_frame</c> true and <c>in_channels</c> 2 × the VAE's
    /// latent channels, as the reference's <c>from_pretrained_2d</c> does), and the weights as <c>lavie_interpolation.pt</c> in
    /// the folder or next to it, or as <c>unet/</c> weights.
    /// </summary>
    /// <param name="path">The folder.</param>
    /// <param name="device">Device; null for the CPU.</param>
    /// <param name="dtype">Weights dtype; null for float32 (the reference runs this stage in float32).</param>
    /// <param name="logger">Receives load warnings; null for none.</param>
    /// <returns>The pipeline, owned by the caller.</returns>
    /// <exception cref="FileNotFoundException">A config or weights file is missing.</exception>
    /// <exception cref="Core.Configuration.ConfigException">A config is invalid.</exception>
    /// <exception cref="Core.Weights.StateDictMismatchException">Weights do not fit their config.</exception>
    public static LaVieInterpolationPipeline FromPretrained(string path, Device? device = null, ScalarType? dtype = null, ILogger? logger = null) =>
        FromPretrained(path, new LaVieInterpolationLoadOptions(), device, dtype, logger);

    /// <summary>Loads a model folder as <see cref="FromPretrained(string, Device?, ScalarType?, ILogger?)"/> does, with explicit parts.</summary>
    /// <param name="path">The folder.</param>
    /// <param name="loadOptions">Where the UNet weights are; an optional prompt encoder (taken over even when loading fails).</param>
    /// <param name="device">Device; null for the CPU.</param>
    /// <param name="dtype">Weights dtype; null for float32.</param>
    /// <param name="logger">Receives load warnings; null for none.</param>
    /// <returns>The pipeline, owned by the caller.</returns>
    /// <exception cref="FileNotFoundException">A config or weights file is missing.</exception>
    /// <exception cref="Core.Configuration.ConfigException">A config is invalid.</exception>
    /// <exception cref="Core.Weights.StateDictMismatchException">Weights do not fit their config.</exception>
    public static LaVieInterpolationPipeline FromPretrained(string path, LaVieInterpolationLoadOptions loadOptions, Device? device = null, ScalarType? dtype = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(loadOptions);
        var folder = ModelFolder.Open(path);
        IPromptEncoder? promptEncoder = loadOptions.PromptEncoder;
        UNet3DConditionModel? unet = null;
        AutoencoderKL? vae = null;
        try
        {
            promptEncoder ??= ClipPromptEncoder.FromPretrained(folder.Path, device, dtype, logger);
            vae = AutoencoderKL.FromPretrained(folder, "vae", dtype, device, logger: logger);
            int latentChannels = vae.Config.LatentChannels;
            unet = LaVieLoading.LoadUNet(
                folder,
                c => c.Inflate() with { UseFirstFrame = true, InChannels = 2 * latentChannels },
                loadOptions.UNetWeights ?? LaVieLoading.FindCheckpoint(folder.Path, UNetCheckpointName),
                device,
                dtype,
                logger);
            return new LaVieInterpolationPipeline(promptEncoder, unet, vae, logger);
        }
        catch
        {
            unet?.Dispose();
            vae?.Dispose();
            promptEncoder?.Dispose();
            throw;
        }
    }

    /// <summary>The number of frames an input of <paramref name="inputFrames"/> frames becomes: 4N − 3 (16 → 61).</summary>
    /// <param name="inputFrames">N ≥ 1.</param>
    /// <returns>4N − 3.</returns>
    public static int OutputFrameCount(int inputFrames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputFrames, 1);
        return checked((4 * inputFrames) - 3);
    }

    /// <summary>The input frame that guides output frame <paramref name="outputFrame"/>: ⌊(j + 1) / 4⌋ (the reference's repeat ×4, drop 1 first and 2 last).</summary>
    /// <param name="outputFrame">j, 0 … 4N − 4.</param>
    /// <returns>The input frame index.</returns>
    public static int GuideFrameOf(int outputFrame)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outputFrame);
        return (outputFrame + 1) / 4;
    }

    /// <summary>Interpolates <paramref name="video"/> (N frames) to 4N − 3 frames.</summary>
    /// <param name="video">The input video, at least 2 frames; resized to the options' size.</param>
    /// <param name="prompt">The prompt describing the video (<see cref="LaVieInterpolationOptions.AdditionalPrompt"/> is appended).</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="progress">Receives an encode report, one report per denoising step, and decode reports.</param>
    /// <param name="cancellationToken">Checked before each step and each VAE chunk.</param>
    /// <returns>The interpolated video (frames, fps, seed).</returns>
    /// <exception cref="ArgumentException">The video has fewer than 2 frames.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the parameter name is the option's).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pipeline was disposed.</exception>
    public Video Interpolate(Video video, string prompt, LaVieInterpolationOptions? options = null, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(video, prompt, options, null, progress, cancellationToken);

    /// <summary>Interpolates <paramref name="video"/>, calling <paramref name="stepCallback"/> after each denoising step.</summary>
    /// <param name="video">The input video, at least 2 frames.</param>
    /// <param name="prompt">The prompt describing the video.</param>
    /// <param name="stepCallback">Reads or replaces the (1, C, 4N − 3, h, w) latents, or stops early (the current latents are then decoded).</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="progress">Progress reports.</param>
    /// <param name="cancellationToken">Checked before each step and each VAE chunk.</param>
    /// <returns>The interpolated video.</returns>
    /// <exception cref="ArgumentException">The video has fewer than 2 frames.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public Video Interpolate(Video video, string prompt, DenoisingStepCallback stepCallback, LaVieInterpolationOptions? options = null, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stepCallback);
        return Run(video, prompt, options, stepCallback, progress, cancellationToken);
    }

    /// <summary>Disposes the UNet, the VAE and the prompt encoder.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _unet.Dispose();
        _vae.Dispose();
        _promptEncoder.Dispose();
    }

    private Video Run(Video video, string prompt, LaVieInterpolationOptions? options, DenoisingStepCallback? stepCallback, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(video);
        ArgumentNullException.ThrowIfNull(prompt);
        if (video.FrameCount < 2)
        {
            throw new ArgumentException($"The video has {video.FrameCount} frame; interpolation needs at least 2.", nameof(video));
        }

        options ??= new LaVieInterpolationOptions();
        options.Validate(_vae.SpatialScaleFactor, _scheduler.TypedConfig.NumTrainTimesteps);
        cancellationToken.ThrowIfCancellationRequested();
        _scheduler.Eta = (float)options.Eta;

        var clock = Stopwatch.StartNew();
        long seed = options.Seed ?? RandomGenerator.NewSeed();
        int n = video.FrameCount;
        int frames = OutputFrameCount(n);
        int f = _vae.SpatialScaleFactor;
        long h = options.Height / f, w = options.Width / f;
        using var inference = inference_mode();
        using var scope = NewDisposeScope();

        var cond = _promptEncoder.Encode([prompt + options.AdditionalPrompt]).to(DType, Device);
        var uncond = options.GuidanceScale > 1.0 ? _promptEncoder.Encode([options.NegativePrompt]).to(DType, Device) : null;

        // Guide latents: the N input frames, encoded, with the posterior noise rows of the reference's resampled frames 4k.
        var vaeType = _vae.parameters().First().dtype;
        var pixels = VideoTensors.ToModelInput(video, options.Height, options.Width, vaeType, Device);
        var posterior = _vae.EncodeVideo(pixels, options.VaeChunkFrames, cancellationToken);
        long c = posterior.Mean.shape[1];
        Tensor noise;
        using (var encodeRng = new RandomGenerator(seed))
        {
            var all = encodeRng.Randn([frames, c, h, w]);
            noise = all.index_select(0, arange(0, frames, 4, ScalarType.Int64)).permute(1, 0, 2, 3).unsqueeze(0);
        }

        var guide = posterior.Sample(noise) * _vae.Config.ScalingFactor;
        posterior.Dispose();
        var index = tensor(Enumerable.Range(0, frames).Select(j => (long)GuideFrameOf(j)).ToArray(), ScalarType.Int64, guide.device);
        var copied = guide.index_select(2, index).to(DType, Device);
        progress?.Report(new GenerationProgress(GenerationPhase.Encode, 1, 1, clock.Elapsed));

        Tensor latents;
        using (var noiseRng = new RandomGenerator(seed))
        {
            latents = noiseRng.Randn([1, c, frames, h, w]).to(DType, Device) * _scheduler.InitNoiseSigma;
        }

        using var samplerRng = new RandomGenerator(seed);
        var context = new SamplingContext
        {
            Denoiser = Denoiser,
            Scheduler = _scheduler,
            Steps = options.Steps,
            InitialLatents = latents,
            Conditioning = new VideoConditioning(cond) { ConcatLatents = copied },
            UnconditionalConditioning = uncond is null ? null : new VideoConditioning(uncond) { ConcatLatents = copied },
            GuidanceScale = options.GuidanceScale,
            Generator = samplerRng.Generator,
            StepCallback = stepCallback,
            Progress = progress,
            CancellationToken = cancellationToken,
            Clock = clock,
        };
        var denoised = Sampler.Sample(context);

        cancellationToken.ThrowIfCancellationRequested();
        progress?.Report(new GenerationProgress(GenerationPhase.Decode, 0, 1, clock.Elapsed));
        var decoded = _vae.DecodeVideo(denoised.to(vaeType) / _vae.Config.ScalingFactor, options.VaeChunkFrames, tiled: false, cancellationToken);
        var result = Video.FromTensor(VideoTensors.ToFrames(decoded)[0], options.Fps, seed);
        progress?.Report(new GenerationProgress(GenerationPhase.Decode, 1, 1, clock.Elapsed));
        _logger.LogDebug("LaVie interpolation: {In} → {Out} frames in {Elapsed}.", n, frames, clock.Elapsed);
        return result;
    }
}
