namespace Vchitect.Core.Weights;

/// <summary>
/// A weights file (safetensors, PyTorch checkpoint, shard index) is malformed, unsafe or unsupported.
/// The message names the file and, where one is concerned, the tensor or entry.
/// </summary>
public class WeightsFormatException : IOException
{
    /// <summary>Creates the exception.</summary>
    public WeightsFormatException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public WeightsFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public WeightsFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a file and, optionally, one tensor or entry in it.</summary>
    /// <param name="filePath">The file that is at fault.</param>
    /// <param name="entry">The tensor name or archive entry, when the fault is in one.</param>
    /// <param name="problem">What is wrong, with expected and actual values.</param>
    /// <param name="innerException">The error that caused it, if any.</param>
    public WeightsFormatException(string filePath, string? entry, string problem, Exception? innerException = null)
        : base(Format(filePath, entry, problem), innerException)
    {
        FilePath = filePath;
        Entry = entry;
    }

    /// <summary>The file at fault, when known.</summary>
    public string? FilePath { get; }

    /// <summary>The tensor name or archive entry at fault, when the fault is in one.</summary>
    public string? Entry { get; }

    private static string Format(string filePath, string? entry, string problem) =>
        entry is null ? $"{filePath}: {problem}" : $"{filePath}: tensor '{entry}': {problem}";
}
