using Vchitect.Core.Media;
using static TorchSharp.torch;

namespace Vchitect.Evaluation.TinyWorld;

/// <summary>
/// Judges whether videos show what their tiny-world prompt asks for, from the pixels alone (no learned weights):
/// background, object colour, shape and motion direction, plus VBench's temporal flickering.
/// </summary>
/// <remarks>
/// <para>Per frame:</para>
/// <list type="number">
/// <item>The background is the per-channel median of the frame's border (<see cref="TinyWorldEvaluatorOptions.BorderWidth"/>
/// pixels wide), classified as the nearest of black and gray.</item>
/// <item>Candidate object pixels are those farther than <see cref="TinyWorldEvaluatorOptions.DetectionThreshold"/> (Euclidean
/// RGB) from the background; the largest 4-connected region of them is the object, if it has at least
/// <see cref="TinyWorldEvaluatorOptions.MinObjectPixels"/> pixels. Its per-channel median is a first estimate of its colour.</item>
/// <item>Each pixel's coverage is estimated by projecting (pixel − background) onto (colour − background) and averaged
/// over its 3×3 neighbourhood; the pixels covered more than half, largest region again, are the object's mask. This
/// puts the mask's edge where an anti-aliased or blurred edge crosses 50 %, whatever the contrast, and ignores
/// pixel noise.</item>
/// <item>Colour: the per-channel median of the mask's pixels, classified as the nearest reference colour.</item>
/// <item>Shape: the nearest prototype (Euclidean) in (fill ratio, top share, diagonal ratio), where fill ratio = mask
/// pixels / bounding-box pixels, top share = the mask's share above the box's middle, and diagonal ratio = the mask's
/// extent along the two diagonals over its extent along the two axes (corners stick out along the diagonals):
/// circle (π/4, 1/2, 1), square (1, 1/2, √2), triangle (1/2, 1/4, 3/(2√2)).</item>
/// </list>
/// <para>Per video: background, colour and shape are the majority over frames (ties go to the first in enum order);
/// motion fits a least-squares line to the mask centroids of the frames that show an object and takes the dominant
/// axis and sign of its displacement over the clip (y grows downwards), if that is at least
/// <see cref="TinyWorldEvaluatorOptions.MinTravel"/> pixels. A frame without an object is skipped; a video with too few
/// such frames gets no colour, shape or motion, which counts as wrong. Nothing here throws on odd pixels.</para>
/// </remarks>
public sealed class TinyWorldEvaluator
{
    // (fill ratio, top share, diagonal ratio) of the ideal shapes: a disc, an axis-aligned square, an apex-up triangle
    // whose base and height are equal (its diagonal extents are 3/(2√2) ≈ 1.06 of its side).
    private static readonly (TinyWorldShape Shape, double Fill, double TopShare, double Diagonal)[] Prototypes =
    [
        (TinyWorldShape.Circle, Math.PI / 4, 0.5, 1.0),
        (TinyWorldShape.Square, 1.0, 0.5, Math.Sqrt(2)),
        (TinyWorldShape.Triangle, 0.5, 0.25, 3 / (2 * Math.Sqrt(2))),
    ];

    /// <summary>An evaluator with the given options.</summary>
    /// <param name="options">The options; null for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (named).</exception>
    public TinyWorldEvaluator(TinyWorldEvaluatorOptions? options = null)
    {
        Options = options ?? new TinyWorldEvaluatorOptions();
        Options.Validate();
    }

    /// <summary>The options this evaluator uses.</summary>
    public TinyWorldEvaluatorOptions Options { get; }

