using TorchSharp;
using Vchitect.Core.Media;
using static TorchSharp.torch;

namespace Vchitect.Evaluation.TinyWorld;

/// <summary>
/// Where a clip's object is: its size and the centre of its bounding box on the first and the last frame, in pixels
/// (pixel (x, y) covers [x, x+1) × [y, y+1); y grows downwards). In between it moves in a straight line at constant speed.
/// </summary>
/// <param name="ObjectSize">Circle diameter, square side, triangle base and height, in pixels.</param>
/// <param name="StartX">Centre x on the first frame.</param>
/// <param name="StartY">Centre y on the first frame.</param>
/// <param name="EndX">Centre x on the last frame.</param>
/// <param name="EndY">Centre y on the last frame.</param>
public sealed record TinyWorldLayout(double ObjectSize, double StartX, double StartY, double EndX, double EndY)
{
    /// <summary>The distance in pixels between the first and the last position.</summary>
    public double Travel => Math.Sqrt(((EndX - StartX) * (EndX - StartX)) + ((EndY - StartY) * (EndY - StartY)));

    /// <summary>The centre on a frame: linear from <see cref="StartX"/>, <see cref="StartY"/> (frame 0) to <see cref="EndX"/>, <see cref="EndY"/> (frame <paramref name="frames"/> − 1).</summary>
    /// <param name="frame">The frame, 0 ≤ frame &lt; <paramref name="frames"/>.</param>
    /// <param name="frames">Frames in the clip, at least 2.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="frames"/> &lt; 2 or <paramref name="frame"/> outside the clip.</exception>
    public (double X, double Y) CentreAt(int frame, int frames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 2);
        ArgumentOutOfRangeException.ThrowIfNegative(frame);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(frame, frames);
        double t = frame / (double)(frames - 1);
        return (StartX + ((EndX - StartX) * t), StartY + ((EndY - StartY) * t));
    }
}

/// <summary>
/// Renders the tiny world: from a caption and a seed, a clip of one object of the caption's colour and shape moving
/// in the caption's direction at constant speed over a uniform background. The same caption, seed and options give
/// the same bytes on every machine (the randomness is SplitMix64, the arithmetic plain doubles).
/// </summary>
/// <remarks>
/// The seed (mixed with the caption's <see cref="TinyWorldCaption.Index"/>) draws, uniformly: the object size in
/// [<see cref="TinyWorldRenderOptions.MinObjectSize"/>, <see cref="TinyWorldRenderOptions.MaxObjectSize"/>], the
/// travel in [<see cref="TinyWorldRenderOptions.MinTravel"/>, <see cref="TinyWorldRenderOptions.MaxTravel"/>], where
/// the path starts along its axis (any place that keeps the whole path <see cref="TinyWorldRenderOptions.Margin"/>
/// inside the frame) and the position across the axis. Pixels are anti-aliased by coverage: each pixel blends the
/// background and the object colour by the fraction of its n×n sub-samples inside the shape, rounded to the nearest byte.
/// </remarks>
public sealed class TinyWorldRenderer
{
    /// <summary>A renderer with the given options.</summary>
    /// <param name="options">The options; null for the defaults (16 frames of 64×64).</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (named).</exception>
    public TinyWorldRenderer(TinyWorldRenderOptions? options = null)
    {
        Options = options ?? new TinyWorldRenderOptions();
        Options.Validate();
    }

    /// <summary>The options this renderer uses.</summary>
    public TinyWorldRenderOptions Options { get; }

