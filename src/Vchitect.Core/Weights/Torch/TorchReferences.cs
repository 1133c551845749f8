namespace Vchitect.Core.Weights;

/// <summary>
/// A storage named by a PyTorch checkpoint: the raw, typed buffer that one or more tensors view.
/// Only a description; the data stays in the file until a tensor that views it is read.
/// </summary>
/// <param name="Key">The storage's key in the checkpoint (zip entry <c>&lt;archive&gt;/data/&lt;key&gt;</c>).</param>
/// <param name="DType">The element type of the storage (<c>torch.FloatStorage</c> is <see cref="WeightDType.F32"/>, and so on;
/// an untyped storage is <see cref="WeightDType.U8"/>).</param>
/// <param name="ElementCount">Number of elements of the storage (bytes for an untyped storage).</param>
/// <param name="Location">The device the storage was saved from, e.g. <c>cpu</c> or <c>cuda:0</c> (informative only).</param>
public sealed record StorageReference(string Key, WeightDType DType, long ElementCount, string Location)
{
    /// <summary>
    /// For the legacy (pre-1.6) format only: where this storage starts, in elements, inside the root storage
    /// <see cref="Key"/> (old storage views). Zero otherwise.
    /// </summary>
    internal long RootElementOffset { get; init; }

    /// <summary>For the legacy format: the element count of the root storage <see cref="Key"/> (the file stores that many).</summary>
    internal long RootElementCount { get; init; }

    /// <summary>Number of bytes of the storage.</summary>
    public long ByteLength => checked(ElementCount * DType.ElementSize());
}

/// <summary>
/// A tensor named by a PyTorch checkpoint, as <c>torch._utils._rebuild_tensor_v2</c> would build it: a strided view
/// into a <see cref="StorageReference"/>. Only a description; nothing is read or executed to make it.
/// </summary>
/// <param name="Storage">The storage the tensor views.</param>
/// <param name="StorageOffset">The offset of the first element inside the storage, in elements.</param>
/// <param name="Shape">The shape; empty for a 0-d tensor.</param>
/// <param name="Stride">The stride of each dimension, in elements (same length as <paramref name="Shape"/>).</param>
/// <param name="RequiresGrad">Whether the saved tensor required gradients (an <c>nn.Parameter</c>, usually).</param>
public sealed record TensorReference(
    StorageReference Storage,
    long StorageOffset,
    IReadOnlyList<long> Shape,
    IReadOnlyList<long> Stride,
    bool RequiresGrad)
{
    /// <summary>The element type (that of the storage).</summary>
    public WeightDType DType => Storage.DType;

    /// <summary>Number of elements (1 for a 0-d tensor, 0 when a dimension is 0).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape)
            {
                n = checked(n * d);
            }

            return n;
        }
    }

    /// <summary>Describes the tensor as a <see cref="TensorInfo"/> under a name.</summary>
    /// <param name="name">The tensor's key.</param>
    public TensorInfo ToInfo(string name) => new(name, DType, Shape);

    /// <inheritdoc/>
    public override string ToString() =>
        $"tensor {DType.ToSafetensorsName()} [{string.Join(", ", Shape)}] stride [{string.Join(", ", Stride)}] " +
        $"offset {StorageOffset} in storage '{Storage.Key}' ({Storage.ElementCount} elements)";
}
