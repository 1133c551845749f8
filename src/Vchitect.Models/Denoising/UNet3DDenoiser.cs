using Vchitect.Models.UNets;
using static TorchSharp.torch;

namespace Vchitect.Models.Denoising;

/// <summary>Adapts LaVie's <see cref="UNet3DConditionModel"/> to <see cref="IVideoDenoiser"/> (text conditioning only).</summary>
/// <remarks>The adapter does not own the model: dispose the model yourself.</remarks>
public sealed class UNet3DDenoiser : IVideoDenoiser
{
    /// <summary>Wraps <paramref name="model"/>.</summary>
    /// <param name="model">The UNet; it is not disposed by this adapter.</param>
    public UNet3DDenoiser(UNet3DConditionModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
    }

    /// <summary>The wrapped UNet (for hooks such as FreeU's).</summary>
    public UNet3DConditionModel Model { get; }

    /// <inheritdoc/>
    public int InChannels => Model.Config.InChannels;

    /// <inheritdoc/>
    public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
    {
        ArgumentNullException.ThrowIfNull(conditioning);
        return Model.forward(new UNet3DConditionInput(latents, timestep, conditioning.TextEmbeddings)).Sample;
    }
}
