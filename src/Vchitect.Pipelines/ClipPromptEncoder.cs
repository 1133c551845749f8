using Microsoft.Extensions.Logging;
using Vchitect.Models.TextEncoders;
using static TorchSharp.torch;

namespace Vchitect.Pipelines;

/// <summary>
/// Stable Diffusion v1's prompt encoding: the CLIP tokenizer (padded to 77 tokens, truncated) and the CLIP text model's
/// last hidden state, with no attention mask (as SD v1.4 and LaVie run it). Owns the text model.
/// </summary>
public sealed class ClipPromptEncoder : IPromptEncoder
{
    private readonly CLIPTokenizer _tokenizer;
    private readonly CLIPTextModel _model;

    /// <summary>Wraps a tokenizer and a text model; takes ownership of the model.</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="model">The text model.</param>
    /// <exception cref="ArgumentException">The tokenizer pads longer than the model's positions.</exception>
    public ClipPromptEncoder(CLIPTokenizer tokenizer, CLIPTextModel model)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(model);
        if (tokenizer.MaxLength > model.Config.MaxPositionEmbeddings)
        {
            throw new ArgumentException(
                $"The tokenizer pads to {tokenizer.MaxLength} tokens; the text model has {model.Config.MaxPositionEmbeddings} positions.", nameof(tokenizer));
        }

        _tokenizer = tokenizer;
        _model = model;
        _model.eval();
    }

    /// <inheritdoc/>
    public int EmbeddingDim => _model.Config.HiddenSize;

    /// <summary>Loads <c>tokenizer/</c> and <c>text_encoder/</c> of a pipeline folder.</summary>
    /// <param name="path">The pipeline folder.</param>
    /// <param name="device">Device; null for the CPU.</param>
    /// <param name="dtype">Weights dtype; null for float32.</param>
    /// <param name="logger">Receives load and truncation warnings; null for none.</param>
    /// <returns>The encoder, owned by the caller.</returns>
    /// <exception cref="FileNotFoundException">A tokenizer or text encoder file is missing.</exception>
    public static ClipPromptEncoder FromPretrained(string path, Device? device = null, ScalarType? dtype = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var tokenizer = CLIPTokenizer.FromFolder(Path.Combine(path, "tokenizer"), logger: logger);
        var model = CLIPTextModel.FromPretrained(Path.Combine(path, "text_encoder"), dtype, device, logger);
        return new ClipPromptEncoder(tokenizer, model);
    }

    /// <inheritdoc/>
    public Tensor Encode(IReadOnlyList<string> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        using var scope = NewDisposeScope();
        var device = _model.parameters().First().device;
        var ids = _tokenizer.Encode(prompts).InputIdsTensor(device);
        var output = _model.forward(new CLIPTextInput(ids));
        return output.LastHiddenState.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void Dispose() => _model.Dispose();
}
