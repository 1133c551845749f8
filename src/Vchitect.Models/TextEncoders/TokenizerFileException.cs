namespace Vchitect.Models.TextEncoders;

/// <summary>A tokenizer file (<c>vocab.json</c>, <c>merges.txt</c>, <c>tokenizer_config.json</c>, ...) is malformed.</summary>
public sealed class TokenizerFileException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public TokenizerFileException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong.</param>
    public TokenizerFileException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The error that caused it.</param>
    public TokenizerFileException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for one file (and line).</summary>
    /// <param name="filePath">The file at fault.</param>
    /// <param name="line">The 1-based line at fault, or null.</param>
    /// <param name="problem">What is wrong.</param>
    /// <param name="innerException">The error that caused it, if any.</param>
    public TokenizerFileException(string filePath, int? line, string problem, Exception? innerException = null)
        : base(line is null ? $"{filePath}: {problem}" : $"{filePath}, line {line}: {problem}", innerException)
    {
        FilePath = filePath;
        Line = line;
    }

    /// <summary>The file at fault, when known.</summary>
    public string? FilePath { get; }

    /// <summary>The 1-based line at fault, when known.</summary>
    public int? Line { get; }
}
