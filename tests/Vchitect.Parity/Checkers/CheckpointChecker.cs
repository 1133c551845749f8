using Vchitect.Core.Weights;
using static TorchSharp.torch;

namespace Vchitect.Parity.Checkers;

/// <summary>
/// <c>checkpoint</c>: a safetensors file holding the same tensors as the <c>.pt</c> file of the same name beside it
/// (written by PyTorch's own <c>torch.save</c>). Every tensor read from the checkpoint must equal its twin exactly.
/// </summary>
public sealed class CheckpointChecker : IParityChecker
{
    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["checkpoint"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        string pt = Path.ChangeExtension(fixture.Path, ".pt");
        if (!File.Exists(pt))
        {
            yield return ParityResult.Failed("-", $"its twin {pt} is missing");
            yield break;
        }

        using var checkpoint = TorchCheckpoint.Open(pt);
        var expectedKeys = fixture.File.Keys.Order(StringComparer.Ordinal).ToArray();
        var actualKeys = checkpoint.Keys.Order(StringComparer.Ordinal).ToArray();
        if (!expectedKeys.SequenceEqual(actualKeys))
        {
            yield return ParityResult.Failed("keys", $"checkpoint has [{string.Join(", ", actualKeys)}], expected [{string.Join(", ", expectedKeys)}]");
        }

        foreach (string key in expectedKeys.Intersect(actualKeys))
        {
            using var scope = NewDisposeScope();
            yield return ParityResult.Exact(key, fixture.File.ReadTensor(key), checkpoint.ReadTensor(key));
        }
    }
}
