using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Core.Media;

/// <summary>
/// A video held as managed data: <see cref="FrameCount"/> frames of <see cref="Height"/> × <see cref="Width"/> RGB pixels,
/// 8 bits per channel, stored frame-major, row-major, channel-last (the layout of a <c>(F, H, W, 3)</c> uint8 tensor) in
/// one contiguous byte array, plus its frame rate and the seed that generated it. Pipelines return their results as
/// this type; it owns no native resources and needs no disposal. Instances are immutable.
/// </summary>
/// <remarks>
/// Save with <see cref="SavePngFrames"/>, <see cref="SaveGif"/> (a built-in GIF89a encoder) or <see cref="SaveMp4"/>
/// (through ffmpeg); load with <see cref="LoadImage"/>, <see cref="Load"/> or <see cref="LoadFrames"/>.
/// </remarks>
public sealed partial class Video
{
    /// <summary>The frame rate used when none is given: 8 frames per second (LaVie's and AnimateDiff's export default).</summary>
    public const double DefaultFps = 8;

    private readonly byte[] _pixels;

    /// <summary>
    /// Creates a video from a copy of RGB8 pixels laid out as <c>(frameCount, height, width, 3)</c>.
    /// </summary>
    /// <param name="rgb">The pixels: exactly <paramref name="frameCount"/> · <paramref name="height"/> · <paramref name="width"/> · 3 bytes.</param>
    /// <param name="frameCount">Number of frames, at least 1.</param>
    /// <param name="height">Frame height in pixels, at least 1.</param>
    /// <param name="width">Frame width in pixels, at least 1.</param>
    /// <param name="fps">Frames per second, finite and greater than 0; default <see cref="DefaultFps"/>.</param>
    /// <param name="seed">The seed of the generator that produced the video, if any.</param>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is less than 1, or <paramref name="fps"/> is not a positive finite number.</exception>
    /// <exception cref="ArgumentException">The length of <paramref name="rgb"/> does not match the dimensions, or the size exceeds <see cref="Array.MaxLength"/> bytes.</exception>
    public Video(ReadOnlySpan<byte> rgb, int frameCount, int height, int width, double fps = DefaultFps, long? seed = null)
        : this(CopyChecked(rgb, frameCount, height, width), frameCount, height, width, fps, seed, owned: true)
    {
    }

    /// <summary>Takes ownership of <paramref name="pixels"/> (no copy); used by decoders and <see cref="FromTensor"/>.</summary>
    internal Video(byte[] pixels, int frameCount, int height, int width, double fps, long? seed, bool owned)
    {
        _ = owned;
        long expected = CheckedByteCount(frameCount, height, width);
        ValidateFps(fps, nameof(fps));
        if (pixels.LongLength != expected)
        {
            throw new ArgumentException(
                $"rgb has {pixels.LongLength} bytes; frameCount·height·width·3 = {frameCount}·{height}·{width}·3 = {expected}.",
                nameof(pixels));
        }

        _pixels = pixels;
        FrameCount = frameCount;
        Height = height;
        Width = width;
        Fps = fps;
        Seed = seed;
    }

    /// <summary>Number of frames (at least 1).</summary>
    public int FrameCount { get; }

    /// <summary>Frame height in pixels (at least 1).</summary>
    public int Height { get; }

    /// <summary>Frame width in pixels (at least 1).</summary>
    public int Width { get; }

    /// <summary>Frames per second: finite and greater than 0 (default <see cref="DefaultFps"/>).</summary>
    public double Fps { get; }

    /// <summary>The seed of the generator that produced this video, or null when unknown (a loaded file, say).</summary>
    public long? Seed { get; }

    /// <summary>Bytes in one frame: <see cref="Height"/> · <see cref="Width"/> · 3.</summary>
    public int FrameByteCount => Height * Width * 3;

    /// <summary>The play time: <see cref="FrameCount"/> / <see cref="Fps"/>.</summary>
    public TimeSpan Duration => TimeSpan.FromSeconds(FrameCount / Fps);

    /// <summary>All pixels, RGB8, laid out as <c>(F, H, W, 3)</c>. Read-only view of the video's own storage (no copy).</summary>
    public ReadOnlyMemory<byte> Pixels => _pixels;

