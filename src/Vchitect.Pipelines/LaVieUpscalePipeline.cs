using System.Diagnostics;
using System.Text.Json;
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
using Vchitect.Models.UNets.Vsr;
using Vchitect.Schedulers;
using static TorchSharp.torch;

namespace Vchitect.Pipelines;

/// <summary>
/// LaVie's ×4 video super-resolution stage (<c>vsr/sample.py</c>, <c>vsr/models/pipeline_stable_diffusion_upscale_video_3d.py</c>):
/// the stable-diffusion-x4-upscaler recipe on video. The low-resolution frames in [−1, 1] are noised to a noise level with
/// the low-res scheduler (<c>√ᾱ·x + √(1−ᾱ)·n</c>) and concatenated to the latents inside the VSR UNet, which also receives
/// the noise level as its class label; latents on the low-res pixel grid are sampled with DDIM (v-prediction, linear βs)
/// and classifier-free guidance against a negative prompt, then decoded by the x4 VAE at 4× height and width. Long videos
/// run in temporal chunks (8 frames), each an independent run drawing from one generator. Owns its modules: dispose it.
/// </summary>
/// <remarks>
/// <para>Per chunk the generator draws the low-res noise (1, 3, T', H, W) first, then the initial latents
/// (1, C, T', H, W), then DDIM's step noise when η &gt; 0, as the reference does; the next chunk continues the same
/// generator. Everything is drawn on the CPU and moved, so a seed gives the same video on every device.</para>
/// <para>Upscaling is synchronous and stays on the calling thread; instances are not thread-safe. The sampling core is
/// replaceable through <see cref="Denoiser"/> and <see cref="Sampler"/>, the seams plugins decorate.</para>
/// </remarks>
/// <example>
/// <code>
/// using var lavie = LaVieVideoPipeline.FromPretrained("models/stable-diffusion-v1-4");
/// using var vsr = LaVieUpscalePipeline.FromPretrained("models/stable-diffusion-x4-upscaler");   // + lavie_vsr.pt
/// Video small = lavie.Generate("a teddy bear walking on the beach", new LaVieOptions { Seed = 400 });
/// Video large = vsr.Upscale(small, "a teddy bear walking on the beach");                         // 16 × 1280×2048
/// large.SaveMp4("bear.mp4");
/// </code>
/// </example>
public sealed class LaVieUpscalePipeline : IVideoPipeline, IDisposable
{
    /// <summary>File name of LaVie's VSR UNet checkpoint, looked for inside and next to the model folder.</summary>
    public const string UNetCheckpointName = "lavie_vsr.pt";

    /// <summary>The <c>max_noise_level</c> of stable-diffusion-x4-upscaler's <c>model_index.json</c>: 350.</summary>
    public const int DefaultMaxNoiseLevel = 350;

    // The x4-upscaler scheduler config's values, used for keys a folder's scheduler config leaves out.
    private static readonly (string Key, JsonNode Value)[] X4SchedulerValues =
    [
        ("beta_start", 0.0001), ("beta_end", 0.02), ("prediction_type", "v_prediction"), ("set_alpha_to_one", false),
        ("steps_offset", 1), ("clip_sample", false),
    ];

    private readonly IPromptEncoder _promptEncoder;
    private readonly UNet3DVSRModel _unet;
    private readonly AutoencoderKL _vae;
    private readonly DDIMScheduler _scheduler;
    private readonly IScheduler _lowResScheduler;
    private readonly ILogger _logger;
    private bool _disposed;

