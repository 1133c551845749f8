using System.Globalization;
using SkiaSharp;

namespace Vchitect.Core.Media;

public sealed partial class Video
{
    /// <summary>
    /// Loads a still image (PNG, JPEG, WebP, BMP, or the first frame of a GIF) with SkiaSharp as a one-frame video, for
    /// image conditioning. Pixels come out as RGB8 without colour management; transparency is composited onto black (the
    /// colour is multiplied by alpha). EXIF orientation is not applied.
    /// </summary>
    /// <param name="path">The image file.</param>
    /// <param name="options">Limits and an optional resize; null for the defaults. <see cref="VideoLoadOptions.Fps"/> sets the frame rate (default 8).</param>
    /// <returns>A video with one frame.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a decodable image, is truncated or corrupt, or exceeds a limit in <paramref name="options"/>; the message names the file.</exception>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public static Video LoadImage(string path, VideoLoadOptions? options = null)
    {
        options ??= new VideoLoadOptions();
        options.Validate();
        string full = CheckInputFile(path);
        return DecodeWithSkia(full, options with { MaxFrames = 1 }, CancellationToken.None);
    }

    /// <summary>
    /// Loads a video or image for video conditioning. Animated GIF and WebP are decoded with SkiaSharp frame by frame
    /// (frame disposal and blending applied; frame rate from the mean frame duration); PNG, JPEG, BMP and other still images
    /// give one frame; any other file (MP4, WebM, AVI, MOV, …) is decoded by ffmpeg to RGB24, with the frame rate from
    /// ffprobe's average frame rate (else frames / duration, else the stream's base rate), every decoded frame kept as is
    /// (no duplication or dropping to a constant rate), and without applying rotation metadata. The ffmpeg path needs
    /// ffmpeg 5.1 or newer. The file's declared sizes are checked against the
    /// limits in <paramref name="options"/> before pixels are decoded, and ffmpeg is stopped after
    /// <see cref="VideoLoadOptions.FfmpegTimeout"/>.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Limits, frame count, resize, frame rate and ffmpeg location; null for the defaults.</param>
    /// <param name="cancellationToken">Checked between frames; ffmpeg is killed on cancellation.</param>
    /// <returns>The frames as a video; <see cref="Seed"/> is null.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed, has no frames, or exceeds a limit; the message names the file (and has ffmpeg's error, if ffmpeg was used).</exception>
    /// <exception cref="FfmpegNotFoundException">The file needs ffmpeg/ffprobe and they were not found.</exception>
    /// <exception cref="TimeoutException">ffmpeg or ffprobe ran longer than <see cref="VideoLoadOptions.FfmpegTimeout"/>.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <exception cref="ArgumentException">An option is invalid, or <paramref name="path"/> is a directory (use <see cref="LoadFrames"/>).</exception>
    public static Video Load(string path, VideoLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new VideoLoadOptions();
        options.Validate();
        string full = CheckInputFile(path);
        cancellationToken.ThrowIfCancellationRequested();
        return IsSkiaFormat(full)
            ? DecodeWithSkia(full, options, cancellationToken)
            : DecodeWithFfmpeg(full, options, cancellationToken);
    }

