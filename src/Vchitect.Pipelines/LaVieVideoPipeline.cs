using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using Vchitect.Core;
using Vchitect.Core.Configuration;
using Vchitect.Core.Media;
using Vchitect.Core.Models;
using Vchitect.Core.Weights;
using Vchitect.Models.Autoencoders;
using Vchitect.Models.Denoising;
using Vchitect.Models.UNets;
using Vchitect.Schedulers;
using static TorchSharp.torch;

namespace Vchitect.Pipelines;

/// <summary>
/// LaVie's base text-to-video pipeline (<c>base/pipelines/pipeline_videogen.py</c>): CLIP prompt encoding, the LaVie 3D
/// UNet with classifier-free guidance, a DDPM (or DDIM / Euler) scheduler with LaVie's linear βs, and the SD v1.4 VAE
/// decoding every frame. Owns its modules: dispose it.
/// </summary>
/// <remarks>
/// <para>Generation is synchronous and stays on the calling thread (TorchSharp dispose scopes and inference mode are per
/// thread); wrap it in <c>Task.Run</c> yourself. Instances are not thread-safe. Same seed, options and device give the same
/// video.</para>
/// <para>The sampling core is replaceable: <see cref="Denoiser"/> and <see cref="Sampler"/> are the seams that plugins
/// (FreeU, FreeInit, FreeNoise) decorate.</para>
/// </remarks>
/// <example>
/// <code>
/// using var pipe = LaVieVideoPipeline.FromPretrained("models/stable-diffusion-v1-4");   // + lavie_base.pt inside
/// Video video = pipe.Generate("a teddy bear walking on the beach", new LaVieOptions { Steps = 25, Seed = 400 });
/// video.SaveGif("bear.gif");
/// </code>
/// </example>
public sealed class LaVieVideoPipeline : IVideoPipeline, IDisposable
{
    /// <summary>File name of LaVie's base UNet checkpoint, looked for inside and next to the model folder.</summary>
    public const string UNetCheckpointName = "lavie_base.pt";

    private readonly IPromptEncoder _promptEncoder;
    private readonly UNet3DConditionModel _unet;
    private readonly AutoencoderKL _vae;
    private readonly DiffusersConfig _schedulerConfig;
    private readonly ILogger _logger;
    private readonly Dictionary<LaVieScheduler, IScheduler> _schedulers = [];
    private bool _disposed;

    /// <summary>Not available yet: the embedded default model arrives with issue 5.</summary>
    /// <exception cref="InvalidOperationException">Always, until the embedded default model ships.</exception>
    public LaVieVideoPipeline()
    {
        throw new InvalidOperationException(
            "The embedded default LaVie model is not shipped yet (it arrives with issue 5). Load a model folder with LaVieVideoPipeline.FromPretrained(path) instead.");
    }

