using Xunit.Sdk;
using static TorchSharp.torch;

namespace Vchitect.TestUtilities;

/// <summary>Tensor comparisons that report the largest error and where it is.</summary>
public static class TensorAssert
{
    /// <summary>
    /// Asserts |actual − expected| ≤ atol + rtol·|expected| everywhere (shapes equal), reporting the max abs error and its index.
    /// </summary>
    public static void Close(Tensor expected, Tensor actual, double atol, double rtol = 0, string? what = null)
    {
        string name = what ?? "tensor";
        if (!expected.shape.SequenceEqual(actual.shape))
        {
            throw new XunitException($"{name}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        }

        using var scope = NewDisposeScope();
        var e = expected.to(ScalarType.Float64, CPU);
        var a = actual.to(ScalarType.Float64, CPU);
        if (e.numel() == 0)
        {
            return;
        }

        var diff = (a - e).abs();
        var excess = diff - (atol + rtol * e.abs());
        long worst = excess.flatten().argmax().item<long>();
        double worstExcess = excess.flatten()[worst].item<double>();
        double maxAbs = diff.max().item<double>();
        bool hasNan = a.isnan().any().item<bool>() != e.isnan().any().item<bool>();
        if (worstExcess > 0 || hasNan || double.IsNaN(maxAbs))
        {
            throw new XunitException(
                $"{name}: max abs error {maxAbs:G6} (atol {atol:G3}, rtol {rtol:G3}); worst at flat index {worst}: " +
                $"actual {a.flatten()[worst].item<double>():G9}, expected {e.flatten()[worst].item<double>():G9}");
        }
    }

    /// <summary>Asserts the tensors are equal element for element (same dtype, shape and values).</summary>
    public static void Equal(Tensor expected, Tensor actual, string? what = null)
    {
        string name = what ?? "tensor";
        if (expected.dtype != actual.dtype)
        {
            throw new XunitException($"{name}: dtype {actual.dtype}, expected {expected.dtype}");
        }

        if (!expected.shape.SequenceEqual(actual.shape))
        {
            throw new XunitException($"{name}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        }

        // TorchSharp's Tensor.equal is element-wise (torch.eq), so reduce it; NaN equals NaN here.
        using var scope = NewDisposeScope();
        var same = expected.eq(actual).logical_or(expected.isnan().logical_and(actual.isnan()));
        if (!same.all().item<bool>())
        {
            long first = same.logical_not().flatten().nonzero()[0, 0].item<long>();
            throw new XunitException($"{name}: values differ, first at flat index {first}");
        }
    }
}
