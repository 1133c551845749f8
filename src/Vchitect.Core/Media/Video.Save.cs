using System.Globalization;
using SkiaSharp;
using Vchitect.Core.Media.Gif;

namespace Vchitect.Core.Media;

public sealed partial class Video
{
    /// <summary>
    /// Saves each frame as an 8-bit RGB PNG file named <c>{prefix}{index}.png</c> in <paramref name="directory"/>, the index
    /// zero-padded to at least 4 digits (<c>frame_0000.png</c>, <c>frame_0001.png</c>, …). Existing files of the same names
    /// are replaced; the directory is created if needed. Each file is written under a temporary name and moved into place
    /// when complete, so a failure or cancellation never leaves a partial PNG (frames already saved stay).
    /// </summary>
    /// <param name="directory">The output folder.</param>
    /// <param name="prefix">The file name prefix; default <c>frame_</c>. May be empty; must not contain path separators or invalid file-name characters.</param>
    /// <param name="cancellationToken">Checked before each frame.</param>
    /// <returns>The full paths written, in frame order.</returns>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is empty, or <paramref name="prefix"/> has an invalid character.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="IOException">A file could not be written.</exception>
    public IReadOnlyList<string> SavePngFrames(string directory, string prefix = "frame_", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || prefix.Contains('/', StringComparison.Ordinal) || prefix.Contains('\\', StringComparison.Ordinal))
        {
            throw new ArgumentException($"prefix '{prefix}' contains a path separator or a character not allowed in file names.", nameof(prefix));
        }

        cancellationToken.ThrowIfCancellationRequested();
        string full = Path.GetFullPath(directory);
        Directory.CreateDirectory(full);
        int digits = Math.Max(4, (FrameCount - 1).ToString(CultureInfo.InvariantCulture).Length);
        var paths = new List<string>(FrameCount);
        byte[] rgba = new byte[Width * Height * 4];
        for (int f = 0; f < FrameCount; f++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            RgbToRgba(GetFramePixels(f).Span, rgba);
            string path = Path.Combine(full, prefix + f.ToString("D" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + ".png");
            AtomicFile.Write(path, stream => EncodePng(rgba, Width, Height, stream, path), cancellationToken);
            paths.Add(path);
        }

        return paths;
    }