    /// <summary>Builds the pipeline from loaded components and takes ownership of them.</summary>
    /// <param name="promptEncoder">Prompts → (B, L, D) text features with D = the UNet's cross-attention dim.</param>
    /// <param name="unet">The LaVie 3D UNet (its parameters fix the pipeline's device and dtype).</param>
    /// <param name="vae">The VAE.</param>
    /// <param name="schedulerConfig">The scheduler config (any registered class; LaVie's overrides are applied); null for LaVie's DDPM defaults.</param>
    /// <param name="logger">Receives load and run messages; null for none.</param>
    /// <exception cref="ArgumentException">The components do not fit together.</exception>
    public LaVieVideoPipeline(IPromptEncoder promptEncoder, UNet3DConditionModel unet, AutoencoderKL vae, DiffusersConfig? schedulerConfig = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(promptEncoder);
        ArgumentNullException.ThrowIfNull(unet);
        ArgumentNullException.ThrowIfNull(vae);
        if (promptEncoder.EmbeddingDim != unet.Config.CrossAttentionDim)
        {
            throw new ArgumentException($"The prompt encoder gives {promptEncoder.EmbeddingDim}-d features; the UNet's cross_attention_dim is {unet.Config.CrossAttentionDim}.", nameof(promptEncoder));
        }

        if (vae.Config.LatentChannels != unet.Config.InChannels)
        {
            throw new ArgumentException($"The VAE has {vae.Config.LatentChannels} latent channels; the UNet takes {unet.Config.InChannels}.", nameof(vae));
        }

        _promptEncoder = promptEncoder;
        _unet = unet;
        _vae = vae;
        _logger = logger ?? NullLogger.Instance;
        _schedulerConfig = WithLaVieOverrides(schedulerConfig ?? new DDPMSchedulerConfig());
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

    /// <summary>The denoiser used by generations: the UNet adapter by default; replace it with a decorator (ControlNet, FreeU).</summary>
    public IVideoDenoiser Denoiser { get; set; }

    /// <summary>The sampler used by generations: <see cref="DenoisingLoop"/> by default; replace it with a decorator (FreeInit, FreeNoise).</summary>
    public IVideoSampler Sampler { get; set; } = DenoisingLoop.Instance;

    /// <summary>The scheduler config with LaVie's overrides (β linear 1e-4 … 0.02, <c>steps_offset</c> 1, <c>clip_sample</c> false).</summary>
    public DiffusersConfig SchedulerConfig => _schedulerConfig;

    /// <summary>
    /// Loads a hub-style SD v1.4 folder plus LaVie's UNet weights. Layout:
    /// <c>model_index.json</c>, <c>tokenizer/</c> (vocab.json, merges.txt), <c>text_encoder/</c>, <c>vae/</c>,
    /// <c>scheduler/scheduler_config.json</c>, <c>unet/config.json</c>, and the UNet weights as <c>lavie_base.pt</c> in the
    /// folder or next to it, or as <c>unet/</c> weights (safetensors or .bin).
    /// </summary>
    /// <param name="path">The folder.</param>
    /// <param name="device">Device; null for the CPU.</param>
    /// <param name="dtype">Weights dtype (e.g. float16 on CUDA); null for float32.</param>
    /// <param name="logger">Receives load warnings; null for none.</param>
    /// <returns>The pipeline, owned by the caller.</returns>
    /// <exception cref="FileNotFoundException">A config or weights file is missing.</exception>
    /// <exception cref="ConfigException">A config is invalid.</exception>
    /// <exception cref="StateDictMismatchException">Weights do not fit their config.</exception>
    public static LaVieVideoPipeline FromPretrained(string path, Device? device = null, ScalarType? dtype = null, ILogger? logger = null) =>
        FromPretrained(path, new LaVieLoadOptions(), device, dtype, logger);

    /// <summary>Loads a model folder as <see cref="FromPretrained(string, Device?, ScalarType?, ILogger?)"/> does, with explicit parts.</summary>
    /// <param name="path">The folder.</param>
    /// <param name="loadOptions">Where the UNet weights are; an optional prompt encoder used instead of the folder's CLIP (taken over even when loading fails).</param>
    /// <param name="device">Device; null for the CPU.</param>
    /// <param name="dtype">Weights dtype; null for float32.</param>
    /// <param name="logger">Receives load warnings; null for none.</param>
    /// <returns>The pipeline, owned by the caller.</returns>
    /// <exception cref="FileNotFoundException">A config or weights file is missing.</exception>
    /// <exception cref="ConfigException">A config is invalid.</exception>
    /// <exception cref="StateDictMismatchException">Weights do not fit their config.</exception>
    public static LaVieVideoPipeline FromPretrained(string path, LaVieLoadOptions loadOptions, Device? device = null, ScalarType? dtype = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(loadOptions);
        var folder = ModelFolder.Open(path);
        var schedulerConfig = ReadSchedulerConfig(folder, logger);
        IPromptEncoder? promptEncoder = loadOptions.PromptEncoder;
        UNet3DConditionModel? unet = null;
        AutoencoderKL? vae = null;
        try
        {
            promptEncoder ??= ClipPromptEncoder.FromPretrained(folder.Path, device, dtype, logger);
            unet = LaVieLoading.LoadUNet(folder, c => c, loadOptions.UNetWeights ?? LaVieLoading.FindCheckpoint(folder.Path, UNetCheckpointName), device, dtype, logger);
            vae = AutoencoderKL.FromPretrained(folder, "vae", dtype, device, logger: logger);
            return new LaVieVideoPipeline(promptEncoder, unet, vae, schedulerConfig, logger);
        }
        catch
        {
            unet?.Dispose();
            vae?.Dispose();
            promptEncoder?.Dispose();
            throw;
        }
    }

    /// <summary>Generates one video for <paramref name="prompt"/>.</summary>
    /// <param name="prompt">The text prompt.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="progress">Receives an encode report, one report per denoising step, and decode reports.</param>
    /// <param name="cancellationToken">Checked before each step and each VAE chunk.</param>
    /// <returns>The video (frames, fps, seed); managed data, nothing to dispose.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the parameter name is the option's).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pipeline was disposed.</exception>
    public Video Generate(string prompt, LaVieOptions? options = null, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Run([prompt], options, null, progress, cancellationToken)[0];
    }

    /// <summary>Generates one video, calling <paramref name="stepCallback"/> after each denoising step.</summary>
    /// <param name="prompt">The text prompt.</param>
    /// <param name="stepCallback">Reads or replaces the latents, or stops early (the current latents are then decoded).</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="progress">Progress reports.</param>
    /// <param name="cancellationToken">Checked before each step and each VAE chunk.</param>
    /// <returns>The video.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public Video Generate(string prompt, DenoisingStepCallback stepCallback, LaVieOptions? options = null, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(stepCallback);
        return Run([prompt], options, stepCallback, progress, cancellationToken)[0];
    }

