using static TorchSharp.torch;

namespace Vchitect.Models.Denoising;

/// <summary>
/// What a denoiser is conditioned on. For text-to-video this is the text encoder's hidden states; other pipelines add
/// their own fields in later versions. The record does not own its tensors: whoever made them disposes them.
/// </summary>
/// <param name="TextEmbeddings">Text features (B, L, D), e.g. CLIP's last hidden state (B, 77, 768).</param>
public sealed record VideoConditioning(Tensor TextEmbeddings)
{
    /// <summary>Batch size B of the conditioning.</summary>
    public long BatchSize => TextEmbeddings.shape[0];

    /// <summary>
    /// Concatenates two conditionings along the batch (<paramref name="first"/> rows first), as classifier-free guidance
    /// does with [unconditional, conditional]. The new tensor belongs to the caller's dispose scope.
    /// </summary>
    /// <param name="first">The rows that come first.</param>
    /// <param name="second">The rows that come second.</param>
    /// <returns>A conditioning of batch B₁ + B₂.</returns>
    /// <exception cref="ArgumentException">The feature shapes differ beyond the batch dimension.</exception>
    public static VideoConditioning Concat(VideoConditioning first, VideoConditioning second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        var a = first.TextEmbeddings;
        var b = second.TextEmbeddings;
        if (a.ndim != b.ndim || !a.shape.Skip(1).SequenceEqual(b.shape.Skip(1)))
        {
            throw new ArgumentException(
                $"TextEmbeddings shapes differ: [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}].", nameof(second));
        }

        return new VideoConditioning(cat([a, b], 0));
    }
}
