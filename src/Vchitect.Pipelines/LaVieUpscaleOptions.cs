namespace Vchitect.Pipelines;

/// <summary>
/// Options of <see cref="LaVieUpscalePipeline.Upscale(Vchitect.Core.Media.Video, string, LaVieUpscaleOptions?, IProgress{GenerationProgress}?, CancellationToken)"/>,
/// with the published defaults of LaVie's ×4 video super-resolution stage (<c>vsr/configs/sample.yaml</c>, <c>vsr/sample.py</c>).
/// Validated when an upscale starts; an invalid value throws an <see cref="ArgumentOutOfRangeException"/> or
/// <see cref="ArgumentException"/> whose parameter name is the option's.
/// </summary>
public sealed record LaVieUpscaleOptions
{
    /// <summary>
    /// Noise level of the low-resolution augmentation: the input frames are noised to this timestep of the low-res
    /// scheduler, and the UNet receives it as its class label. 0 … the pipeline's <c>max_noise_level</c> (350). Default 50.
    /// </summary>
    public int NoiseLevel { get; init; } = 50;

    /// <summary>DDIM steps, 1 … the scheduler's training steps (1000) with the first timestep inside the table. Default 50.</summary>
    public int Steps { get; init; } = 50;

    /// <summary>Classifier-free guidance scale, finite and ≥ 0; guidance is on above 1 (0 and 1 run the conditional batch alone). Default 5.</summary>
    public double GuidanceScale { get; init; } = 5;

    /// <summary>The negative prompt of the unconditional half of guidance. Default "blur, worst quality" (LaVie's).</summary>
    public string NegativePrompt { get; init; } = "blur, worst quality";

    /// <summary>DDIM's η in [0, 1] (0 = deterministic, as LaVie runs it). Default 0.</summary>
    public double Eta { get; init; }

    /// <summary>
    /// Seed of the CPU generator for the low-res noise, the initial latents and any DDIM noise; one generator runs through
    /// every temporal chunk. Null picks one (reported as <c>Video.Seed</c>). Default 10 (the seed <c>vsr/sample.py</c> fixes).
    /// </summary>
    public long? Seed { get; init; } = 10;

    /// <summary>
    /// Frames denoised together (LaVie's <c>short_seq</c>): the video is cut into consecutive chunks of this many frames (the
    /// last may be shorter), each sampled as an independent run. 0 runs all frames as one chunk. ≥ 0. Default 8.
    /// </summary>
    public int ChunkFrames { get; init; } = 8;

    /// <summary>Latent frames per VAE decoder call, within each chunk; 0 decodes a chunk at once. ≥ 0. Default 4 (LaVie's).</summary>
    public int DecodeChunkFrames { get; init; } = 4;

    /// <summary>Frames per second of the result, finite and &gt; 0; null keeps the input video's (8 for a tensor input). Default null.</summary>
    public double? Fps { get; init; }

    /// <summary>Throws when an option is out of range; the exception's parameter name is the option's.</summary>
    /// <param name="maxNoiseLevel">The largest accepted <see cref="NoiseLevel"/> (the pipeline's <c>max_noise_level</c>, 350).</param>
    /// <param name="trainTimesteps">The scheduler's training steps (1000).</param>
    /// <exception cref="ArgumentOutOfRangeException">A numeric option is out of range.</exception>
    /// <exception cref="ArgumentException">A null negative prompt.</exception>
    public void Validate(int maxNoiseLevel = 350, int trainTimesteps = 1000)
    {
        if (NoiseLevel < 0 || NoiseLevel > maxNoiseLevel)
        {
            throw OutOfRange(nameof(NoiseLevel), NoiseLevel, $"NoiseLevel must be in 0 … {maxNoiseLevel} (the pipeline's max_noise_level).");
        }

        if (Steps < 1 || Steps > trainTimesteps)
        {
            throw OutOfRange(nameof(Steps), Steps, $"Steps must be in 1 … {trainTimesteps} (the scheduler's training steps).");
        }

        if (!double.IsFinite(GuidanceScale) || GuidanceScale < 0)
        {
            throw OutOfRange(nameof(GuidanceScale), GuidanceScale, "GuidanceScale must be finite and ≥ 0.");
        }

        if (NegativePrompt is null)
        {
            throw Invalid(nameof(NegativePrompt), "NegativePrompt must not be null; use \"\" for none.");
        }

        if (!double.IsFinite(Eta) || Eta < 0 || Eta > 1)
        {
            throw OutOfRange(nameof(Eta), Eta, "Eta must be in [0, 1].");
        }

        if (ChunkFrames < 0)
        {
            throw OutOfRange(nameof(ChunkFrames), ChunkFrames, "ChunkFrames must be ≥ 0 (0 runs all frames as one chunk).");
        }

        if (DecodeChunkFrames < 0)
        {
            throw OutOfRange(nameof(DecodeChunkFrames), DecodeChunkFrames, "DecodeChunkFrames must be ≥ 0 (0 decodes a chunk at once).");
        }

        if (Fps is double fps && (!double.IsFinite(fps) || fps <= 0))
        {
            throw OutOfRange(nameof(Fps), fps, "Fps must be finite and > 0, or null to keep the input's.");
        }
    }

    private static ArgumentOutOfRangeException OutOfRange(string option, object value, string message) => new(option, value, message);

    private static ArgumentException Invalid(string option, string message) => new(message, option);
}

/// <summary>How <see cref="LaVieUpscalePipeline.FromPretrained(string, LaVieUpscaleLoadOptions, TorchSharp.torch.Device?, TorchSharp.torch.ScalarType?, Microsoft.Extensions.Logging.ILogger?)"/> finds its parts.</summary>
public sealed record LaVieUpscaleLoadOptions
{
    /// <summary>
    /// The VSR UNet weights (<c>lavie_vsr.pt</c>, a training checkpoint whose state dict must sit under <c>ema</c>, as
    /// <c>vsr/sample.py</c> reads it; or a
    /// <c>.safetensors</c> file); null looks for <c>lavie_vsr.pt</c> inside the folder, then next to it, then for the
    /// folder's <c>unet/</c> weights.
    /// </summary>
    public string? UNetWeights { get; init; }

    /// <summary>A prompt encoder to use instead of the folder's <c>tokenizer/</c> and <c>text_encoder/</c>; the pipeline takes ownership. Default null.</summary>
    public IPromptEncoder? PromptEncoder { get; init; }
}
