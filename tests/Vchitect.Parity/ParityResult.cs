using System.Globalization;
using static TorchSharp.torch;

namespace Vchitect.Parity;

/// <summary>The comparison of one output: its largest absolute error and the tolerance it was held to.</summary>
/// <param name="Output">The output's name (the fixture key without <c>out.</c>).</param>
/// <param name="Passed">Whether every element was within tolerance.</param>
/// <param name="MaxAbs">Largest absolute error (NaN when the output could not be computed).</param>
/// <param name="Tolerance">The tolerance text, e.g. <c>1e-05+1e-05*|ref|</c> or <c>exact</c>.</param>
/// <param name="Detail">Why it failed, when that is not just the error size (shape mismatch, exception).</param>
public sealed record ParityResult(string Output, bool Passed, double MaxAbs, string Tolerance, string? Detail = null)
{
    /// <summary>Compares <paramref name="actual"/> with <paramref name="expected"/>: |a−e| ≤ atol + rtol·|e| everywhere, shapes equal, NaN where the reference has NaN.</summary>
    public static ParityResult Close(string output, Tensor expected, Tensor actual, double atol, double rtol = 0)
    {
        string tol = rtol == 0 ? Format(atol) : $"{Format(atol)}+{Format(rtol)}*|ref|";
        if (!expected.shape.SequenceEqual(actual.shape))
        {
            return new ParityResult(output, false, double.NaN, tol, $"shape [{string.Join(",", actual.shape)}] expected [{string.Join(",", expected.shape)}]");
        }

        using var scope = NewDisposeScope();
        var e = expected.to(ScalarType.Float64, CPU);
        var a = actual.to(ScalarType.Float64, CPU);
        if (e.numel() == 0)
        {
            return new ParityResult(output, true, 0, tol);
        }

        var nanMismatch = e.isnan().logical_xor(a.isnan()).any().item<bool>();
        var diff = (a - e).abs().nan_to_num(0);
        double maxAbs = diff.max().item<double>();
        bool within = (diff <= atol + rtol * e.abs().nan_to_num(0)).all().item<bool>();
        return new ParityResult(output, within && !nanMismatch, maxAbs, tol, nanMismatch ? "NaN pattern differs" : null);
    }

    /// <summary>Requires the same dtype, shape and values (timesteps, indices, permutations).</summary>
    public static ParityResult Exact(string output, Tensor expected, Tensor actual)
    {
        if (expected.dtype != actual.dtype)
        {
            return new ParityResult(output, false, double.NaN, "exact", $"dtype {actual.dtype} expected {expected.dtype}");
        }

        if (!expected.shape.SequenceEqual(actual.shape))
        {
            return new ParityResult(output, false, double.NaN, "exact", $"shape [{string.Join(",", actual.shape)}] expected [{string.Join(",", expected.shape)}]");
        }

        using var scope = NewDisposeScope();
        var e = expected.cpu();
        var a = actual.cpu();
        // Tensor.equal is element-wise in TorchSharp (torch.eq): reduce it. NaN equals NaN here.
        bool equal = e.eq(a).logical_or(e.isnan().logical_and(a.isnan())).all().item<bool>();
        double maxAbs = e.numel() == 0 || e.dtype == ScalarType.Bool
            ? (equal ? 0 : 1)
            : (e.to(ScalarType.Float64) - a.to(ScalarType.Float64)).abs().nan_to_num(0).max().item<double>();
        return new ParityResult(output, equal, maxAbs, "exact");
    }

    /// <summary>A failure with no number (the output could not be computed).</summary>
    public static ParityResult Failed(string output, string detail) => new(output, false, double.NaN, "-", detail);

    internal static string Format(double x) => x.ToString("0.###e+0", CultureInfo.InvariantCulture);
}
