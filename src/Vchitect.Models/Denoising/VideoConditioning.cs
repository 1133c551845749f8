using static TorchSharp.torch;

namespace Vchitect.Models.Denoising;

/// <summary>
/// What a denoiser is conditioned on: the text encoder's hidden states, plus the optional inputs other pipelines add
/// (latents concatenated on the channel axis, a low-resolution video, class labels). The record does not own its tensors:
/// whoever made them disposes them.
/// </summary>
/// <param name="TextEmbeddings">Text features (B, L, D), e.g. CLIP's last hidden state (B, 77, 768); LaVie's UNet also takes one set per frame, (B, F, L, D) (FreeNoise's prompt schedule).</param>
public sealed record VideoConditioning(Tensor TextEmbeddings)
{
    /// <summary>
    /// Latents (B, C', F, h, w) concatenated after the noisy latents on the channel axis before the model runs: LaVie
    /// interpolation's guide frames, SEINE's mask and masked latents. Null for none.
    /// </summary>
    public Tensor? ConcatLatents { get; init; }

    /// <summary>A low-resolution video (B, 3, F, H, W) for super-resolution UNets (LaVie VSR). Null for none.</summary>
    public Tensor? LowResVideo { get; init; }

    /// <summary>Class labels (B), e.g. the noise level of LaVie VSR's low-resolution augmentation. Null for none.</summary>
    public Tensor? ClassLabels { get; init; }

    /// <summary>Batch size B of the conditioning.</summary>
    public long BatchSize => TextEmbeddings.shape[0];

    /// <summary>
    /// Concatenates two conditionings along the batch (<paramref name="first"/> rows first), as classifier-free guidance
    /// does with [unconditional, conditional]. Every field present in one must be present in the other. The new tensors
    /// belong to the caller's dispose scope.
    /// </summary>
    /// <param name="first">The rows that come first.</param>
    /// <param name="second">The rows that come second.</param>
    /// <returns>A conditioning of batch B₁ + B₂.</returns>
    /// <exception cref="ArgumentException">A field's shapes differ beyond the batch dimension, or a field is set in one and not the other.</exception>
    public static VideoConditioning Concat(VideoConditioning first, VideoConditioning second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        return new VideoConditioning(CatRows(first.TextEmbeddings, second.TextEmbeddings, nameof(TextEmbeddings))!)
        {
            ConcatLatents = CatRows(first.ConcatLatents, second.ConcatLatents, nameof(ConcatLatents)),
            LowResVideo = CatRows(first.LowResVideo, second.LowResVideo, nameof(LowResVideo)),
            ClassLabels = CatRows(first.ClassLabels, second.ClassLabels, nameof(ClassLabels)),
        };
    }

    private static Tensor? CatRows(Tensor? a, Tensor? b, string field)
    {
        if (a is null && b is null)
        {
            return null;
        }

        if (a is null || b is null)
        {
            throw new ArgumentException($"{field} is set in one conditioning and not in the other.", nameof(b));
        }

        if (a.ndim != b.ndim || !a.shape.Skip(1).SequenceEqual(b.shape.Skip(1)))
        {
            throw new ArgumentException(
                $"{field} shapes differ: [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}].", nameof(b));
        }

        return cat([a, b], 0);
    }
}
