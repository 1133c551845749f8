using Vchitect.Core;
using static TorchSharp.torch;

namespace Vchitect.Models.Autoencoders;

/// <summary>
/// The latent distribution an <see cref="AutoencoderKL"/> encoder gives (diffusers' <c>DiagonalGaussianDistribution</c>):
/// a normal with per-element <see cref="Mean"/> and log-variance, the log-variance clamped to [−30, 20].
/// </summary>
/// <remarks>
/// Owns its three tensors; dispose it (or let an enclosing dispose scope do so). Tensors returned by <see cref="Sample(RandomGenerator?)"/>,
/// <see cref="Sample(Tensor)"/> and <see cref="Mode"/> are new and owned by the caller. Latents are not scaled: multiply by
/// <see cref="AutoencoderKLConfig.ScalingFactor"/> to get diffusion latents.
/// </remarks>
public sealed class DiagonalGaussianDistribution : IDisposable
{
    internal DiagonalGaussianDistribution(Tensor mean, Tensor logVar, Tensor std)
    {
        Mean = mean;
        LogVar = logVar;
        Std = std;
    }

    /// <summary>The mean, (B, latent_channels, h, w) (or (B, C, F, h, w) from a video encode).</summary>
    public Tensor Mean { get; }

    /// <summary>The log-variance, clamped to [−30, 20]; same shape as <see cref="Mean"/>.</summary>
    public Tensor LogVar { get; }

    /// <summary>The standard deviation exp(½·<see cref="LogVar"/>); same shape as <see cref="Mean"/>.</summary>
    public Tensor Std { get; }

    /// <summary>
    /// Draws a sample: <see cref="Mean"/> + <see cref="Std"/>·ε with ε standard normal. With a generator, ε is drawn on the CPU in
    /// the mean's dtype, as diffusers' <c>randn_tensor</c> does with a CPU generator, then moved; without one, from torch's default generator on the mean's device.
    /// </summary>
    /// <param name="generator">The noise source; null for torch's global generator.</param>
    public Tensor Sample(RandomGenerator? generator = null)
    {
        using var noise = generator is null
            ? randn(Mean.shape, Mean.dtype, Mean.device)
            : generator.Randn(Mean.shape, Mean.dtype, Mean.device);
        return Sample(noise);
    }

    /// <summary>The sample for given standard-normal noise: <see cref="Mean"/> + <see cref="Std"/>·<paramref name="noise"/>.</summary>
    /// <param name="noise">Noise of the mean's shape (any device and dtype; it is converted).</param>
    /// <exception cref="ArgumentException">The noise's shape differs from the mean's.</exception>
    public Tensor Sample(Tensor noise)
    {
        ArgumentNullException.ThrowIfNull(noise);
        if (!noise.shape.SequenceEqual(Mean.shape))
        {
            throw new ArgumentException(
                $"noise has shape [{string.Join(", ", noise.shape)}]; expected the latent shape [{string.Join(", ", Mean.shape)}].", nameof(noise));
        }

        using var scope = NewDisposeScope();
        var eps = noise.to(Mean.dtype, Mean.device);
        return (Mean + Std * eps).MoveToOuterDisposeScope();
    }

    /// <summary>The mode of the distribution (a new tensor equal to <see cref="Mean"/>).</summary>
    public Tensor Mode() => Mean.clone();

    /// <inheritdoc/>
    public void Dispose()
    {
        Mean.Dispose();
        LogVar.Dispose();
        Std.Dispose();
    }
}
