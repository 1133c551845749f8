namespace Vchitect.Pipelines;

/// <summary>The phase of a generation that a <see cref="GenerationProgress"/> reports.</summary>
public enum GenerationPhase
{
    /// <summary>Encoding the prompts.</summary>
    Encode,

    /// <summary>The denoising loop; reported once per completed step.</summary>
    Denoise,

    /// <summary>Decoding latents to frames with the VAE.</summary>
    Decode,
}

/// <summary>
/// An immutable progress report. It carries no tensors, so an <see cref="IProgress{T}"/> handler may run later on another
/// thread safely.
/// </summary>
/// <param name="Phase">The phase.</param>
/// <param name="Step">Steps done in this phase (1 … <paramref name="Total"/> for <see cref="GenerationPhase.Denoise"/>).</param>
/// <param name="Total">Steps in this phase.</param>
/// <param name="Elapsed">Time since the generation started.</param>
public sealed record GenerationProgress(GenerationPhase Phase, int Step, int Total, TimeSpan Elapsed);
