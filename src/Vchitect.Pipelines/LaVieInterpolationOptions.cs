namespace Vchitect.Pipelines;

/// <summary>
/// Options of <see cref="LaVieInterpolationPipeline"/>, with the published defaults of LaVie's interpolation stage
/// (<c>interpolation/configs/sample.yaml</c> and <c>sample.py</c>). Validated when a run starts; an invalid value throws an
/// <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the option.
/// </summary>
public sealed record LaVieInterpolationOptions
{
    /// <summary>Height the input frames are resized to (bilinear), a positive multiple of the VAE's scale factor (8). Default 320.</summary>
    public int Height { get; init; } = 320;

    /// <summary>Width the input frames are resized to (bilinear), a positive multiple of the VAE's scale factor (8). Default 512.</summary>
    public int Width { get; init; } = 512;

    /// <summary>DDIM steps over the 1000-step ADM process (respaced "N"), 1 … 1000. Default 50.</summary>
    public int Steps { get; init; } = 50;

    /// <summary>
    /// Classifier-free guidance scale, finite and ≥ 0; on above 1. Default 4.0 (the reference's <c>forward_with_cfg</c>
    /// default: the config's <c>cfg_scale</c> is not passed to it).
    /// </summary>
    public double GuidanceScale { get; init; } = 4.0;

    /// <summary>The unconditional prompt. Default the literal string "None" (the model was trained with dropped captions replaced by it).</summary>
    public string NegativePrompt { get; init; } = "None";

    /// <summary>Appended to the prompt, as the reference's <c>additional_prompt</c>. Default ", 4k.".</summary>
    public string AdditionalPrompt { get; init; } = ", 4k.";

    /// <summary>DDIM η in [0, 1] (0 = deterministic, the reference's). Default 0.</summary>
    public double Eta { get; init; }

    /// <summary>
    /// Seed: the VAE posterior noise, the initial latents and the sampler's noise each start from a generator seeded with it, as
    /// the reference re-seeds before each. Null picks one (reported as <c>Video.Seed</c>). Default null.
    /// </summary>
    public long? Seed { get; init; }

    /// <summary>Frames per second of the result, finite and &gt; 0. Default 24 (the reference saves at 24).</summary>
    public double Fps { get; init; } = 24;

    /// <summary>Frames per VAE call when encoding and decoding (≥ 0); 0 for all at once, as the reference does. Default 0.</summary>
    public int VaeChunkFrames { get; init; }

    /// <summary>Throws when an option is out of range; the exception's parameter name is the option's.</summary>
    /// <param name="scaleFactor">The VAE's spatial scale factor.</param>
    /// <param name="trainTimesteps">The diffusion process's steps.</param>
    /// <exception cref="ArgumentOutOfRangeException">A numeric option is out of range.</exception>
    /// <exception cref="ArgumentException">A null prompt option.</exception>
    public void Validate(int scaleFactor = 8, int trainTimesteps = 1000)
    {
        CheckSize(Height, nameof(Height), scaleFactor);
        CheckSize(Width, nameof(Width), scaleFactor);
        if (Steps < 1 || Steps > trainTimesteps)
        {
            throw OutOfRange(nameof(Steps), Steps, $"Steps must be in 1 … {trainTimesteps}.");
        }

        if (!double.IsFinite(GuidanceScale) || GuidanceScale < 0)
        {
            throw OutOfRange(nameof(GuidanceScale), GuidanceScale, "GuidanceScale must be finite and ≥ 0.");
        }

        if (NegativePrompt is null)
        {
            throw Invalid("NegativePrompt must not be null.", nameof(NegativePrompt));
        }

        if (AdditionalPrompt is null)
        {
            throw Invalid("AdditionalPrompt must not be null; use \"\" for none.", nameof(AdditionalPrompt));
        }

        if (!double.IsFinite(Eta) || Eta < 0 || Eta > 1)
        {
            throw OutOfRange(nameof(Eta), Eta, "Eta must be in [0, 1].");
        }

        if (!double.IsFinite(Fps) || Fps <= 0)
        {
            throw OutOfRange(nameof(Fps), Fps, "Fps must be finite and > 0.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(VaeChunkFrames, nameof(VaeChunkFrames));
    }

    private static ArgumentOutOfRangeException OutOfRange(string option, object value, string message) => new(option, value, message);

    private static ArgumentException Invalid(string message, string option) => new(message, option);

    private static void CheckSize(int value, string name, int scaleFactor)
    {
        if (value < scaleFactor || value % scaleFactor != 0)
        {
            throw OutOfRange(name, value, $"{name} must be a positive multiple of {scaleFactor} (the VAE's scale factor).");
        }
    }
}

/// <summary>How <see cref="LaVieInterpolationPipeline.FromPretrained(string, LaVieInterpolationLoadOptions, TorchSharp.torch.Device?, TorchSharp.torch.ScalarType?, Microsoft.Extensions.Logging.ILogger?)"/> finds its parts.</summary>
public sealed record LaVieInterpolationLoadOptions
{
    /// <summary>
    /// The interpolation UNet weights (<c>lavie_interpolation.pt</c> or a <c>.safetensors</c> file); null looks for
    /// <c>lavie_interpolation.pt</c> inside the folder, then next to it, then for the folder's <c>unet/</c> weights.
    /// </summary>
    public string? UNetWeights { get; init; }

    /// <summary>A prompt encoder to use instead of the folder's <c>tokenizer/</c> and <c>text_encoder/</c>; the pipeline takes ownership. Default null.</summary>
    public IPromptEncoder? PromptEncoder { get; init; }
}