    /// <summary>Generates one video per prompt in one batch (the initial noise is drawn for the whole batch at once).</summary>
    /// <param name="prompts">The prompts, at least one.</param>
    /// <param name="options">Options; null for the defaults. The negative prompt applies to every prompt.</param>
    /// <param name="progress">Progress reports (one per denoising step for the whole batch).</param>
    /// <param name="cancellationToken">Checked before each step and each VAE chunk.</param>
    /// <returns>One video per prompt, in order, all with the same seed.</returns>
    /// <exception cref="ArgumentException">No prompts, or a null prompt.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public IReadOnlyList<Video> Generate(IReadOnlyList<string> prompts, LaVieOptions? options = null, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Run(prompts, options, null, progress, cancellationToken);

    /// <summary>Generates one video per prompt in one batch, calling <paramref name="stepCallback"/> after each step.</summary>
    /// <param name="prompts">The prompts, at least one.</param>
    /// <param name="stepCallback">Reads or replaces the (B, C, F, h, w) latents, or stops early.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="progress">Progress reports.</param>
    /// <param name="cancellationToken">Checked before each step and each VAE chunk.</param>
    /// <returns>One video per prompt.</returns>
    /// <exception cref="ArgumentException">No prompts, or a null prompt.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public IReadOnlyList<Video> Generate(IReadOnlyList<string> prompts, DenoisingStepCallback stepCallback, LaVieOptions? options = null, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stepCallback);
        return Run(prompts, options, stepCallback, progress, cancellationToken);
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

    /// <summary>A fresh scheduler of the chosen kind for one generation.</summary>
    /// <param name="options">The options naming the scheduler and η.</param>
    /// <returns>A new scheduler (schedulers are stateful).</returns>
    public IScheduler CreateScheduler(LaVieOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        switch (options.Scheduler)
        {
            case LaVieScheduler.Ddpm:
                var ddpm = _schedulerConfig as DDPMSchedulerConfig
                    ?? ((DDPMScheduler)SchedulerRegistry.Default.Create(_schedulerConfig, DDPMScheduler.ClassName)).TypedConfig;
                return new DDPMScheduler(ddpm.AsDiffusers016());
            case LaVieScheduler.Ddim:
                var ddim = (DDIMScheduler)SchedulerRegistry.Default.Create(_schedulerConfig, DDIMScheduler.ClassName);
                ddim.Eta = (float)options.Eta;
                return ddim;
            case LaVieScheduler.EulerDiscrete:
                return SchedulerRegistry.Default.Create(_schedulerConfig, EulerDiscreteScheduler.ClassName);
            default:
                throw new ArgumentOutOfRangeException(nameof(options), options.Scheduler, "Unknown LaVieScheduler.");
        }
    }

    // One scheduler per kind, reused: SetTimesteps resets its state, and its tables (detached tensors) are made once.
    private IScheduler GetScheduler(LaVieOptions options)
    {
        if (!_schedulers.TryGetValue(options.Scheduler, out var scheduler))
        {
            scheduler = CreateScheduler(options);
            _schedulers[options.Scheduler] = scheduler;
        }

        if (scheduler is DDIMScheduler ddim)
        {
            ddim.Eta = (float)options.Eta;
        }

        return scheduler;
    }