    /// <summary>The pixels of one frame, RGB8, laid out as <c>(H, W, 3)</c> (no copy).</summary>
    /// <param name="index">Frame index, 0 ≤ index &lt; <see cref="FrameCount"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the video.</exception>
    public ReadOnlyMemory<byte> GetFramePixels(int index)
    {
        CheckFrameIndex(index);
        return _pixels.AsMemory(index * FrameByteCount, FrameByteCount);
    }

    /// <summary>The red, green and blue values of one pixel.</summary>
    /// <param name="frame">Frame index, 0 ≤ frame &lt; <see cref="FrameCount"/>.</param>
    /// <param name="y">Row, 0 ≤ y &lt; <see cref="Height"/>.</param>
    /// <param name="x">Column, 0 ≤ x &lt; <see cref="Width"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside the video.</exception>
    public (byte R, byte G, byte B) GetPixel(int frame, int y, int x)
    {
        CheckFrameIndex(frame);
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(y, Height);
        ArgumentOutOfRangeException.ThrowIfNegative(x);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(x, Width);
        int o = (frame * FrameByteCount) + (((y * Width) + x) * 3);
        return (_pixels[o], _pixels[o + 1], _pixels[o + 2]);
    }

    /// <summary>One frame as a single-frame video with the same <see cref="Fps"/> and <see cref="Seed"/> (a copy).</summary>
    /// <param name="index">Frame index, 0 ≤ index &lt; <see cref="FrameCount"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the video.</exception>
    public Video Frame(int index) => new(GetFramePixels(index).Span, 1, Height, Width, Fps, Seed);

    /// <summary>The same frames at another frame rate (the pixels are shared, not copied).</summary>
    /// <param name="fps">Frames per second, finite and greater than 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fps"/> is not a positive finite number.</exception>
    public Video WithFps(double fps) => new(_pixels, FrameCount, Height, Width, fps, Seed, owned: true);

    /// <summary>
    /// Creates a video from a tensor of frames laid out as <c>(F, H, W, 3)</c> (channel-last, as diffusers'
    /// <c>output_type="np"</c> and torchvision's <c>write_video</c> use). The tensor may live on any device and is not disposed.
    /// </summary>
    /// <param name="frames">
    /// <c>(F, H, W, 3)</c> <c>uint8</c> (taken as is), or a floating tensor (float16, bfloat16, float32, float64) with
    /// values in [0, 1], converted as diffusers' <c>numpy_to_pil</c> does: clamped to [0, 1], then
    /// <c>(x · 255).round()</c> (round half to even, as <c>torch.round</c>) cast to uint8. A channel-first
    /// <c>(F, 3, H, W)</c> tensor is not accepted: call <c>frames.permute(0, 2, 3, 1)</c> first.
    /// </param>
    /// <param name="fps">Frames per second, finite and greater than 0; default <see cref="DefaultFps"/>.</param>
    /// <param name="seed">The seed of the generator that produced the frames, if any.</param>
    /// <returns>A new video holding a copy of the frames.</returns>
    /// <exception cref="ArgumentException">Wrong rank, last dimension not 3, an empty dimension, an unsupported dtype, a NaN value, or too many bytes.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fps"/> is not a positive finite number.</exception>
    public static Video FromTensor(Tensor frames, double fps = DefaultFps, long? seed = null)
    {
        ArgumentNullException.ThrowIfNull(frames);
        ValidateFps(fps, nameof(fps));
        long[] shape = frames.shape;
        string shapeText = "(" + string.Join(", ", shape) + ")";
        if (shape.Length != 4 || shape[3] != 3)
        {
            string hint = shape.Length == 4 && shape[1] == 3
                ? " It looks channel-first (F, 3, H, W): pass frames.permute(0, 2, 3, 1)."
                : string.Empty;
            throw new ArgumentException($"frames must have shape (F, H, W, 3); got {shapeText}.{hint}", nameof(frames));
        }

        if (shape[0] < 1 || shape[1] < 1 || shape[2] < 1 || shape[0] > int.MaxValue || shape[1] > int.MaxValue || shape[2] > int.MaxValue)
        {
            throw new ArgumentException($"frames must have at least one frame, row and column; got shape {shapeText}.", nameof(frames));
        }

        int f = (int)shape[0];
        int h = (int)shape[1];
        int w = (int)shape[2];
        long byteCount = CheckedByteCount(f, h, w, nameof(frames));

        using var scope = torch.NewDisposeScope();
        Tensor bytes;
        ScalarType dtype = frames.dtype;
        if (dtype == ScalarType.Byte)
        {
            bytes = frames.detach();
        }
        else if (dtype is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64)
        {
            Tensor x = frames.detach().to(dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32);
            if (x.isnan().any().item<bool>())
            {
                throw new ArgumentException($"frames {shapeText} {dtype} contains NaN values.", nameof(frames));
            }

            bytes = x.clamp(0, 1).mul(255).round().to(ScalarType.Byte);
        }
        else
        {
            throw new ArgumentException(
                $"frames has dtype {dtype}; expected Byte (uint8, 0–255) or a floating type with values in [0, 1].", nameof(frames));
        }

        bytes = bytes.cpu().contiguous();
        byte[] pixels = new byte[byteCount];
        bytes.bytes.CopyTo(pixels);
        return new Video(pixels, f, h, w, fps, seed, owned: true);
    }

