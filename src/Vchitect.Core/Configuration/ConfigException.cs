namespace Vchitect.Core.Configuration;

/// <summary>A config file or record is invalid: malformed JSON, a field of the wrong type, or a value out of range.</summary>
public class ConfigException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public ConfigException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ConfigException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public ConfigException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for one field.</summary>
    /// <param name="source">The file (or other source) of the config, or null when it was built in code.</param>
    /// <param name="field">The JSON field name, e.g. <c>block_out_channels</c>.</param>
    /// <param name="problem">What is wrong: the value and what was allowed.</param>
    /// <param name="innerException">The error that caused it, if any.</param>
    public ConfigException(string? source, string? field, string problem, Exception? innerException = null)
        : base(Format(source, field, problem), innerException)
    {
        ConfigSource = source;
        Field = field;
        Problem = problem;
    }

    /// <summary>The file (or other source) of the config, when known.</summary>
    public string? ConfigSource { get; }

    /// <summary>The JSON field at fault, when the fault is in one field.</summary>
    public string? Field { get; }

    /// <summary>
    /// What is wrong, without the source and field prefix of <see cref="Exception.Message"/>; null when the exception
    /// was created from a bare message.
    /// </summary>
    public string? Problem { get; }

    /// <summary>Throws a <see cref="ConfigException"/> for <paramref name="field"/> unless <paramref name="condition"/> holds.</summary>
    /// <param name="condition">What must hold.</param>
    /// <param name="field">The JSON field name.</param>
    /// <param name="problem">The message when it does not: the value and what is allowed.</param>
    public static void ThrowIfNot(bool condition, string field, string problem)
    {
        if (!condition)
        {
            throw new ConfigException(null, field, problem);
        }
    }

    private static string Format(string? source, string? field, string problem)
    {
        string where = (source, field) switch
        {
            (null, null) => "config",
            (null, _) => $"config field '{field}'",
            (_, null) => source!,
            _ => $"{source}: field '{field}'",
        };
        return $"{where}: {problem}";
    }
}