    private List<Video> Run(IReadOnlyList<string> prompts, LaVieOptions? options, DenoisingStepCallback? stepCallback, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0)
        {
            throw new ArgumentException("At least one prompt is needed.", nameof(prompts));
        }

        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i] is null)
            {
                throw new ArgumentException($"prompts[{i}] is null.", nameof(prompts));
            }
        }

        options ??= new LaVieOptions();
        options.Validate(_vae.SpatialScaleFactor, TrainTimesteps(_schedulerConfig));
        var scheduler = GetScheduler(options);
        cancellationToken.ThrowIfCancellationRequested();

        var clock = Stopwatch.StartNew();
        long seed = options.Seed ?? RandomGenerator.NewSeed();
        int b = prompts.Count;
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        using var rng = new RandomGenerator(seed);

        var cond = new VideoConditioning(_promptEncoder.Encode(prompts).to(DType, Device));
        VideoConditioning? uncond = null;
        if (options.GuidanceScale > 1.0)
        {
            uncond = new VideoConditioning(_promptEncoder.Encode(Enumerable.Repeat(options.NegativePrompt, b).ToArray()).to(DType, Device));
        }

        progress?.Report(new GenerationProgress(GenerationPhase.Encode, 1, 1, clock.Elapsed));

        int f = _vae.SpatialScaleFactor;
        long[] shape = [b, _unet.Config.InChannels, options.Frames, options.Height / f, options.Width / f];
        var latents = rng.Randn(shape).to(DType, Device) * scheduler.InitNoiseSigma;
        var context = new SamplingContext
        {
            Denoiser = Denoiser,
            Scheduler = scheduler,
            Steps = options.Steps,
            InitialLatents = latents,
            Conditioning = cond,
            UnconditionalConditioning = uncond,
            GuidanceScale = options.GuidanceScale,
            Generator = rng.Generator, // schedulers draw step noise on the CPU with it and move it, so a seed reproduces on every device
            StepCallback = stepCallback,
            Progress = progress,
            CancellationToken = cancellationToken,
            Clock = clock,
        };
        var denoised = Sampler.Sample(context);

        cancellationToken.ThrowIfCancellationRequested();
        progress?.Report(new GenerationProgress(GenerationPhase.Decode, 0, 1, clock.Elapsed));
        var scaled = denoised.to(_vae.parameters().First().dtype) / _vae.Config.ScalingFactor;
        var frames = _vae.DecodeVideo(scaled, options.DecodeChunkFrames, tiled: false, cancellationToken);
        var images = VideoTensors.ToFrames(frames);
        var videos = new List<Video>(b);
        for (int i = 0; i < b; i++)
        {
            videos.Add(Video.FromTensor(images[i], options.Fps, seed));
        }

        progress?.Report(new GenerationProgress(GenerationPhase.Decode, 1, 1, clock.Elapsed));
        _logger.LogDebug("LaVie generated {Count} video(s) of {Frames} frames in {Elapsed}.", b, options.Frames, clock.Elapsed);
        return videos;
    }

    private static int TrainTimesteps(DiffusersConfig config) => config switch
    {
        DDPMSchedulerConfig c => c.NumTrainTimesteps,
        DDIMSchedulerConfig c => c.NumTrainTimesteps,
        EulerDiscreteSchedulerConfig c => c.NumTrainTimesteps,
        _ => 1000,
    };

    private static DiffusersConfig WithLaVieOverrides(DiffusersConfig config) => config switch
    {
        DDPMSchedulerConfig c => c with { BetaStart = 0.0001, BetaEnd = 0.02, BetaSchedule = "linear", TrainedBetas = null, StepsOffset = 1, ClipSample = false },
        DDIMSchedulerConfig c => c with { BetaStart = 0.0001, BetaEnd = 0.02, BetaSchedule = "linear", TrainedBetas = null, StepsOffset = 1, ClipSample = false },
        EulerDiscreteSchedulerConfig c => c with { BetaStart = 0.0001, BetaEnd = 0.02, BetaSchedule = "linear", TrainedBetas = null, StepsOffset = 1 },
        _ => throw new NotSupportedException($"Scheduler config {config.ClassName ?? config.GetType().Name} is not supported by LaVie; use DDPM, DDIM or Euler discrete."),
    };

    // LaVie: DDPMScheduler.from_pretrained(sd/scheduler, beta_start=1e-4, beta_end=0.02, beta_schedule="linear"); the
    // SD folder's config is PNDM's, read as DDPM (from_config semantics). Unknown PNDM keys are logged.
    private static DiffusersConfig ReadSchedulerConfig(ModelFolder folder, ILogger? logger)
    {
        string path = folder.GetConfigPath("scheduler");
        var node = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
            ?? throw new ConfigException(path, "(root)", "must be a JSON object.");
        node["beta_start"] = 0.0001;
        node["beta_end"] = 0.02;
        node["beta_schedule"] = "linear";
        node["steps_offset"] = 1;
        node["clip_sample"] = false;
        var scheduler = SchedulerRegistry.Default.FromJson(node.ToJsonString(), DDPMScheduler.ClassName, path, logger);
        return scheduler.Config;
    }
}
