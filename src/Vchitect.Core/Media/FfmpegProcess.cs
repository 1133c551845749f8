using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Vchitect.Core.Media;

/// <summary>
/// Finds and runs ffmpeg/ffprobe without a shell (<see cref="ProcessStartInfo.ArgumentList"/>). Standard error is read
/// asynchronously into a bounded tail so a chatty child never blocks on a full pipe; standard output is either handed to
/// the caller or drained. The process is killed (with its children) on cancellation, on timeout and on disposal.
/// </summary>
internal sealed class FfmpegProcess : IDisposable
{
    /// <summary>Environment variable naming the ffmpeg executable.</summary>
    public const string FfmpegVariable = "VCHITECT_FFMPEG";

    /// <summary>Environment variable naming the ffprobe executable.</summary>
    public const string FfprobeVariable = "VCHITECT_FFPROBE";

    private const int TailChars = 4000;

    private readonly Process _process;
    private readonly Task<string> _stderr;
    private readonly Task? _stdoutDrain;
    private readonly CancellationTokenSource _cts;
    private readonly CancellationTokenRegistration _killOnCancel;
    private readonly CancellationToken _callerToken;

    private FfmpegProcess(string executable, IEnumerable<string> arguments, bool writesStdin, bool readsStdout, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = writesStdin,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        _callerToken = cancellationToken;
        _process = new Process { StartInfo = psi };
        try
        {
            _process.Start();
        }
        catch (Win32Exception e)
        {
            _process.Dispose();
            throw new FfmpegNotFoundException($"Could not start '{executable}': {e.Message}. {InstallHint}", e);
        }

        _stderr = ReadTailAsync(_process.StandardError);
        _stdoutDrain = readsStdout ? null : _process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
        _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout.TotalMilliseconds < int.MaxValue)
        {
            _cts.CancelAfter(timeout);
        }

        _killOnCancel = _cts.Token.Register(Kill);
    }

    /// <summary>How to get ffmpeg, for error messages.</summary>
    public static string InstallHint =>
        "ffmpeg is needed for MP4 files and for loading videos other than GIF/PNG/JPEG/WebP/BMP. Install it " +
        "(Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg; Windows: winget install ffmpeg), " +
        $"or point the FfmpegPath option or the {FfmpegVariable} environment variable at the executable; " +
        "or save with Video.SaveGif / SavePngFrames, which need no ffmpeg.";

    /// <summary>The child's standard input (when it was asked for).</summary>
    public Stream StandardInput => _process.StandardInput.BaseStream;

    /// <summary>The child's standard output (when the caller reads it).</summary>
    public Stream StandardOutput => _process.StandardOutput.BaseStream;

    /// <summary>Cancelled by the caller's token or by the timeout.</summary>
    public CancellationToken Token => _cts.Token;

    public static FfmpegProcess Start(string executable, IEnumerable<string> arguments, bool writesStdin, bool readsStdout, TimeSpan timeout, CancellationToken cancellationToken) =>
        new(executable, arguments, writesStdin, readsStdout, timeout, cancellationToken);

    /// <summary>Finds ffmpeg: the explicit path, else <c>VCHITECT_FFMPEG</c>, else <c>PATH</c>.</summary>
    /// <exception cref="FfmpegNotFoundException">Not found.</exception>
    public static string LocateFfmpeg(string? explicitPath) => Locate("ffmpeg", explicitPath, FfmpegVariable, null);

    /// <summary>Finds ffprobe: the explicit path, else <c>VCHITECT_FFPROBE</c>, else beside ffmpeg, else <c>PATH</c>.</summary>
    /// <exception cref="FfmpegNotFoundException">Not found.</exception>
    public static string LocateFfprobe(string? explicitPath, string ffmpegPath) =>
        Locate("ffprobe", explicitPath, FfprobeVariable, Path.GetDirectoryName(ffmpegPath));

    /// <summary>
    /// Closes standard input (if redirected), waits for the exit and the readers, and returns the exit code and the stderr tail.
    /// Throws <see cref="OperationCanceledException"/> when the caller cancelled and <see cref="TimeoutException"/> when the timeout killed it.
    /// </summary>
    public (int ExitCode, string StandardErrorTail) Finish(string what)
    {
        if (_process.StartInfo.RedirectStandardInput)
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The child already exited (broken pipe); its exit code and stderr tell why.
            }
        }

        _process.WaitForExit();
        string tail = _stderr.GetAwaiter().GetResult();
        try
        {
            _stdoutDrain?.GetAwaiter().GetResult();
        }
        catch (IOException)
        {
            // Nothing is lost by failing to drain output nobody reads.
        }

        ThrowIfStopped(what);
        return (_process.ExitCode, tail);
    }

    /// <summary>Throws for caller cancellation or timeout, if either happened.</summary>
    public void ThrowIfStopped(string what)
    {
        _callerToken.ThrowIfCancellationRequested();
        if (_cts.IsCancellationRequested)
        {
            throw new TimeoutException($"{what}: ffmpeg did not finish within the time limit and was stopped.");
        }
    }

    public void Dispose()
    {
        _killOnCancel.Dispose();
        Kill();
        _cts.Dispose();
        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
        catch (Win32Exception)
        {
            // Exiting; nothing more to do.
        }
    }

    private static async Task<string> ReadTailAsync(StreamReader reader)
    {
        var tail = new StringBuilder();
        char[] buffer = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            tail.Append(buffer, 0, n);
            if (tail.Length > 2 * TailChars)
            {
                tail.Remove(0, tail.Length - TailChars);
            }
        }

        string text = tail.ToString();
        return (text.Length > TailChars ? "…" + text[^TailChars..] : text).TrimEnd();
    }

    private static string Locate(string name, string? explicitPath, string variable, string? besideDirectory)
    {
        if (explicitPath is not null)
        {
            return File.Exists(explicitPath)
                ? Path.GetFullPath(explicitPath)
                : throw new FfmpegNotFoundException($"{name} was not found at '{explicitPath}' (given as an option). {InstallHint}");
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return File.Exists(fromEnvironment)
                ? Path.GetFullPath(fromEnvironment)
                : throw new FfmpegNotFoundException($"{name} was not found at '{fromEnvironment}' (from {variable}). {InstallHint}");
        }

        string fileName = OperatingSystem.IsWindows() ? name + ".exe" : name;
        if (besideDirectory is not null && File.Exists(Path.Combine(besideDirectory, fileName)))
        {
            return Path.Combine(besideDirectory, fileName);
        }

        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir.Trim('"'), fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FfmpegNotFoundException($"{name} was not found on PATH and {variable} is not set. {InstallHint}");
    }
}

/// <summary>Writes files under a temporary name in the target directory and moves them into place when complete.</summary>
internal static class AtomicFile
{
    /// <summary>A hidden temporary name beside <paramref name="fullPath"/>, unique per call.</summary>
    public static string TemporaryPathFor(string fullPath) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");

    /// <summary>Writes through <paramref name="write"/> to a temporary file, then replaces <paramref name="path"/> with it.</summary>
    public static void Write(string path, Action<Stream> write, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string full = Path.GetFullPath(path);
        string temp = TemporaryPathFor(full);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
            }

            cancellationToken.ThrowIfCancellationRequested();
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    /// <summary>Deletes a file if it exists, ignoring failures (used to clean up temporaries).</summary>
    public static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Checks an output path and creates its directory; returns the full path.</summary>
    public static string PrepareOutput(string path, string paramName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path, paramName);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new ArgumentException($"'{path}' is a directory; give a file path.", paramName);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return full;
    }
}