    /// <summary>The object's size and path for a caption and seed (what <see cref="Render"/> draws).</summary>
    /// <param name="caption">The caption; its motion sets the direction.</param>
    /// <param name="seed">Any 64-bit seed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="caption"/> is null.</exception>
    public TinyWorldLayout Layout(TinyWorldCaption caption, long seed)
    {
        ArgumentNullException.ThrowIfNull(caption);
        TinyWorldRenderOptions o = Options;
        var rng = SplitMix64.For(seed, caption.Index);
        double size = rng.Uniform(o.MinObjectSize, o.MaxObjectSize);
        double travel = rng.Uniform(o.MinTravel, o.MaxTravel);
        double along = rng.Uniform(0, o.Size - (2 * o.Margin) - size - travel);
        double across = rng.Uniform(o.Margin, o.Size - o.Margin - size) + (size / 2);
        double low = o.Margin + along + (size / 2);          // start centre when moving right or down
        double high = o.Size - o.Margin - along - (size / 2); // start centre when moving left or up
        return caption.Motion switch
        {
            TinyWorldMotion.Right => new TinyWorldLayout(size, low, across, low + travel, across),
            TinyWorldMotion.Left => new TinyWorldLayout(size, high, across, high - travel, across),
            TinyWorldMotion.Down => new TinyWorldLayout(size, across, low, across, low + travel),
            _ => new TinyWorldLayout(size, across, high, across, high - travel),
        };
    }

    /// <summary>Renders the clip of a caption and seed.</summary>
    /// <param name="caption">What to draw.</param>
    /// <param name="seed">Any 64-bit seed; it picks the size, path and speed (see the remarks of <see cref="TinyWorldRenderer"/>).</param>
    /// <returns><see cref="TinyWorldRenderOptions.Frames"/> frames of <see cref="TinyWorldRenderOptions.Size"/>² RGB, with <see cref="Video.Seed"/> = <paramref name="seed"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="caption"/> is null.</exception>
    public Video Render(TinyWorldCaption caption, long seed)
    {
        ArgumentNullException.ThrowIfNull(caption);
        TinyWorldLayout layout = Layout(caption, seed);
        int frames = Options.Frames, size = Options.Size;
        byte[] pixels = new byte[frames * size * size * 3];
        for (int f = 0; f < frames; f++)
        {
            DrawFrame(pixels.AsSpan(f * size * size * 3, size * size * 3), caption, layout, f);
        }

        return new Video(pixels, frames, size, size, Options.Fps, seed);
    }

    /// <summary>Renders one frame of the clip of a caption and seed (the same pixels as that frame of <see cref="Render"/>).</summary>
    /// <param name="caption">What to draw.</param>
    /// <param name="seed">Any 64-bit seed.</param>
    /// <param name="frame">Which frame, 0 ≤ frame &lt; <see cref="TinyWorldRenderOptions.Frames"/>.</param>
    /// <returns>A one-frame video.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="caption"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="frame"/> is outside the clip.</exception>
    public Video RenderFrame(TinyWorldCaption caption, long seed, int frame)
    {
        ArgumentNullException.ThrowIfNull(caption);
        ArgumentOutOfRangeException.ThrowIfNegative(frame);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(frame, Options.Frames);
        int size = Options.Size;
        byte[] pixels = new byte[size * size * 3];
        DrawFrame(pixels, caption, Layout(caption, seed), frame);
        return new Video(pixels, 1, size, size, Options.Fps, seed);
    }

    /// <summary>Renders a clip straight to the model's layout: <see cref="ToTensor"/> of <see cref="Render"/>.</summary>
    /// <param name="caption">What to draw.</param>
    /// <param name="seed">Any 64-bit seed.</param>
    /// <returns>A float32 CPU tensor (3, F, H, W) in [−1, 1] that the caller owns.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="caption"/> is null.</exception>
    public Tensor RenderTensor(TinyWorldCaption caption, long seed) => ToTensor(Render(caption, seed));

