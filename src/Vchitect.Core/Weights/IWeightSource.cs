using static TorchSharp.torch;

namespace Vchitect.Core.Weights;

/// <summary>
/// A read-only set of named tensors (a state dict) that is read lazily, one tensor at a time:
/// a safetensors file, a PyTorch checkpoint, or several shards seen as one.
/// </summary>
/// <remarks>
/// Loading a model reads each tensor once and copies it into the module's parameter, so the whole checkpoint
/// never sits in memory twice. Implementations are not thread-safe; dispose the source to release its file.
/// </remarks>
public interface IWeightSource : IDisposable
{
    /// <summary>Where the tensors come from (a file path, or a list of shards), for messages.</summary>
    string Description { get; }

    /// <summary>All tensor names, in the order the source stores them.</summary>
    IReadOnlyList<string> Keys { get; }

    /// <summary>Whether a tensor of this name exists.</summary>
    bool Contains(string key);

    /// <summary>The dtype and shape of a tensor without reading its data.</summary>
    /// <exception cref="KeyNotFoundException">No tensor of that name; the message names the source and the key.</exception>
    TensorInfo GetInfo(string key);

    /// <summary>
    /// Reads one tensor into a new TorchSharp tensor that the caller owns (and must dispose or scope).
    /// </summary>
    /// <param name="key">The tensor name.</param>
    /// <param name="dtype">Convert to this type; null keeps the stored type.</param>
    /// <param name="device">Place on this device; null means CPU.</param>
    /// <exception cref="KeyNotFoundException">No tensor of that name.</exception>
    /// <exception cref="WeightsFormatException">The stored data is unreadable (truncated file, say).</exception>
    Tensor ReadTensor(string key, ScalarType? dtype = null, Device? device = null);
}
