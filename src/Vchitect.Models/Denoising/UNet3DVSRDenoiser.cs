using Vchitect.Models.UNets.Vsr;
using static TorchSharp.torch;

namespace Vchitect.Models.Denoising;

/// <summary>
/// Adapts LaVie's super-resolution <see cref="UNet3DVSRModel"/> to <see cref="IVideoDenoiser"/>: text conditioning, the
/// low-resolution video (<see cref="VideoConditioning.LowResVideo"/>, required) and the noise-level class labels
/// (<see cref="VideoConditioning.ClassLabels"/>, required when the model has a class embedding).
/// </summary>
/// <remarks>The adapter does not own the model: dispose the model yourself.</remarks>
public sealed class UNet3DVSRDenoiser : IVideoDenoiser
{
    /// <summary>Wraps <paramref name="model"/>.</summary>
    /// <param name="model">The VSR UNet; it is not disposed by this adapter.</param>
    public UNet3DVSRDenoiser(UNet3DVSRModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
    }

    /// <summary>The wrapped UNet.</summary>
    public UNet3DVSRModel Model { get; }

    /// <inheritdoc/>
    /// <remarks>The latent channels (the UNet's <c>in_channels</c> less the 3 low-resolution RGB channels).</remarks>
    public int InChannels => Model.Config.InChannels - 3;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The conditioning has no <see cref="VideoConditioning.LowResVideo"/>.</exception>
    public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
    {
        ArgumentNullException.ThrowIfNull(conditioning);
        var lowRes = conditioning.LowResVideo
            ?? throw new ArgumentException("The VSR UNet needs VideoConditioning.LowResVideo (the low-resolution frames).", nameof(conditioning));
        return Model.forward(new UNet3DVSRInput(latents, timestep, conditioning.TextEmbeddings, lowRes, conditioning.ClassLabels)).Sample;
    }
}