    /// <summary>
    /// A video as a diffusion model's input: float32 (3, F, H, W), channel-first, each byte b mapped to b / 127.5 − 1
    /// (so 0 → −1 and 255 → 1, diffusers' <c>2x − 1</c> normalisation).
    /// </summary>
    /// <param name="video">The video.</param>
    /// <returns>A new CPU tensor the caller owns (registered with the caller's dispose scope, if any).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="video"/> is null.</exception>
    public static Tensor ToTensor(Video video)
    {
        ArgumentNullException.ThrowIfNull(video);
        using var scope = torch.NewDisposeScope();
        Tensor bytes = video.ToTensor();
        return bytes.permute(3, 0, 1, 2).to(ScalarType.Float32).div_(127.5).sub_(1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The inverse of <see cref="ToTensor"/>: a (3, F, H, W) tensor in [−1, 1] (values outside are clamped) as a video,
    /// each value x becoming round((x + 1) / 2 · 255). A (3, H, W) tensor is taken as one frame.
    /// </summary>
    /// <param name="frames">The frames, floating point, on any device; not disposed.</param>
    /// <param name="fps">The video's frame rate; default 8.</param>
    /// <param name="seed">The seed to record in the video, if any.</param>
    /// <returns>A new video.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="frames"/> is null.</exception>
    /// <exception cref="ArgumentException">The shape is not (3, F, H, W) or (3, H, W), the dtype is not floating, or a value is NaN.</exception>
    public static Video ToVideo(Tensor frames, double fps = Video.DefaultFps, long? seed = null)
    {
        ArgumentNullException.ThrowIfNull(frames);
        if ((frames.ndim != 4 && frames.ndim != 3) || frames.shape[0] != 3)
        {
            throw new ArgumentException($"frames must have shape (3, F, H, W) or (3, H, W); got ({string.Join(", ", frames.shape)}).", nameof(frames));
        }

        if (!frames.is_floating_point())
        {
            throw new ArgumentException($"frames must be a floating tensor with values in [-1, 1]; got {frames.dtype}.", nameof(frames));
        }

        using var scope = torch.NewDisposeScope();
        Tensor x = frames.ndim == 3 ? frames.unsqueeze(1) : frames;
        x = x.detach().to(ScalarType.Float32).permute(1, 2, 3, 0).add(1).div_(2);
        return Video.FromTensor(x, fps, seed);
    }

    private void DrawFrame(Span<byte> frame, TinyWorldCaption caption, TinyWorldLayout layout, int index)
    {
        int size = Options.Size;
        int n = Options.Supersampling;
        Rgb bg = TinyWorldPalette.Of(caption.Background);
        Rgb fg = TinyWorldPalette.Of(caption.Colour);
        for (int i = 0; i < size * size; i++)
        {
            frame[3 * i] = bg.R;
            frame[(3 * i) + 1] = bg.G;
            frame[(3 * i) + 2] = bg.B;
        }

        (double cx, double cy) = layout.CentreAt(index, Options.Frames);
        double s = layout.ObjectSize;
        double left = cx - (s / 2), top = cy - (s / 2);
        int x0 = Math.Max(0, (int)Math.Floor(left)), x1 = Math.Min(size - 1, (int)Math.Ceiling(left + s));
        int y0 = Math.Max(0, (int)Math.Floor(top)), y1 = Math.Min(size - 1, (int)Math.Ceiling(top + s));
        double samples = n * n;
        for (int y = y0; y <= y1; y++)
        {
            for (int x = x0; x <= x1; x++)
            {
                int inside = 0;
                for (int j = 0; j < n; j++)
                {
                    double v = (y + ((j + 0.5) / n) - top) / s;
                    for (int i = 0; i < n; i++)
                    {
                        double u = (x + ((i + 0.5) / n) - left) / s;
                        if (Inside(caption.Shape, u, v))
                        {
                            inside++;
                        }
                    }
                }

                if (inside == 0)
                {
                    continue;
                }

                double c = inside / samples;
                int o = ((y * size) + x) * 3;
                frame[o] = Blend(bg.R, fg.R, c);
                frame[o + 1] = Blend(bg.G, fg.G, c);
                frame[o + 2] = Blend(bg.B, fg.B, c);
            }
        }
    }

    // u, v: position in the object's box, [0, 1) on both axes inside it.
    private static bool Inside(TinyWorldShape shape, double u, double v) => shape switch
    {
        TinyWorldShape.Circle => (((u - 0.5) * (u - 0.5)) + ((v - 0.5) * (v - 0.5))) <= 0.25,
        TinyWorldShape.Square => u >= 0 && u < 1 && v >= 0 && v < 1,
        _ => v >= 0 && v < 1 && Math.Abs(u - 0.5) <= v / 2, // apex (0.5, 0), base from (0, 1) to (1, 1)
    };

    private static byte Blend(byte background, byte colour, double coverage) =>
        (byte)Math.Round(background + ((colour - background) * coverage), MidpointRounding.ToEven);
}
