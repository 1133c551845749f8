using static TorchSharp.torch;

namespace Vchitect.Pipelines;

/// <summary>
/// The sampler seam shared by every video pipeline: turns a <see cref="SamplingContext"/> (denoiser, scheduler, initial
/// noise, conditioning, guidance, callbacks) into clean latents. <see cref="DenoisingLoop"/> is the plain loop; plugins
/// such as FreeInit and FreeNoise decorate it.
/// </summary>
public interface IVideoSampler
{
    /// <summary>Runs the sampling.</summary>
    /// <param name="context">Everything the loop needs.</param>
    /// <returns>The denoised latents (B, C, F, h, w), owned by the caller's dispose scope.</returns>
    /// <exception cref="OperationCanceledException">The context's token was cancelled.</exception>
    Tensor Sample(SamplingContext context);
}
