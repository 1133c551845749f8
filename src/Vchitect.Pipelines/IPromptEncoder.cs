using static TorchSharp.torch;

namespace Vchitect.Pipelines;

/// <summary>
/// Turns prompts into text conditioning (B, L, D): the tokenizer and text encoder of a pipeline (CLIP for LaVie).
/// Implement it to plug in another text encoder.
/// </summary>
public interface IPromptEncoder : IDisposable
{
    /// <summary>Feature size D of the embeddings (768 for SD v1.4's CLIP ViT-L/14).</summary>
    int EmbeddingDim { get; }

    /// <summary>Encodes prompts, one row each.</summary>
    /// <param name="prompts">The prompts (may be empty strings).</param>
    /// <returns>Embeddings (B, L, D) on the encoder's device and dtype, owned by the caller's dispose scope.</returns>
    Tensor Encode(IReadOnlyList<string> prompts);
}
