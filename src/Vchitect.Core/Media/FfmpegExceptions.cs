namespace Vchitect.Core.Media;

/// <summary>
/// The ffmpeg (or ffprobe) executable that MP4 saving or video loading needs was not found. The message says where it was
/// looked for and how to install it (for example <c>apt-get install ffmpeg</c>), or to use <see cref="Video.SaveGif"/>.
/// </summary>
public class FfmpegNotFoundException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public FfmpegNotFoundException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public FfmpegNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public FfmpegNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>ffmpeg ran but failed. The message ends with the tail of ffmpeg's standard error.</summary>
public class FfmpegException : IOException
{
    /// <summary>Creates the exception.</summary>
    public FfmpegException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public FfmpegException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public FfmpegException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a failed run.</summary>
    /// <param name="message">What was being done.</param>
    /// <param name="exitCode">ffmpeg's exit code, or null when it did not exit by itself.</param>
    /// <param name="standardErrorTail">The last lines ffmpeg wrote to standard error.</param>
    /// <param name="innerException">The error that caused it, if any.</param>
    public FfmpegException(string message, int? exitCode, string standardErrorTail, Exception? innerException = null)
        : base($"{message} (exit code {(exitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none")}). ffmpeg said:{Environment.NewLine}{standardErrorTail}", innerException)
    {
        ExitCode = exitCode;
        StandardErrorTail = standardErrorTail;
    }

    /// <summary>ffmpeg's exit code, or null when it did not exit by itself.</summary>
    public int? ExitCode { get; }

    /// <summary>The last part of what ffmpeg wrote to standard error.</summary>
    public string StandardErrorTail { get; } = string.Empty;
}
