namespace Vchitect.Pipelines;

/// <summary>The schedulers LaVie's sample script offers (all built from the folder's scheduler config with LaVie's overrides).</summary>
public enum LaVieScheduler
{
    /// <summary>DDPM ancestral sampling, as diffusers 0.16 ran it (timesteps 980 … 0 for 50 steps). LaVie's default.</summary>
    Ddpm,

    /// <summary>DDIM (deterministic for <see cref="LaVieOptions.Eta"/> = 0).</summary>
    Ddim,

    /// <summary>Euler discrete (Karras et al.), LaVie's <c>eulerdiscrete</c>.</summary>
    EulerDiscrete,
}

/// <summary>
/// Options of <see cref="LaVieVideoPipeline.Generate(string, LaVieOptions?, IProgress{GenerationProgress}?, CancellationToken)"/>,
/// with the published defaults of LaVie's base model (<c>base/configs/sample.yaml</c>). Validated when a generation starts;
/// an invalid value throws an <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the option.
/// </summary>
public sealed record LaVieOptions
{
    /// <summary>Number of frames, ≥ 1. Default 16.</summary>
    public int Frames { get; init; } = 16;

    /// <summary>Frame height in pixels, a positive multiple of 8 (of the VAE's scale factor). Default 320.</summary>
    public int Height { get; init; } = 320;

    /// <summary>Frame width in pixels, a positive multiple of 8 (of the VAE's scale factor). Default 512.</summary>
    public int Width { get; init; } = 512;

    /// <summary>Denoising steps, 1 … the scheduler's training steps (1000). Default 50.</summary>
    public int Steps { get; init; } = 50;

    /// <summary>Classifier-free guidance scale, finite and ≥ 0; guidance is on above 1 (0 and 1 run the conditional batch alone). Default 7.5.</summary>
    public double GuidanceScale { get; init; } = 7.5;

    /// <summary>The negative prompt used for the unconditional half of guidance. Default "" (LaVie's).</summary>
    public string NegativePrompt { get; init; } = string.Empty;

    /// <summary>Seed of the CPU generator for the initial noise and the scheduler's noise; null picks one (reported as <c>Video.Seed</c>). Default null.</summary>
    public long? Seed { get; init; }

    /// <summary>The scheduler. Default <see cref="LaVieScheduler.Ddpm"/>.</summary>
    public LaVieScheduler Scheduler { get; init; } = LaVieScheduler.Ddpm;

    /// <summary>DDIM's η in [0, 1] (0 = deterministic); must be 0 for the other schedulers. Default 0.</summary>
    public double Eta { get; init; }

    /// <summary>Frames per second of the result, finite and &gt; 0. Default 8.</summary>
    public double Fps { get; init; } = 8;

    /// <summary>Latent frames decoded per VAE call (≥ 0); 0 decodes all frames at once, as LaVie does. Default 0.</summary>
    public int DecodeChunkFrames { get; init; }

    /// <summary>Throws when an option is out of range; the exception's parameter name is the option's.</summary>
    /// <param name="scaleFactor">The VAE's spatial scale factor (8 for SD).</param>
    /// <param name="trainTimesteps">The scheduler's training steps.</param>
    /// <exception cref="ArgumentOutOfRangeException">A numeric option is out of range.</exception>
    /// <exception cref="ArgumentException">A null negative prompt.</exception>
    public void Validate(int scaleFactor = 8, int trainTimesteps = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Frames, 1, nameof(Frames));
        CheckSize(Height, nameof(Height), scaleFactor);
        CheckSize(Width, nameof(Width), scaleFactor);
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

        if (!Enum.IsDefined(Scheduler))
        {
            throw OutOfRange(nameof(Scheduler), Scheduler, "Scheduler is not a LaVieScheduler value.");
        }

        if (!double.IsFinite(Eta) || Eta < 0 || Eta > 1 || (Eta != 0 && Scheduler != LaVieScheduler.Ddim))
        {
            throw OutOfRange(nameof(Eta), Eta, "Eta must be in [0, 1], and 0 unless Scheduler is Ddim.");
        }

        if (!double.IsFinite(Fps) || Fps <= 0)
        {
            throw OutOfRange(nameof(Fps), Fps, "Fps must be finite and > 0.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(DecodeChunkFrames, nameof(DecodeChunkFrames));
    }

    private static ArgumentOutOfRangeException OutOfRange(string option, object value, string message) => new(option, value, message);

    private static ArgumentException Invalid(string option, string message) => new(message, option);

    private static void CheckSize(int value, string name, int scaleFactor)
    {
        if (value < scaleFactor || value % scaleFactor != 0)
        {
            throw OutOfRange(name, value, $"{name} must be a positive multiple of {scaleFactor} (the VAE's scale factor).");
        }
    }
}

/// <summary>How <see cref="LaVieVideoPipeline.FromPretrained(string, LaVieLoadOptions, TorchSharp.torch.Device?, TorchSharp.torch.ScalarType?, Microsoft.Extensions.Logging.ILogger?)"/> finds its parts.</summary>
public sealed record LaVieLoadOptions
{
    /// <summary>
    /// The LaVie UNet weights (<c>lavie_base.pt</c>, a training checkpoint whose state dict may sit under <c>ema</c>,
    /// <c>state_dict</c>, … or a <c>.safetensors</c> file); null looks for <c>lavie_base.pt</c> inside the folder, then next
    /// to it, then for the folder's <c>unet/</c> weights.
    /// </summary>
    public string? UNetWeights { get; init; }

    /// <summary>A prompt encoder to use instead of the folder's <c>tokenizer/</c> and <c>text_encoder/</c>; the pipeline takes ownership. Default null.</summary>
    public IPromptEncoder? PromptEncoder { get; init; }
}
