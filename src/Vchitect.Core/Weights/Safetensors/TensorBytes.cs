using static TorchSharp.torch;

namespace Vchitect.Core.Weights;

/// <summary>Raw byte access to CPU tensors in bounded blocks (TorchSharp's byte spans stop at 2 GiB).</summary>
internal static class TensorBytes
{
    /// <summary>Receives one block of a tensor's bytes.</summary>
    /// <param name="block">The tensor's own memory for this block (read or write it).</param>
    /// <param name="byteOffset">Where the block starts, in bytes from the tensor's first element.</param>
    public delegate void BlockAction(Span<byte> block, long byteOffset);

    /// <summary>
    /// Calls <paramref name="action"/> on consecutive blocks covering all bytes of <paramref name="tensor"/>, in order,
    /// each a whole number of elements and at most <paramref name="maxBlockBytes"/> long (or one element, if larger).
    /// Nothing is called for an empty tensor.
    /// </summary>
    /// <param name="tensor">A contiguous CPU tensor.</param>
    /// <param name="maxBlockBytes">Upper bound on a block, in bytes.</param>
    /// <param name="action">What to do with each block.</param>
    public static void ForEachBlock(Tensor tensor, int maxBlockBytes, BlockAction action)
    {
        long elements = tensor.NumberOfElements;
        if (elements == 0)
        {
            return;
        }

        long elementSize = tensor.ElementSize;
        long perBlock = Math.Max(1, maxBlockBytes / elementSize);
        if (elements <= perBlock)
        {
            action(tensor.bytes, 0);
            return;
        }

        using Tensor flat = tensor.reshape(-1);
        for (long start = 0; start < elements; start += perBlock)
        {
            using Tensor part = flat.narrow(0, start, Math.Min(perBlock, elements - start));
            action(part.bytes, start * elementSize);
        }
    }
}
