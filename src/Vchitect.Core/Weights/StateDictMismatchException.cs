namespace Vchitect.Core.Weights;

/// <summary>
/// A checkpoint does not fit a module: keys are missing or unexpected (strict loading), or shapes differ.
/// Thrown by <see cref="ModuleWeights.Load"/> before anything is copied, so the module is unchanged; the message lists
/// every offending key, grouped, with counts, and <see cref="Report"/> holds them as data.
/// </summary>
public class StateDictMismatchException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StateDictMismatchException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public StateDictMismatchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public StateDictMismatchException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a failed load.</summary>
    /// <param name="report">What matched and what did not (nothing loaded).</param>
    /// <param name="sourceDescription">The checkpoint, for the message.</param>
    /// <param name="moduleName">The module's type name, for the message.</param>
    public StateDictMismatchException(WeightLoadReport report, string sourceDescription, string moduleName)
        : base(Format(report, sourceDescription, moduleName))
    {
        Report = report;
        SourceDescription = sourceDescription;
    }

    /// <summary>The keys that matched and those that did not; null when created from a bare message.</summary>
    public WeightLoadReport? Report { get; }

    /// <summary>The checkpoint that was being loaded, when known.</summary>
    public string? SourceDescription { get; }

    private static string Format(WeightLoadReport report, string sourceDescription, string moduleName)
    {
        ArgumentNullException.ThrowIfNull(report);
        string problems = string.Join(", ", new[]
        {
            report.Missing.Count > 0 ? $"{report.Missing.Count} missing" : null,
            report.Unexpected.Count > 0 ? $"{report.Unexpected.Count} unexpected" : null,
            report.ShapeMismatches.Count > 0 ? $"{report.ShapeMismatches.Count} shape mismatches" : null,
        }.OfType<string>());
        return $"Cannot load {sourceDescription} into {moduleName}: {problems}; nothing was copied, the module is unchanged.\n"
            + report.Describe()
            + "\nUse WeightLoadOptions: KeyMap/StripPrefix/AddPrefix to rename keys, IgnoreMissing/IgnoreUnexpected for known "
            + "differences, Strict = false to load what matches, SkipShapeMismatches to leave mismatched tensors as they are.";
    }
}