    /// <summary>
    /// Loads a folder of still images (for example what <see cref="SavePngFrames"/> wrote) as the frames of a video, in
    /// ordinal order of their file names. All images must have the same size unless <see cref="VideoLoadOptions.Width"/> and
    /// <see cref="VideoLoadOptions.Height"/> resize them.
    /// </summary>
    /// <param name="directory">The folder.</param>
    /// <param name="searchPattern">Which files to take; default <c>*.png</c>.</param>
    /// <param name="options">Limits, frame count, resize and frame rate (default 8); null for the defaults.</param>
    /// <param name="cancellationToken">Checked before each file.</param>
    /// <returns>The frames as a video.</returns>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">No file matches, a file cannot be decoded, sizes differ, or a limit is exceeded; the message names the file.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static Video LoadFrames(string directory, string searchPattern = "*.png", VideoLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentException.ThrowIfNullOrWhiteSpace(searchPattern);
        options ??= new VideoLoadOptions();
        options.Validate();
        string full = Path.GetFullPath(directory);
        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"Frame folder not found: {full}");
        }

        string[] files = Directory.GetFiles(full, searchPattern, SearchOption.TopDirectoryOnly);
        Array.Sort(files, StringComparer.Ordinal);
        if (files.Length == 0)
        {
            throw new InvalidDataException($"{full}: no file matches '{searchPattern}'.");
        }

        int count = Math.Min(files.Length, options.MaxFrames ?? int.MaxValue);
        var frames = new List<byte[]>(count);
        int width = 0, height = 0;
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Video frame = DecodeWithSkia(files[i], options with { MaxFrames = 1 }, cancellationToken);
            if (i == 0)
            {
                (width, height) = (frame.Width, frame.Height);
            }
            else if (frame.Width != width || frame.Height != height)
            {
                throw new InvalidDataException(
                    $"{files[i]}: {frame.Width}×{frame.Height} (width×height), but {files[0]} is {width}×{height}; set VideoLoadOptions.Width/Height to resize.");
            }

            total += frame.RawPixels.Length;
            if (total > options.MaxTotalBytes)
            {
                throw new InvalidDataException($"{full}: the frames exceed VideoLoadOptions.MaxTotalBytes ({options.MaxTotalBytes}); set MaxFrames or a smaller size.");
            }

            frames.Add(frame.RawPixels);
        }

        return new Video(Concat(frames, total), count, height, width, options.Fps ?? DefaultFps, seed: null, owned: true);
    }

    private static string CheckInputFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new ArgumentException($"'{path}' is a directory; use Video.LoadFrames for a folder of images.", nameof(path));
        }

        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"File not found: {full}", full);
        }

        return full;
    }

    /// <summary>True for files whose first bytes are a PNG, JPEG, GIF, WebP or BMP signature.</summary>
    private static bool IsSkiaFormat(string path)
    {
        Span<byte> head = stackalloc byte[12];
        int n;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
        {
            n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }

        head = head[..n];
        return head.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G'])
            || head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])
            || head.StartsWith("GIF8"u8)
            || head.StartsWith("BM"u8)
            || (n >= 12 && head.StartsWith("RIFF"u8) && head[8..12].SequenceEqual("WEBP"u8))
            || n == 0;
    }

    private static void CheckFrameSize(string path, int width, int height, VideoLoadOptions options)
    {
        if (width < 1 || height < 1 || width > options.MaxDimension || height > options.MaxDimension || (long)width * height > options.MaxPixelsPerFrame)
        {
            throw new InvalidDataException(
                $"{path}: declares frames of {width}×{height} (width×height); allowed are 1..{options.MaxDimension} per side and at most " +
                $"{options.MaxPixelsPerFrame} pixels (VideoLoadOptions.MaxDimension / MaxPixelsPerFrame).");
        }
    }

    private static unsafe Video DecodeWithSkia(string path, VideoLoadOptions options, CancellationToken cancellationToken)
    {
        if (new FileInfo(path).Length == 0)
        {
            throw new InvalidDataException($"{path}: the file is empty.");
        }

        using SKCodec? codec = SKCodec.Create(path, out SKCodecResult createResult);
        if (codec is null)
        {
            throw new InvalidDataException($"{path}: not a decodable image (SkiaSharp: {createResult}).");
        }

        SKImageInfo source = codec.Info;
        int width = source.Width;
        int height = source.Height;
        CheckFrameSize(path, width, height, options);
        SKCodecFrameInfo[] frameInfo = codec.FrameInfo ?? [];
        int declared = Math.Max(1, frameInfo.Length);
        int count = Math.Min(declared, options.MaxFrames ?? int.MaxValue);
        int outWidth = options.Width ?? width;
        int outHeight = options.Height ?? height;
        long frameBytes = (long)outWidth * outHeight * 3;
        if (count * frameBytes > options.MaxTotalBytes)
        {
            throw new InvalidDataException(
                $"{path}: {count} frames of {outWidth}×{outHeight} exceed VideoLoadOptions.MaxTotalBytes ({options.MaxTotalBytes}); set MaxFrames or a smaller size.");
        }

        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        byte[] rgba = new byte[(long)width * height * 4];
        byte[] previous = count > 1 ? new byte[rgba.Length] : []; // only animations keep the prior frame
        int previousIndex = -1;
        byte[] pixels = new byte[count * frameBytes];
        long durationMs = 0;
        for (int i = 0; i < count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int required = i < frameInfo.Length ? frameInfo[i].RequiredFrame : -1;
            SKCodecOptions decodeOptions;
            if (required >= 0 && required == previousIndex)
            {
                // The frame is drawn over the previous one, which is still in `previous`.
                Buffer.BlockCopy(previous, 0, rgba, 0, rgba.Length);
                decodeOptions = new SKCodecOptions(i, required);
            }
            else
            {
                // Independent frame (or one needing an older frame, which SkiaSharp decodes itself).
                Array.Clear(rgba);
                decodeOptions = new SKCodecOptions(i) { ZeroInitialized = SKZeroInitialized.Yes };
            }

            SKCodecResult result;
            fixed (byte* p = rgba)
            {
                result = codec.GetPixels(info, (IntPtr)p, width * 4, decodeOptions);
            }

            if (result != SKCodecResult.Success)
            {
                throw new InvalidDataException($"{path}: frame {i} could not be decoded (SkiaSharp: {result}).");
            }

            Span<byte> target = pixels.AsSpan((int)(i * frameBytes), (int)frameBytes);
            if (outWidth == width && outHeight == height)
            {
                RgbaToRgb(rgba, target);
            }
            else
            {
                Resize(rgba, width, height, outWidth, outHeight, target);
            }

            durationMs += i < frameInfo.Length ? frameInfo[i].Duration : 0;
            (rgba, previous) = (previous, rgba);
            previousIndex = i;
        }

        double fps = options.Fps ?? (count > 1 && durationMs > 0 ? 1000.0 * count / durationMs : DefaultFps);
        return new Video(pixels, count, outHeight, outWidth, fps, seed: null, owned: true);
    }

    private static unsafe void Resize(byte[] rgba, int width, int height, int outWidth, int outHeight, Span<byte> rgbOut)
    {
        byte[] scaled = new byte[(long)outWidth * outHeight * 4];
        fixed (byte* src = rgba)
        fixed (byte* dst = scaled)
        {
            using var from = new SKPixmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul), (IntPtr)src, width * 4);
            using var to = new SKPixmap(new SKImageInfo(outWidth, outHeight, SKColorType.Rgba8888, SKAlphaType.Premul), (IntPtr)dst, outWidth * 4);
            if (!from.ScalePixels(to, new SKSamplingOptions(SKCubicResampler.Mitchell)))
            {
                throw new InvalidOperationException($"SkiaSharp could not resize {width}×{height} to {outWidth}×{outHeight}.");
            }
        }

        RgbaToRgb(scaled, rgbOut);
    }

    private static void RgbaToRgb(ReadOnlySpan<byte> rgba, Span<byte> rgb)
    {
        for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i];
            rgb[j + 1] = rgba[i + 1];
            rgb[j + 2] = rgba[i + 2];
        }
    }

    private static byte[] Concat(List<byte[]> frames, long total)
    {
        byte[] all = new byte[total];
        long offset = 0;
        foreach (byte[] frame in frames)
        {
            Buffer.BlockCopy(frame, 0, all, (int)offset, frame.Length);
            offset += frame.Length;
        }

        return all;
    }

    internal static Video DecodeWithFfmpeg(string path, VideoLoadOptions options, CancellationToken cancellationToken)
    {
        string ffmpeg = FfmpegProcess.LocateFfmpeg(options.FfmpegPath);
        string ffprobe = FfmpegProcess.LocateFfprobe(options.FfprobePath, ffmpeg);
        string input = "file:" + path; // "file:" keeps a name like "concat:…" or "http:…" from selecting another protocol

        // 1. Size and frame rate of the first video stream.
        string[] probeArgs =
        [
            "-v", "error", "-select_streams", "v:0",
            "-show_entries", "stream=width,height,avg_frame_rate,r_frame_rate,nb_frames,duration",
            "-of", "default=noprint_wrappers=1", input,
        ];
        string probeText;
        int probeExit;
        string probeError;
        using (var probe = FfmpegProcess.Start(ffprobe, probeArgs, writesStdin: false, readsStdout: true, options.FfmpegTimeout, cancellationToken))
        {
            probeText = ReadBounded(probe.StandardOutput, 1 << 16);
            (probeExit, probeError) = probe.Finish($"Probing {path}");
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in probeText.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                fields.TryAdd(line[..eq], line[(eq + 1)..]);
            }
        }

        if (probeExit != 0 || !TryInt(fields, "width", out int width) || !TryInt(fields, "height", out int height))
        {
            throw new InvalidDataException($"{path}: not a readable video (ffprobe exit code {probeExit}). ffprobe said:{Environment.NewLine}{probeError}");
        }

        CheckFrameSize(path, width, height, options);
        double fps = options.Fps ?? ParseRate(fields, "avg_frame_rate") ?? RateFromCount(fields) ?? ParseRate(fields, "r_frame_rate") ?? DefaultFps;

        // 2. Frames as RGB24, scaled to a fixed size so a stream that changes size mid-way still gives whole frames.
        int outWidth = options.Width ?? width;
        int outHeight = options.Height ?? height;
        int frameBytes = checked(outWidth * outHeight * 3);
        long maxByBytes = options.MaxTotalBytes / frameBytes;
        if (maxByBytes < 1)
        {
            throw new InvalidDataException($"{path}: one {outWidth}×{outHeight} frame exceeds VideoLoadOptions.MaxTotalBytes ({options.MaxTotalBytes}).");
        }

        long frameLimit = Math.Min(options.MaxFrames ?? long.MaxValue, maxByBytes);
        var args = new List<string>
        {
            "-hide_banner", "-nostdin", "-loglevel", "error", "-noautorotate", "-i", input,
            "-map", "0:v:0", "-fps_mode", "passthrough", "-vf", string.Create(CultureInfo.InvariantCulture, $"scale={outWidth}:{outHeight}:flags=bicubic"),
        };
        if (options.MaxFrames is int maxFrames && maxFrames <= maxByBytes)
        {
            args.AddRange(["-frames:v", maxFrames.ToString(CultureInfo.InvariantCulture)]);
        }

        args.AddRange(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]);
        var frames = new List<byte[]>();
        using (var decoder = FfmpegProcess.Start(ffmpeg, args, writesStdin: false, readsStdout: true, options.FfmpegTimeout, cancellationToken))
        {
            Stream stdout = decoder.StandardOutput;
            while (true)
            {
                if (decoder.Token.IsCancellationRequested)
                {
                    break;
                }

                byte[] frame = new byte[frameBytes];
                int read = stdout.ReadAtLeast(frame, frameBytes, throwOnEndOfStream: false);
                if (read < frameBytes)
                {
                    break; // end of stream (a partial last frame is dropped)
                }

                if (frames.Count == frameLimit)
                {
                    throw new InvalidDataException(
                        $"{path}: more than {frameLimit} frames of {outWidth}×{outHeight} exceed VideoLoadOptions.MaxTotalBytes ({options.MaxTotalBytes}); set MaxFrames.");
                }

                frames.Add(frame);
            }

            var (exitCode, stderr) = decoder.Finish($"Loading {path}");
            if (exitCode != 0 || frames.Count == 0)
            {
                throw new InvalidDataException(
                    $"{path}: ffmpeg decoded {frames.Count} frames (exit code {exitCode}). ffmpeg said:{Environment.NewLine}{stderr}");
            }
        }

        return new Video(Concat(frames, (long)frames.Count * frameBytes), frames.Count, outHeight, outWidth, fps, seed: null, owned: true);
    }

    private static string ReadBounded(Stream stream, int maxBytes)
    {
        using var memory = new MemoryStream();
        byte[] buffer = new byte[4096];
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            if (memory.Length < maxBytes)
            {
                memory.Write(buffer, 0, (int)Math.Min(n, maxBytes - memory.Length));
            }
        }

        return System.Text.Encoding.UTF8.GetString(memory.GetBuffer(), 0, (int)memory.Length);
    }

    private static bool TryInt(Dictionary<string, string> fields, string key, out int value)
    {
        value = 0;
        return fields.TryGetValue(key, out string? text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) && value > 0;
    }

    private static double? RateFromCount(Dictionary<string, string> fields)
    {
        if (TryInt(fields, "nb_frames", out int frames)
            && fields.TryGetValue("duration", out string? text)
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds)
            && seconds > 0 && double.IsFinite(frames / seconds))
        {
            return frames / seconds;
        }

        return null;
    }

    private static double? ParseRate(Dictionary<string, string> fields, string key)
    {
        if (!fields.TryGetValue(key, out string? text))
        {
            return null;
        }

        string[] parts = text.Split('/');
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double num)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double den)
            && den > 0 && num > 0 && double.IsFinite(num / den))
        {
            return num / den;
        }

        return null;
    }
}
