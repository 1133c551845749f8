using static TorchSharp.torch;

namespace Vchitect.Models.Denoising;

/// <summary>
/// The denoiser seam shared by every video pipeline: predicts the noise (or velocity, per the model's training) for
/// video latents at a timestep under a conditioning. The LaVie 3D UNet implements it through
/// <see cref="UNet3DDenoiser"/>; plugins such as ControlNet or FreeU decorate it (wrap one denoiser in another).
/// </summary>
/// <remarks>Implementations run on the caller's thread and return a tensor owned by the caller's dispose scope.</remarks>
public interface IVideoDenoiser
{
    /// <summary>Latent channels the denoiser expects (4 for LaVie).</summary>
    int InChannels { get; }

    /// <summary>Predicts the model output for <paramref name="latents"/> at <paramref name="timestep"/>.</summary>
    /// <param name="latents">Noisy latents (B, C, F, h, w), already scaled by the scheduler's <c>ScaleModelInput</c>.</param>
    /// <param name="timestep">The timestep: a 0-d tensor or one per batch row (B).</param>
    /// <param name="conditioning">The conditioning, batch B.</param>
    /// <returns>The prediction, (B, out_channels, F, h, w), owned by the caller.</returns>
    Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning);

    /// <summary>
    /// Finds a part of this denoiser by type: the denoiser itself when it is a <typeparamref name="T"/>, else (for a
    /// decorator) what it wraps. Plugins use it to reach the model under any stack of decorators, e.g.
    /// <c>denoiser.Find&lt;UNet3DDenoiser&gt;()?.Model</c>.
    /// </summary>
    /// <typeparam name="T">The type looked for.</typeparam>
    /// <returns>The first match from the outside in, or null.</returns>
    /// <remarks>A decorator overrides this as <c>this as T ?? Inner.Find&lt;T&gt;()</c>; the default looks at itself only.</remarks>
    T? Find<T>()
        where T : class => this as T;
}