    /// <summary>The frames as a new <c>(F, H, W, 3)</c> uint8 CPU tensor (a copy) that the caller owns and disposes.</summary>
    /// <returns>A tensor registered with the caller's current dispose scope, if any.</returns>
    public Tensor ToTensor()
    {
        Tensor t = torch.empty([FrameCount, Height, Width, 3], ScalarType.Byte, torch.CPU);
        t.bytes = _pixels; // the setter copies into the tensor's storage
        return t;
    }

    /// <summary>The frames as a new <c>(F, H, W, 3)</c> float32 CPU tensor with values in [0, 1] (byte / 255) that the caller owns.</summary>
    /// <returns>A tensor registered with the caller's current dispose scope, if any.</returns>
    public Tensor ToFloatTensor()
    {
        using var bytes = ToTensor();
        return bytes.to(ScalarType.Float32).div_(255);
    }

    /// <summary>A short description: frames, size, frame rate and seed.</summary>
    /// <returns>For example <c>Video(16 × 256×320, 8 fps, seed 7)</c>.</returns>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"Video({FrameCount} × {Height}×{Width}, {Fps:0.###} fps{(Seed is long s ? ", seed " + s.ToString(CultureInfo.InvariantCulture) : string.Empty)})");

    internal byte[] RawPixels => _pixels;

    internal static void ValidateFps(double fps, string paramName)
    {
        if (!double.IsFinite(fps) || fps <= 0)
        {
            throw new ArgumentOutOfRangeException(paramName, fps, "fps must be a finite number greater than 0.");
        }
    }

    internal static long CheckedByteCount(int frameCount, int height, int width, string? paramName = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frameCount, 1, paramName ?? nameof(frameCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1, paramName ?? nameof(height));
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1, paramName ?? nameof(width));
        long frameBytes = (long)height * width * 3;
        if (frameBytes > Array.MaxLength || (long)frameCount * frameBytes > Array.MaxLength)
        {
            throw new ArgumentException(
                $"A video of {frameCount} × {height}×{width} RGB needs {(decimal)frameCount * frameBytes} bytes; at most {Array.MaxLength} fit in one array.",
                paramName ?? nameof(frameCount));
        }

        return frameCount * frameBytes;
    }

    private static byte[] CopyChecked(ReadOnlySpan<byte> rgb, int frameCount, int height, int width)
    {
        long expected = CheckedByteCount(frameCount, height, width);
        if (rgb.Length != expected)
        {
            throw new ArgumentException(
                $"rgb has {rgb.Length} bytes; frameCount·height·width·3 = {frameCount}·{height}·{width}·3 = {expected}.", nameof(rgb));
        }

        return rgb.ToArray();
    }

    private void CheckFrameIndex(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, FrameCount);
    }
}