    /// <summary>Measures background, colour, shape and motion of a video.</summary>
    /// <param name="video">The video, any size and length.</param>
    /// <exception cref="ArgumentNullException"><paramref name="video"/> is null.</exception>
    public TinyWorldObservation Observe(Video video)
    {
        ArgumentNullException.ThrowIfNull(video);
        var frames = new TinyWorldFrameObservation[video.FrameCount];
        for (int f = 0; f < frames.Length; f++)
        {
            frames[f] = ObserveFrame(video.GetFramePixels(f).Span, video.Height, video.Width);
        }

        var found = Enumerable.Range(0, frames.Length).Where(i => frames[i].Found).ToArray();
        TinyWorldBackground background = Majority(frames.Select(f => f.Background));
        if (found.Length < Options.MinFramesWithObject)
        {
            return new TinyWorldObservation(frames, background, null, null, null, double.NaN, double.NaN);
        }

        TinyWorldColour colour = Majority(found.Select(i => frames[i].Colour!.Value));
        TinyWorldShape shape = Majority(found.Select(i => frames[i].Shape!.Value));
        double span = Math.Max(1, video.FrameCount - 1);
        double dx = Slope(found, i => frames[i].CentroidX) * span;
        double dy = Slope(found, i => frames[i].CentroidY) * span;
        TinyWorldMotion? motion = null;
        if (Math.Max(Math.Abs(dx), Math.Abs(dy)) >= Options.MinTravel && found[^1] > found[0])
        {
            motion = Math.Abs(dx) >= Math.Abs(dy)
                ? (dx > 0 ? TinyWorldMotion.Right : TinyWorldMotion.Left)
                : (dy > 0 ? TinyWorldMotion.Down : TinyWorldMotion.Up);
        }

        return new TinyWorldObservation(frames, background, colour, shape, motion, dx, dy);
    }

    /// <summary>Measures a video given as a (3, F, H, W) or (3, H, W) tensor in [−1, 1] (see <see cref="TinyWorldRenderer.ToVideo"/>).</summary>
    /// <param name="frames">The frames; not disposed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="frames"/> is null.</exception>
    /// <exception cref="ArgumentException">The tensor's shape or dtype is wrong, or it holds NaN.</exception>
    public TinyWorldObservation Observe(Tensor frames) => Observe(TinyWorldRenderer.ToVideo(frames));

