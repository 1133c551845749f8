namespace Vchitect.Core.Weights;

/// <summary>What a weights file says about one stored tensor, before its data is read.</summary>
/// <param name="Name">The tensor's key, e.g. <c>down_blocks.0.resnets.0.conv1.weight</c>.</param>
/// <param name="DType">The stored element type.</param>
/// <param name="Shape">The shape; empty for a 0-d tensor.</param>
public sealed record TensorInfo(string Name, WeightDType DType, IReadOnlyList<long> Shape)
{
    /// <summary>Number of elements (1 for a 0-d tensor, 0 when any dimension is 0).</summary>
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

    /// <summary>Number of bytes of the stored data.</summary>
    public long ByteLength => checked(ElementCount * DType.ElementSize());

    /// <summary>The shape as an array, as TorchSharp takes it.</summary>
    public long[] ShapeArray() => Shape.ToArray();

    /// <summary>Equal when name, dtype and shape (element by element) are equal.</summary>
    /// <param name="other">The info to compare with.</param>
    public bool Equals(TensorInfo? other) =>
        other is not null
        && string.Equals(Name, other.Name, StringComparison.Ordinal)
        && DType == other.DType
        && Shape.SequenceEqual(other.Shape);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name, StringComparer.Ordinal);
        hash.Add(DType);
        foreach (long d in Shape)
        {
            hash.Add(d);
        }

        return hash.ToHashCode();
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {DType.ToSafetensorsName()} [{string.Join(", ", Shape)}]";
}