    /// <summary>Builds the pipeline from loaded components and takes ownership of the modules and the prompt encoder.</summary>
    /// <param name="promptEncoder">Prompts → (B, L, D) text features with D = the UNet's cross-attention dim (OpenCLIP-H: 1024).</param>
    /// <param name="unet">The VSR UNet (its parameters fix the pipeline's device and dtype).</param>
    /// <param name="vae">The x4 VAE (spatial factor 4, scaling factor 0.08333); keep it in float32 as the reference does.</param>
    /// <param name="schedulerConfig">
    /// The DDIM config; its <c>beta_schedule</c> is set to <c>linear</c> (LaVie's one change to the x4 config). Null for the
    /// x4 config's values: βs 1e-4 … 0.02, v-prediction, <c>set_alpha_to_one</c> false, <c>steps_offset</c> 1, <c>clip_sample</c> false.
    /// </param>
    /// <param name="lowResSchedulerConfig">The config of the scheduler whose ᾱ noises the low-res frames (any registered class); null for the x4 one (DDPM, scaled_linear 1e-4 … 0.02).</param>
    /// <param name="maxNoiseLevel">The largest accepted noise level (<c>max_noise_level</c>); also capped by the UNet's own. Default 350.</param>
    /// <param name="logger">Receives load and run messages; null for none.</param>
    /// <exception cref="ArgumentException">The components do not fit together.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNoiseLevel"/> is negative.</exception>
    public LaVieUpscalePipeline(
        IPromptEncoder promptEncoder,
        UNet3DVSRModel unet,
        AutoencoderKL vae,
        DDIMSchedulerConfig? schedulerConfig = null,
        DiffusersConfig? lowResSchedulerConfig = null,
        int maxNoiseLevel = DefaultMaxNoiseLevel,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(promptEncoder);
        ArgumentNullException.ThrowIfNull(unet);
        ArgumentNullException.ThrowIfNull(vae);
        ArgumentOutOfRangeException.ThrowIfNegative(maxNoiseLevel);
        if (promptEncoder.EmbeddingDim != unet.Config.CrossAttentionDim)
        {
            throw new ArgumentException($"The prompt encoder gives {promptEncoder.EmbeddingDim}-d features; the UNet's cross_attention_dim is {unet.Config.CrossAttentionDim}.", nameof(promptEncoder));
        }

        if (vae.Config.LatentChannels + 3 != unet.Config.InChannels)
        {
            throw new ArgumentException($"The VAE has {vae.Config.LatentChannels} latent channels; the UNet takes {unet.Config.InChannels} = latent channels + 3 low-res RGB channels.", nameof(vae));
        }

        if (vae.Config.OutChannels != 3)
        {
            throw new ArgumentException($"The VAE decodes to {vae.Config.OutChannels} channels; RGB video needs 3.", nameof(vae));
        }

        _promptEncoder = promptEncoder;
        _unet = unet;
        _vae = vae;
        _logger = logger ?? NullLogger.Instance;
        var ddim = (schedulerConfig ?? X4SchedulerConfig) with { BetaSchedule = "linear" };
        _scheduler = new DDIMScheduler(ddim);
        _lowResScheduler = lowResSchedulerConfig is null
            ? new DDPMScheduler(new DDPMSchedulerConfig { BetaSchedule = "scaled_linear", BetaStart = 0.0001, BetaEnd = 0.02 })
            : SchedulerRegistry.Default.Create(lowResSchedulerConfig);
        int lowResSteps = TrainTimesteps(_lowResScheduler.Config);
        MaxNoiseLevel = Math.Min(Math.Min(maxNoiseLevel, unet.Config.MaxNoiseLevel), lowResSteps - 1);
        if (unet.Config.NumClassEmbeds is int classes)
        {
            MaxNoiseLevel = Math.Min(MaxNoiseLevel, classes - 1);
        }

        var p = unet.parameters().First();
        Device = p.device;
        DType = p.dtype;
        unet.eval();
        vae.eval();
        Denoiser = new UNet3DVSRDenoiser(unet);
    }

    /// <summary>The device the modules live on.</summary>
    public Device Device { get; }

    /// <summary>The UNet's dtype (latents and the noised low-res frames are kept in it).</summary>
    public ScalarType DType { get; }

    /// <summary>The largest accepted <see cref="LaVieUpscaleOptions.NoiseLevel"/>: <c>max_noise_level</c>, capped by the UNet's, its class table and the low-res scheduler.</summary>
    public int MaxNoiseLevel { get; }

    /// <summary>Height and width factor of the output: the VAE's spatial scale factor (4 for the x4 VAE).</summary>
    public int ScaleFactor => _vae.SpatialScaleFactor;

    /// <summary>The DDIM config in use (LaVie's: the x4 config with linear βs).</summary>
    public DDIMSchedulerConfig SchedulerConfig => _scheduler.TypedConfig;

    /// <summary>The low-res noise scheduler's config (the x4 <c>low_res_scheduler</c>: DDPM, scaled_linear).</summary>
    public DiffusersConfig LowResSchedulerConfig => _lowResScheduler.Config;