    /// <summary>
    /// Saves the video as an animated GIF89a with the built-in encoder (no ffmpeg needed). Frames with at most 256 distinct
    /// colours are stored exactly; others are reduced to 256 colours by median cut (optionally dithered). The frame delay is
    /// <c>round(100 / <see cref="Fps"/>)</c> centiseconds, at least 2 (see <see cref="GifOptions"/>). The file is written
    /// under a temporary name in the same folder and moved into place when complete; the folder is created if needed.
    /// </summary>
    /// <param name="path">The output file; replaced if it exists.</param>
    /// <param name="options">Looping, palette and dithering; null for the defaults (loop forever, per-frame palettes, no dithering).</param>
    /// <param name="cancellationToken">Checked before each frame; on cancellation no file is left behind.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or a directory.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="NotSupportedException">The frames are larger than GIF allows (65535 pixels per side).</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="IOException">The file could not be written.</exception>
    public void SaveGif(string path, GifOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new GifOptions();
        options.Validate();
        string full = AtomicFile.PrepareOutput(path, nameof(path));
        AtomicFile.Write(full, stream => GifWriter.Write(this, stream, options, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Writes the video as an animated GIF89a to a stream (see <see cref="SaveGif"/>). The stream is not closed; on failure
    /// or cancellation part of a GIF may have been written to it.
    /// </summary>
    /// <param name="destination">A writable stream.</param>
    /// <param name="options">Looping, palette and dithering; null for the defaults.</param>
    /// <param name="cancellationToken">Checked before each frame.</param>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="NotSupportedException">The frames are larger than GIF allows.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public void WriteGif(Stream destination, GifOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        options ??= new GifOptions();
        options.Validate();
        GifWriter.Write(this, destination, options, cancellationToken);
    }

    /// <summary>
    /// Saves the video as an H.264 MP4 through ffmpeg: raw RGB frames are piped to ffmpeg's standard input and encoded
    /// with libx264 at <see cref="Mp4Options.Crf"/> in yuv420p at <see cref="Fps"/> frames per second. Frames of odd width
    /// or height are padded with black on the right/bottom to even sizes (4:2:0 needs them), so such a file decodes one
    /// pixel wider or taller. ffmpeg is run without a shell and is killed on cancellation or timeout; it writes to a
    /// temporary file in the same folder that is moved into place only on success.
    /// </summary>
    /// <param name="path">The output file; replaced if it exists.</param>
    /// <param name="options">Quality, preset, ffmpeg location and time limit; null for the defaults.</param>
    /// <param name="cancellationToken">Checked before each frame; on cancellation no file is left behind.</param>
    /// <exception cref="FfmpegNotFoundException">ffmpeg was not found (the message says how to install it).</exception>
    /// <exception cref="FfmpegException">ffmpeg failed; the message contains the tail of its standard error.</exception>
    /// <exception cref="TimeoutException">ffmpeg ran longer than <see cref="Mp4Options.Timeout"/>.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or a directory, or an option is invalid.</exception>
    public void SaveMp4(string path, Mp4Options? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new Mp4Options();
        options.Validate();
        string full = AtomicFile.PrepareOutput(path, nameof(path));
        string ffmpeg = FfmpegProcess.LocateFfmpeg(options.FfmpegPath);
        cancellationToken.ThrowIfCancellationRequested();

        string temp = AtomicFile.TemporaryPathFor(full);
        string[] args =
        [
            "-hide_banner", "-nostats", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", string.Create(CultureInfo.InvariantCulture, $"{Width}x{Height}"),
            "-r", Fps.ToString("R", CultureInfo.InvariantCulture),
            "-i", "pipe:0",
            "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
            "-c:v", "libx264", "-preset", options.Preset,
            "-crf", options.Crf.ToString(CultureInfo.InvariantCulture),
            "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-an",
            "-f", "mp4", temp,
        ];
        try
        {
            using var process = FfmpegProcess.Start(ffmpeg, args, writesStdin: true, readsStdout: false, options.Timeout, cancellationToken);
            IOException? pipeError = null;
            try
            {
                Stream stdin = process.StandardInput;
                for (int f = 0; f < FrameCount; f++)
                {
                    process.Token.ThrowIfCancellationRequested();
                    stdin.Write(GetFramePixels(f).Span);
                }

                stdin.Flush();
            }
            catch (IOException e)
            {
                // ffmpeg closed its input: it failed, or was killed for cancellation/timeout (Finish tells which).
                pipeError = e;
            }
            catch (OperationCanceledException)
            {
                process.ThrowIfStopped($"Saving {full}");
                throw;
            }

            var (exitCode, stderr) = process.Finish($"Saving {full}");
            if (exitCode != 0 || pipeError is not null || !File.Exists(temp))
            {
                throw new FfmpegException($"ffmpeg failed to write {full}", exitCode, stderr, pipeError);
            }

            cancellationToken.ThrowIfCancellationRequested();
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            AtomicFile.DeleteQuietly(temp);
        }
    }

    private static void RgbToRgba(ReadOnlySpan<byte> rgb, Span<byte> rgba)
    {
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgba[j] = rgb[i];
            rgba[j + 1] = rgb[i + 1];
            rgba[j + 2] = rgb[i + 2];
            rgba[j + 3] = 255;
        }
    }

    private static unsafe void EncodePng(byte[] rgba, int width, int height, Stream stream, string path)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        fixed (byte* p = rgba)
        {
            using var pixmap = new SKPixmap(info, (IntPtr)p, width * 4);
            if (!pixmap.Encode(stream, SKPngEncoderOptions.Default))
            {
                throw new IOException($"{path}: SkiaSharp could not encode the frame as PNG ({width}×{height}).");
            }
        }
    }
}
