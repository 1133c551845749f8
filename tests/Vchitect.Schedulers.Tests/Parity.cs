using System.Collections.Concurrent;
using Vchitect.TestUtilities;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Schedulers.Tests;

/// <summary>Parity assertions that also log the max abs error of every checked output (for the parity report).</summary>
internal static class Parity
{
    /// <summary>Step-level tolerance of the fixtures README: |a−b| ≤ 1e-5 + 1e-5·|b|.</summary>
    public const double StepTol = 1e-5;

    /// <summary>Loop tolerance: |a−b| ≤ 1e-4 + 1e-4·|b|.</summary>
    public const double LoopTol = 1e-4;

    public static readonly ConcurrentDictionary<string, double> MaxErrors = new(StringComparer.Ordinal);

    public static void Close(Tensor expected, Tensor actual, double tol, string what, ITestOutputHelper? output = null)
    {
        using var scope = NewDisposeScope();
        double err = expected.shape.SequenceEqual(actual.shape)
            ? (actual.to_type(ScalarType.Float64) - expected.to_type(ScalarType.Float64)).abs().max().item<double>()
            : double.NaN;
        MaxErrors[what] = err;
        output?.WriteLine($"{what}: max abs error {err:G3}");
        Log(what, err);
        TensorAssert.Close(expected, actual, tol, tol, what);
    }

    public static void Exact(Tensor expected, Tensor actual, string what, ITestOutputHelper? output = null)
    {
        output?.WriteLine($"{what}: exact");
        Log(what, 0);
        TensorAssert.Equal(expected, actual, what);
    }

    private static void Log(string what, double err)
    {
        string? file = Environment.GetEnvironmentVariable("VCHITECT_PARITY_LOG");
        if (!string.IsNullOrEmpty(file))
        {
            lock (MaxErrors)
            {
                File.AppendAllText(file, $"{what}\t{err:G3}\n");
            }
        }
    }
}