    /// <summary>The denoiser used by upscales: the VSR UNet adapter by default; replace it with a decorator.</summary>
    public IVideoDenoiser Denoiser { get; set; }

    /// <summary>The sampler run once per temporal chunk: <see cref="DenoisingLoop"/> by default; replace it with a decorator.</summary>
    public IVideoSampler Sampler { get; set; } = DenoisingLoop.Instance;

    private static DDIMSchedulerConfig X4SchedulerConfig => new()
    {
        BetaStart = 0.0001, BetaEnd = 0.02, BetaSchedule = "scaled_linear", PredictionType = "v_prediction",
        SetAlphaToOne = false, StepsOffset = 1, ClipSample = false,
    };

    /// <summary>
    /// Loads a hub-style stable-diffusion-x4-upscaler folder plus LaVie's VSR UNet weights. Layout: <c>model_index.json</c>
    /// (its <c>max_noise_level</c> is read), <c>tokenizer/</c>, <c>text_encoder/</c> (OpenCLIP-H text as a CLIP text model),
    /// <c>vae/</c>, <c>scheduler/scheduler_config.json</c>, <c>low_res_scheduler/scheduler_config.json</c>,
    /// <c>unet/config.json</c>, and the UNet weights as <c>lavie_vsr.pt</c> in the folder or next to it, or as <c>unet/</c>
    /// weights. The VAE is kept in float32 when its config asks for <c>force_upcast</c> (the default), as the reference decodes.
    /// </summary>
    /// <remarks>
    /// <para>The scheduler config is read as DDIM with <c>beta_schedule</c> set to <c>linear</c> (<c>vsr/sample.py</c>);
    /// keys it leaves out take the x4 config's values (βs 1e-4 … 0.02, v-prediction, <c>set_alpha_to_one</c> false,
    /// <c>steps_offset</c> 1, <c>clip_sample</c> false).</para>
    /// <para>A <c>unet/config.json</c> with LaVie's temporal keys (<c>down_temporal_idx</c>, …) is used as it is. The hub's
    /// 2-D x4 UNet config (no temporal keys) is turned into LaVie's <c>vsr/configs/unet_3d_config.json</c>: 3-D block names
    /// and a temporal module after every down block, the mid block and every up block. <c>video_condition</c> is forced off,
    /// as <c>vsr/sample.py</c> does.</para>
    /// </remarks>
    /// <param name="path">The folder.</param>
    /// <param name="device">Device; null for the CPU.</param>
    /// <param name="dtype">Weights dtype of the UNet and text encoder (e.g. float16 on CUDA); null for float32.</param>
    /// <param name="logger">Receives load warnings; null for none.</param>
    /// <returns>The pipeline, owned by the caller.</returns>
    /// <exception cref="FileNotFoundException">A config or weights file is missing.</exception>
    /// <exception cref="ConfigException">A config is invalid.</exception>
    /// <exception cref="StateDictMismatchException">Weights do not fit their config.</exception>
    public static LaVieUpscalePipeline FromPretrained(string path, Device? device = null, ScalarType? dtype = null, ILogger? logger = null) =>
        FromPretrained(path, new LaVieUpscaleLoadOptions(), device, dtype, logger);

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
    public static LaVieUpscalePipeline FromPretrained(string path, LaVieUpscaleLoadOptions loadOptions, Device? device = null, ScalarType? dtype = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(loadOptions);
        IPromptEncoder? promptEncoder = loadOptions.PromptEncoder;
        UNet3DVSRModel? unet = null;
        AutoencoderKL? vae = null;
        try
        {
            var folder = ModelFolder.Open(path);
            var schedulerConfig = ReadSchedulerConfig(folder, logger);
            var lowResConfig = ReadLowResSchedulerConfig(folder, logger);
            int maxNoiseLevel = ReadMaxNoiseLevel(folder);
            var unetConfig = ReadUNetConfig(folder, logger);
            var vaeConfig = folder.ReadConfig("vae", AutoencoderJsonContext.Default.AutoencoderKLConfig, logger);
            ScalarType? vaeDtype = vaeConfig.ForceUpcast ? ScalarType.Float32 : dtype;
            promptEncoder ??= ClipPromptEncoder.FromPretrained(folder.Path, device, dtype, logger);
            unet = LoadUNet(folder, unetConfig, loadOptions.UNetWeights, device, dtype, logger);
            vae = AutoencoderKL.FromPretrained(folder, "vae", vaeDtype, device, logger: logger);
            return new LaVieUpscalePipeline(promptEncoder, unet, vae, schedulerConfig, lowResConfig, maxNoiseLevel, logger);
        }
        catch
        {
            unet?.Dispose();
            vae?.Dispose();
            promptEncoder?.Dispose();
            throw;
        }
    }