    /// <summary>Judges one video against its prompt.</summary>
    /// <param name="prompt">The caption the video was made from.</param>
    /// <param name="video">The video.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public TinyWorldVerdict Judge(TinyWorldCaption prompt, Video video)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(video);
        return new TinyWorldVerdict(prompt, Observe(video), TemporalFlickering.Score(video));
    }

    /// <summary>Judges a set of videos against their prompts: per-attribute accuracy and mean temporal flickering.</summary>
    /// <param name="samples">Pairs of prompt and video.</param>
    /// <returns>The report, with one verdict per pair in the given order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="samples"/>, or a prompt or video in it, is null (the index is named).</exception>
    public TinyWorldReport Evaluate(IReadOnlyList<(TinyWorldCaption Prompt, Video Video)> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var verdicts = new TinyWorldVerdict[samples.Count];
        for (int i = 0; i < samples.Count; i++)
        {
            (TinyWorldCaption prompt, Video video) = samples[i];
            if (prompt is null || video is null)
            {
                throw new ArgumentNullException(nameof(samples), $"Sample {i} has a null {(prompt is null ? "prompt" : "video")}.");
            }

            verdicts[i] = Judge(prompt, video);
        }

        return new TinyWorldReport(verdicts);
    }

    private TinyWorldFrameObservation ObserveFrame(ReadOnlySpan<byte> rgb, int height, int width)
    {
        Rgb bg = BorderMedian(rgb, height, width, Options.BorderWidth);
        TinyWorldBackground background = TinyWorldPalette.NearestBackground(bg);
        var none = new TinyWorldFrameObservation(bg, background, false, null, null, null, 0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        int n = height * width;

        // 1. Candidates: far from the background; keep the largest region.
        double t2 = Options.DetectionThreshold * Options.DetectionThreshold;
        var mask = new bool[n];
        for (int i = 0; i < n; i++)
        {
            int dr = rgb[3 * i] - bg.R, dg = rgb[(3 * i) + 1] - bg.G, db = rgb[(3 * i) + 2] - bg.B;
            mask[i] = (dr * dr) + (dg * dg) + (db * db) > t2;
        }

        int[] region = LargestRegion(mask, height, width);
        if (region.Length < Options.MinObjectPixels)
        {
            return none;
        }

        // 2. Coverage by projection on (first colour − background); the mask is coverage > 1/2.
        Rgb first = Median(rgb, region);
        double vr = first.R - bg.R, vg = first.G - bg.G, vb = first.B - bg.B;
        double contrast2 = (vr * vr) + (vg * vg) + (vb * vb);
        if (contrast2 < t2)
        {
            return none;
        }

        var coverage = new double[n];
        for (int i = 0; i < n; i++)
        {
            coverage[i] = (((rgb[3 * i] - bg.R) * vr) + ((rgb[(3 * i) + 1] - bg.G) * vg) + ((rgb[(3 * i) + 2] - bg.B) * vb)) / contrast2;
        }

        // A 3×3 mean of the coverage (edges replicated) before the threshold: it averages out pixel noise, keeps straight
        // edges where they are and removes isolated specks that would stretch the bounding box. Separable: rows, then columns.
        var rows = new double[n];
        for (int y = 0; y < height; y++)
        {
            int o = y * width;
            for (int x = 0; x < width; x++)
            {
                rows[o + x] = coverage[o + Math.Max(x - 1, 0)] + coverage[o + x] + coverage[o + Math.Min(x + 1, width - 1)];
            }
        }

        for (int y = 0; y < height; y++)
        {
            int o = y * width, up = Math.Max(y - 1, 0) * width, down = Math.Min(y + 1, height - 1) * width;
            for (int x = 0; x < width; x++)
            {
                mask[o + x] = rows[up + x] + rows[o + x] + rows[down + x] > 4.5;
            }
        }

        region = LargestRegion(mask, height, width);
        if (region.Length < Options.MinObjectPixels)
        {
            return none;
        }

        // 3. Colour, box, centroid, fill ratio, top share.
        Rgb colour = Median(rgb, region);
        int left = width, right = -1, top = height, bottom = -1;
        int sumMin = int.MaxValue, sumMax = int.MinValue, diffMin = int.MaxValue, diffMax = int.MinValue;
        double sx = 0, sy = 0;
        foreach (int i in region)
        {
            int y = i / width, x = i % width;
            left = Math.Min(left, x);
            right = Math.Max(right, x);
            top = Math.Min(top, y);
            bottom = Math.Max(bottom, y);
            sumMin = Math.Min(sumMin, x + y);
            sumMax = Math.Max(sumMax, x + y);
            diffMin = Math.Min(diffMin, x - y);
            diffMax = Math.Max(diffMax, x - y);
            sx += x + 0.5;
            sy += y + 0.5;
        }

        int boxWidth = right - left + 1, boxHeight = bottom - top + 1;
        double middle = top + (boxHeight / 2.0);
        double upper = 0;
        foreach (int i in region)
        {
            double centre = (i / width) + 0.5;
            upper += centre < middle ? 1 : centre > middle ? 0 : 0.5;
        }

        double fill = region.Length / (double)(boxWidth * boxHeight);
        double topShare = upper / region.Length;

        // Extent along a diagonal: the spread of the pixel centres' projections plus one pixel's own projection (√2).
        double diagonal = ((sumMax - sumMin + diffMax - diffMin) / Math.Sqrt(2)) + (2 * Math.Sqrt(2));
        double diagonalRatio = diagonal / (boxWidth + boxHeight);
        return new TinyWorldFrameObservation(
            bg, background, true, colour, TinyWorldPalette.NearestColour(colour), NearestShape(fill, topShare, diagonalRatio),
            region.Length, sx / region.Length, sy / region.Length, fill, topShare, diagonalRatio);
    }

    private static TinyWorldShape NearestShape(double fill, double topShare, double diagonalRatio)
    {
        TinyWorldShape best = TinyWorldShape.Circle;
        double bestDistance = double.PositiveInfinity;
        foreach ((TinyWorldShape shape, double f, double t, double g) in Prototypes)
        {
            double d = ((fill - f) * (fill - f)) + ((topShare - t) * (topShare - t)) + ((diagonalRatio - g) * (diagonalRatio - g));
            if (d < bestDistance)
            {
                best = shape;
                bestDistance = d;
            }
        }

        return best;
    }

    private static Rgb BorderMedian(ReadOnlySpan<byte> rgb, int height, int width, int border)
    {
        var indices = new List<int>();
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                if (y < border || y >= height - border || x < border || x >= width - border)
                {
                    indices.Add((y * width) + x);
                }
            }
        }

        return Median(rgb, indices);
    }

    private static Rgb Median(ReadOnlySpan<byte> rgb, IReadOnlyCollection<int> pixels)
    {
        Span<int> r = stackalloc int[256], g = stackalloc int[256], b = stackalloc int[256];
        foreach (int i in pixels)
        {
            r[rgb[3 * i]]++;
            g[rgb[(3 * i) + 1]]++;
            b[rgb[(3 * i) + 2]]++;
        }

        int half = (pixels.Count + 1) / 2; // the lower median for an even count
        return new Rgb(MedianOf(r, half), MedianOf(g, half), MedianOf(b, half));
    }

    private static byte MedianOf(Span<int> histogram, int half)
    {
        int seen = 0;
        for (int v = 0; v < 256; v++)
        {
            seen += histogram[v];
            if (seen >= half)
            {
                return (byte)v;
            }
        }

        return 255;
    }

    /// <summary>The pixel indices of the largest 4-connected region of the mask (the first found on a tie); empty when none.</summary>
    private static int[] LargestRegion(bool[] mask, int height, int width)
    {
        var label = new int[mask.Length];
        var queue = new int[mask.Length];
        int bestLabel = 0, bestSize = 0, next = 0;
        for (int start = 0; start < mask.Length; start++)
        {
            if (!mask[start] || label[start] != 0)
            {
                continue;
            }

            next++;
            int head = 0, tail = 0;
            queue[tail++] = start;
            label[start] = next;
            while (head < tail)
            {
                int i = queue[head++];
                int y = i / width, x = i % width;
                if (x > 0)
                {
                    Visit(i - 1);
                }

                if (x < width - 1)
                {
                    Visit(i + 1);
                }

                if (y > 0)
                {
                    Visit(i - width);
                }

                if (y < height - 1)
                {
                    Visit(i + width);
                }
            }

            if (tail > bestSize)
            {
                bestSize = tail;
                bestLabel = next;
            }

            void Visit(int j)
            {
                if (mask[j] && label[j] == 0)
                {
                    label[j] = next;
                    queue[tail++] = j;
                }
            }
        }

        var region = new int[bestSize];
        int k = 0;
        for (int i = 0; i < mask.Length && k < bestSize; i++)
        {
            if (label[i] == bestLabel)
            {
                region[k++] = i;
            }
        }

        return region;
    }

    private static double Slope(int[] frames, Func<int, double> value)
    {
        double meanT = frames.Average();
        double meanV = frames.Average(value);
        double num = 0, den = 0;
        foreach (int f in frames)
        {
            num += (f - meanT) * (value(f) - meanV);
            den += (f - meanT) * (f - meanT);
        }

        return den == 0 ? 0 : num / den;
    }

    private static T Majority<T>(IEnumerable<T> values)
        where T : struct, Enum
    {
        var counts = new SortedDictionary<T, int>();
        foreach (T v in values)
        {
            counts[v] = counts.GetValueOrDefault(v) + 1;
        }

        T best = default;
        int bestCount = -1;
        foreach ((T v, int c) in counts)
        {
            if (c > bestCount)
            {
                best = v;
                bestCount = c;
            }
        }

        return best;
    }
}
