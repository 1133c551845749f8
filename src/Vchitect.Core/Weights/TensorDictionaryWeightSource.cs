using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Core.Weights;

/// <summary>
/// An <see cref="IWeightSource"/> over tensors already in memory (a state dict built in code, or the output of another
/// reader). Each read returns a new copy, so callers may dispose or modify what they get.
/// </summary>
public sealed class TensorDictionaryWeightSource : IWeightSource
{
    private readonly IReadOnlyDictionary<string, Tensor> _tensors;
    private readonly string[] _keys;
    private readonly bool _ownsTensors;
    private bool _disposed;

    /// <summary>Wraps a dictionary of tensors.</summary>
    /// <param name="tensors">The tensors by key; the key order is the dictionary's enumeration order at construction.</param>
    /// <param name="ownsTensors">When true, <see cref="Dispose"/> disposes the tensors; when false (the default) the caller keeps them.</param>
    /// <param name="description">Names the source in messages; default "in-memory tensors".</param>
    public TensorDictionaryWeightSource(IReadOnlyDictionary<string, Tensor> tensors, bool ownsTensors = false, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        _tensors = tensors;
        _keys = tensors.Keys.ToArray();
        _ownsTensors = ownsTensors;
        Description = description ?? $"in-memory tensors ({_keys.Length})";
    }

    /// <inheritdoc/>
    public string Description { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> Keys
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _keys;
        }
    }

    /// <inheritdoc/>
    public bool Contains(string key)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _tensors.ContainsKey(key);
    }

    /// <inheritdoc/>
    /// <exception cref="NotSupportedException">The tensor's type cannot be stored as weights (complex, say).</exception>
    public TensorInfo GetInfo(string key)
    {
        Tensor tensor = Get(key);
        return new TensorInfo(key, WeightDTypes.FromScalarType(tensor.dtype), tensor.shape);
    }

    /// <inheritdoc/>
    public Tensor ReadTensor(string key, ScalarType? dtype = null, Device? device = null)
    {
        Tensor tensor = Get(key);
        using (torch.no_grad())
        {
            return tensor.to(dtype ?? tensor.dtype, device ?? CPU, copy: true);
        }
    }

    /// <summary>Disposes the tensors if this source owns them; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_ownsTensors)
        {
            foreach (Tensor tensor in _tensors.Values)
            {
                tensor.Dispose();
            }
        }
    }

    private Tensor Get(string key)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(key);
        return _tensors.TryGetValue(key, out Tensor? tensor)
            ? tensor
            : throw new KeyNotFoundException($"{Description}: no tensor '{key}'.");
    }
}