    /// <summary>Upscales a video ×4 in height and width (same frame count).</summary>
    /// <param name="video">The low-resolution video, e.g. the base pipeline's output (frames of any size; the UNet runs on that grid).</param>
    /// <param name="prompt">The text prompt (LaVie uses the base prompt).</param>
    /// <param name="options">Options; null for LaVie's defaults.</param>
    /// <param name="progress">
    /// Receives one <see cref="GenerationPhase.Encode"/> report, one <see cref="GenerationPhase.Denoise"/> report per step
    /// numbered across the chunks (Total = steps × chunks), then <see cref="GenerationPhase.Decode"/> reports: 0 of N before
    /// the first VAE call and one after each of the N calls.
    /// </param>
    /// <param name="cancellationToken">Checked before each step and each VAE chunk.</param>
    /// <returns>The video at <see cref="ScaleFactor"/>× height and width; managed data, nothing to dispose.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the parameter name is the option's).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pipeline was disposed.</exception>
    public Video Upscale(Video video, string prompt, LaVieUpscaleOptions? options = null, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(video);
        return RunVideo(video, prompt, options, null, progress, cancellationToken);
    }

    /// <summary>Upscales a video, calling <paramref name="stepCallback"/> after each denoising step of each chunk.</summary>
    /// <param name="video">The low-resolution video.</param>
    /// <param name="prompt">The text prompt.</param>
    /// <param name="stepCallback">
    /// Sees the chunk's latents (1, C, T', H, W) after each step, with Index and Total numbered across the chunks like the
    /// progress reports; may replace them. A stop request ends the current chunk's loop (its latents are decoded as they
    /// are); the following chunks still run.
    /// </param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <param name="progress">Progress reports (see <see cref="Upscale(Video, string, LaVieUpscaleOptions?, IProgress{GenerationProgress}?, CancellationToken)"/>).</param>
    /// <param name="cancellationToken">Checked before each step and each VAE chunk.</param>
    /// <returns>The upscaled video.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pipeline was disposed.</exception>
    public Video Upscale(Video video, string prompt, DenoisingStepCallback stepCallback, LaVieUpscaleOptions? options = null, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(video);
        ArgumentNullException.ThrowIfNull(stepCallback);
        return RunVideo(video, prompt, options, stepCallback, progress, cancellationToken);
    }

