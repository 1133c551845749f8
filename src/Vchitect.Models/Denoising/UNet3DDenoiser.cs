using Vchitect.Models.UNets;
using static TorchSharp.torch;

namespace Vchitect.Models.Denoising;

/// <summary>
/// Adapts LaVie's <see cref="UNet3DConditionModel"/> to <see cref="IVideoDenoiser"/>: text conditioning, plus
/// <see cref="VideoConditioning.ConcatLatents"/> concatenated after the noisy latents on the channel axis (LaVie
/// interpolation's guide frames, SEINE's mask and masked latents).
/// </summary>
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
    /// <remarks>The UNet's <c>in_channels</c>, which includes any concatenated conditioning channels.</remarks>
    public int InChannels => Model.Config.InChannels;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The latents plus the concatenated channels do not make the UNet's <c>in_channels</c>.</exception>
    public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
    {
        ArgumentNullException.ThrowIfNull(latents);
        ArgumentNullException.ThrowIfNull(conditioning);
        var input = conditioning.ConcatLatents is { } extra ? cat([latents, extra.to(latents.dtype)], 1) : latents;
        if (input.ndim != 5 || input.shape[1] != InChannels)
        {
            throw new ArgumentException(
                $"The UNet takes {InChannels} input channels; got latents [{string.Join(", ", latents.shape)}]"
                + (conditioning.ConcatLatents is { } c ? $" + ConcatLatents [{string.Join(", ", c.shape)}]." : " and no ConcatLatents."),
                nameof(latents));
        }

        return Model.forward(new UNet3DConditionInput(input, timestep, conditioning.TextEmbeddings)).Sample;
    }
}