    /// <summary>Upscales frames given as a tensor, as <c>vsr/sample.py</c> hands them to the pipeline.</summary>
    /// <param name="video">Frames (1, 3, T, H, W) in [−1, 1], any floating dtype and device; not disposed.</param>
    /// <param name="prompt">The text prompt.</param>
    /// <param name="options">Options; null for the defaults. A null <see cref="LaVieUpscaleOptions.Fps"/> gives <see cref="Video.DefaultFps"/>.</param>
    /// <param name="progress">Progress reports (see <see cref="Upscale(Video, string, LaVieUpscaleOptions?, IProgress{GenerationProgress}?, CancellationToken)"/>).</param>
    /// <param name="cancellationToken">Checked before each step and each VAE chunk.</param>
    /// <returns>The upscaled video.</returns>
    /// <exception cref="ArgumentException">The tensor is not (1, 3, T, H, W) floating.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pipeline was disposed.</exception>
    public Video Upscale(Tensor video, string prompt, LaVieUpscaleOptions? options = null, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(video);
        return Run(video, prompt, options, Video.DefaultFps, null, progress, cancellationToken);
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

    /// <summary>The consecutive [start, end) frame ranges of the temporal chunks.</summary>
    /// <param name="frames">Number of frames, ≥ 1.</param>
    /// <param name="chunkFrames">Frames per chunk; 0 for one chunk.</param>
    /// <returns>The ranges in order; the last may be shorter.</returns>
    internal static List<(int Start, int End)> ChunkRanges(int frames, int chunkFrames)
    {
        int size = chunkFrames <= 0 ? frames : chunkFrames;
        var ranges = new List<(int, int)>();
        for (int start = 0; start < frames; start += size)
        {
            ranges.Add((start, Math.Min(frames, start + size)));
        }

        return ranges;
    }

    private Video RunVideo(Video video, string prompt, LaVieUpscaleOptions? options, DenoisingStepCallback? stepCallback, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(prompt);
        (options ?? new LaVieUpscaleOptions()).Validate(MaxNoiseLevel, _scheduler.NumTrainTimesteps);
        using var scope = NewDisposeScope();

        // vsr/sample.py: frames / 255, (x − 0.5) · 2, (T, H, W, C) → (1, C, T, H, W)
        var frames = ((video.ToFloatTensor() - 0.5) * 2).permute(3, 0, 1, 2).unsqueeze(0);
        return Run(frames, prompt, options, video.Fps, stepCallback, progress, cancellationToken);
    }

    private Video Run(Tensor video, string prompt, LaVieUpscaleOptions? options, double inputFps, DenoisingStepCallback? stepCallback, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(prompt);
        if (video.ndim != 5 || video.shape[0] != 1 || video.shape[1] != 3 || video.shape[2] < 1 || video.shape[3] < 1 || video.shape[4] < 1)
        {
            throw new ArgumentException($"The video must be (1, 3, T, H, W) frames in [-1, 1]; got [{string.Join(", ", video.shape)}].", nameof(video));
        }

        if (!video.is_floating_point())
        {
            throw new ArgumentException($"The video must be a floating tensor in [-1, 1]; got {video.dtype}.", nameof(video));
        }

        options ??= new LaVieUpscaleOptions();
        options.Validate(MaxNoiseLevel, _scheduler.NumTrainTimesteps);
        CheckSteps(options.Steps);
        cancellationToken.ThrowIfCancellationRequested();

        var clock = Stopwatch.StartNew();
        long seed = options.Seed ?? RandomGenerator.NewSeed();
        _scheduler.Eta = (float)options.Eta;
        int frameCount = (int)video.shape[2];
        long height = video.shape[3], width = video.shape[4];
        var chunks = ChunkRanges(frameCount, options.ChunkFrames);
        int totalSteps = options.Steps * chunks.Count;

        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        using var rng = new RandomGenerator(seed);

        // _encode_prompt: [negative, prompt] when guidance is on (the loop batches [uncond, cond], the same order).
        bool cfg = options.GuidanceScale > 1.0;
        var text = _promptEncoder.Encode([prompt]).to(DType, Device);
        var negativeText = cfg ? _promptEncoder.Encode([options.NegativePrompt]).to(DType, Device) : null;
        progress?.Report(new GenerationProgress(GenerationPhase.Encode, 1, 1, clock.Elapsed));

        var image = video.to(DType, Device);
        var noiseLevel = tensor(new long[] { options.NoiseLevel }, device: Device);
        var chunkLatents = new List<Tensor>(chunks.Count);
        for (int c = 0; c < chunks.Count; c++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var chunkScope = NewDisposeScope();
            var (start, end) = chunks[c];
            var low = image.slice(2, start, end, 1);

            // 5. add noise to image (low_res_scheduler), then 6. the initial latents: the reference's draw order.
            var lowNoise = rng.Randn(low.shape).to(DType, Device);
            var noisyLow = _lowResScheduler.AddNoise(low, lowNoise, noiseLevel);
            long[] latentShape = [1, _vae.Config.LatentChannels, end - start, height, width];
            var latents = rng.Randn(latentShape).to(DType, Device) * _scheduler.InitNoiseSigma;

            var conditioning = new VideoConditioning(text) { LowResVideo = noisyLow, ClassLabels = noiseLevel };
            var unconditional = negativeText is null ? null : new VideoConditioning(negativeText) { LowResVideo = noisyLow, ClassLabels = noiseLevel };
            int offset = c * options.Steps;
            var context = new SamplingContext
            {
                Denoiser = Denoiser,
                Scheduler = _scheduler,
                Steps = options.Steps,
                InitialLatents = latents,
                Conditioning = conditioning,
                UnconditionalConditioning = unconditional,
                GuidanceScale = options.GuidanceScale,
                Generator = rng.Generator,
                StepCallback = stepCallback is null ? null : step => stepCallback(step with { Index = offset + step.Index, Total = totalSteps }),
                Progress = progress is null ? null : new ChunkProgress(progress, offset, totalSteps),
                CancellationToken = cancellationToken,
                Clock = clock,
            };
            chunkLatents.Add(Sampler.Sample(context).MoveToOuterDisposeScope());
        }

        var pixels = Decode(chunkLatents, options.DecodeChunkFrames, progress, clock, cancellationToken);
        var result = Video.FromTensor(pixels, options.Fps ?? inputFps, seed);
        _logger.LogDebug("LaVie VSR upscaled {Frames} frames of {Height}×{Width} in {Chunks} chunk(s) in {Elapsed}.", frameCount, height, width, chunks.Count, clock.Elapsed);
        return result;
    }

    // decode_latents_vsr per chunk of frames: vae.decode(latents / scaling_factor).clamp(-1, 1); then, as vsr/sample.py
    // saves it, (x / 2 + 0.5).clamp(0, 1) · 255 cast to uint8 (truncation).
    private Tensor Decode(List<Tensor> chunkLatents, int decodeChunkFrames, IProgress<GenerationProgress>? progress, Stopwatch clock, CancellationToken cancellationToken)
    {
        var pieces = new List<(Tensor Latents, long Start, long End)>();
        foreach (var latents in chunkLatents)
        {
            long frames = latents.shape[2];
            long size = decodeChunkFrames <= 0 ? frames : decodeChunkFrames;
            for (long start = 0; start < frames; start += size)
            {
                pieces.Add((latents, start, Math.Min(frames, start + size)));
            }
        }

        var vaeDtype = _vae.parameters().First().dtype;
        double scaling = _vae.Config.ScalingFactor;
        var outputs = new List<Tensor>(pieces.Count);
        progress?.Report(new GenerationProgress(GenerationPhase.Decode, 0, pieces.Count, clock.Elapsed));
        for (int i = 0; i < pieces.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var pieceScope = NewDisposeScope();
            var (latents, start, end) = pieces[i];
            var z = latents.slice(2, start, end, 1).to(vaeDtype) / scaling;
            var frames = _vae.DecodeVideo(z, 0, tiled: false, cancellationToken).clamp(-1, 1);
            var bytes = ((frames / 2) + 0.5).clamp(0, 1).mul(255).to(ScalarType.Byte);
            outputs.Add(bytes[0].permute(1, 2, 3, 0).cpu().MoveToOuterDisposeScope());
            progress?.Report(new GenerationProgress(GenerationPhase.Decode, i + 1, pieces.Count, clock.Elapsed));
        }

        return outputs.Count == 1 ? outputs[0] : cat(outputs, 0);
    }

    private void CheckSteps(int steps)
    {
        try
        {
            _scheduler.SetTimesteps(steps);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw OptionOutOfRange(nameof(LaVieUpscaleOptions.Steps), steps, $"Steps {steps} cannot run with this scheduler: {e.Message}");
        }
    }

    private static ArgumentOutOfRangeException OptionOutOfRange(string option, object value, string message) => new(option, value, message);

    private static int TrainTimesteps(DiffusersConfig config) => config switch
    {
        DDPMSchedulerConfig c => c.NumTrainTimesteps,
        DDIMSchedulerConfig c => c.NumTrainTimesteps,
        EulerDiscreteSchedulerConfig c => c.NumTrainTimesteps,
        _ => 1000,
    };

    private static JsonObject ReadJsonObject(string path) =>
        JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new ConfigException(path, "(root)", "must be a JSON object.");

    // vsr/sample.py: DDIMScheduler.from_config(x4 scheduler_config with beta_schedule = "linear").
    private static DDIMSchedulerConfig ReadSchedulerConfig(ModelFolder folder, ILogger? logger)
    {
        string path = folder.GetConfigPath("scheduler");
        var node = ReadJsonObject(path);
        node["beta_schedule"] = "linear";
        foreach (var (key, value) in X4SchedulerValues)
        {
            if (!node.ContainsKey(key))
            {
                node[key] = value.DeepClone();
            }
        }

        return ((DDIMScheduler)SchedulerRegistry.Default.FromJson(node.ToJsonString(), DDIMScheduler.ClassName, path, logger)).TypedConfig;
    }

    private static DiffusersConfig ReadLowResSchedulerConfig(ModelFolder folder, ILogger? logger)
    {
        string path = folder.GetConfigPath("low_res_scheduler");
        string json = File.ReadAllText(path);
        string className = ConfigFile.PeekClassName(json, path) ?? DDPMScheduler.ClassName;
        return SchedulerRegistry.Default.FromJson(json, className, path, logger).Config;
    }

    private static int ReadMaxNoiseLevel(ModelFolder folder)
    {
        if (!folder.Index.OtherKeys.TryGetValue("max_noise_level", out var value))
        {
            return DefaultMaxNoiseLevel;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int level) && level >= 0
            ? level
            : throw new ConfigException(System.IO.Path.Combine(folder.Path, ModelFolder.IndexFileName), "max_noise_level", $"is {value}; must be a non-negative integer.");
    }

    // LaVie's vsr/configs/unet_3d_config.json is the x4 UNet's config plus its temporal keys. A folder's 3-D config (with those
    // keys) is used as it is; the hub's 2-D one gets 3-D block names and a temporal module after every block, as published.
    private static UNet3DVSRConfig ReadUNetConfig(ModelFolder folder, ILogger? logger)
    {
        string path = folder.GetConfigPath("unet");
        return ParseUNetConfig(File.ReadAllText(path), path, logger);
    }

    /// <summary>Parses a VSR UNet config as <see cref="FromPretrained(string, Device?, ScalarType?, ILogger?)"/> reads <c>unet/config.json</c>.</summary>
    internal static UNet3DVSRConfig ParseUNetConfig(string json, string path, ILogger? logger)
    {
        var node = JsonNode.Parse(json) as JsonObject ?? throw new ConfigException(path, "(root)", "must be a JSON object.");
        if (!node.ContainsKey("down_temporal_idx") && !node.ContainsKey("up_temporal_idx") && !node.ContainsKey("mid_temporal"))
        {
            int levels = node["block_out_channels"] is JsonArray channels ? channels.Count : new UNet3DVSRConfig().BlockOutChannels.Length;
            var all = Enumerable.Range(0, levels).ToArray();
            node["down_temporal_idx"] = new JsonArray(all.Select(i => (JsonNode)i).ToArray());
            node["up_temporal_idx"] = new JsonArray(all.Select(i => (JsonNode)i).ToArray());
            node["mid_temporal"] = true;
            foreach (string key in new[] { "down_block_types", "up_block_types" })
            {
                if (node[key] is JsonArray types)
                {
                    node[key] = new JsonArray(types.Select(t => (JsonNode?)(t?.GetValueKind() == JsonValueKind.String ? UNet3DConditionConfig.To3D(t.GetValue<string>()) : t?.DeepClone())).ToArray());
                }
            }

            if (node["mid_block_type"] is JsonValue mid && mid.GetValueKind() == JsonValueKind.String)
            {
                node["mid_block_type"] = UNet3DConditionConfig.To3D(mid.GetValue<string>());
            }

            logger?.LogInformation("{Path} has no temporal keys: read as the 2-D x4 UNet config with LaVie's temporal modules after every block.", path);
        }

        node["video_condition"] = false;
        return ConfigFile.Parse(node.ToJsonString(), UNet3DVSRJsonContext.Default.UNet3DVSRConfig, path, logger);
    }

    private static UNet3DVSRModel LoadUNet(ModelFolder folder, UNet3DVSRConfig config, string? weightsPath, Device? device, ScalarType? dtype, ILogger? logger)
    {
        weightsPath ??= LaVieLoading.FindCheckpoint(folder.Path, UNetCheckpointName);
        if (weightsPath is not null)
        {
            logger?.LogInformation("Loading the VSR UNet weights from {Path}.", weightsPath);
        }

        // vsr/sample.py: torch.load(ckpt)['ema']
        return LaVieLoading.LoadModel(folder, () => new UNet3DVSRModel(config, dtype, device), weightsPath, ["ema"], device, dtype);
    }

    // Renumbers one chunk's Denoise reports across all chunks; other phases pass through.
    private sealed class ChunkProgress(IProgress<GenerationProgress> inner, int offset, int total) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) =>
            inner.Report(value.Phase == GenerationPhase.Denoise ? value with { Step = offset + value.Step, Total = total } : value);
    }
}
