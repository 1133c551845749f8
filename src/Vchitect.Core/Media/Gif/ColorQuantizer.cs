namespace Vchitect.Core.Media.Gif;

/// <summary>A colour table of 1..256 colours and the mapping from RGB to its indices.</summary>
internal sealed class GifPaletteTable
{
    private readonly Dictionary<int, byte> _lookup;

    public GifPaletteTable(int[] colors, bool exact)
    {
        Colors = colors;
        IsExact = exact;
        _lookup = new Dictionary<int, byte>(exact ? colors.Length : 4096);
        if (exact)
        {
            for (int i = 0; i < colors.Length; i++)
            {
                _lookup[colors[i]] = (byte)i;
            }
        }
    }

    /// <summary>The colours as 0xRRGGBB.</summary>
    public int[] Colors { get; }

    /// <summary>True when the palette holds every colour of the pixels it was built from (no quantisation error).</summary>
    public bool IsExact { get; }

    /// <summary>Bits per index: the colour table has 2^Bits entries (1..8).</summary>
    public int Bits
    {
        get
        {
            int bits = 1;
            while ((1 << bits) < Colors.Length)
            {
                bits++;
            }

            return bits;
        }
    }

    /// <summary>The index of the nearest colour (squared Euclidean distance in RGB); results are cached.</summary>
    public byte IndexOf(int r, int g, int b)
    {
        int rgb = (r << 16) | (g << 8) | b;
        if (_lookup.TryGetValue(rgb, out byte index))
        {
            return index;
        }

        int best = 0;
        int bestDistance = int.MaxValue;
        int[] colors = Colors;
        for (int i = 0; i < colors.Length; i++)
        {
            int c = colors[i];
            int dr = ((c >> 16) & 0xFF) - r;
            int dg = ((c >> 8) & 0xFF) - g;
            int db = (c & 0xFF) - b;
            int d = (dr * dr) + (dg * dg) + (db * db);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = i;
                if (d == 0)
                {
                    break;
                }
            }
        }

        if (_lookup.Count < 1 << 20)
        {
            _lookup[rgb] = (byte)best;
        }

        return (byte)best;
    }
}

/// <summary>
/// Builds palettes of at most 256 colours by variance-based median cut. A set of pixels with at most 256 distinct colours gets exactly
/// those colours. Otherwise colours are counted in a 6-bit-per-channel histogram (keeping exact sums), and the box with the
/// largest summed squared error is split along its highest-variance channel at the point that minimises the two halves'
/// squared error (variance-based median cut, after Wan, Wong and Prusinkiewicz) until there are 256 boxes;
/// each palette colour is the mean of its box.
/// </summary>
internal sealed class ColorQuantizer
{
    private const int Levels = 64; // 6 bits per channel
    private const int Bins = Levels * Levels * Levels;

    private readonly Dictionary<int, int> _distinct = new(257);
    private int[]? _count;
    private long[]? _sumR;
    private long[]? _sumG;
    private long[]? _sumB;
    private bool _overflowed;

    /// <summary>Starts a new palette.</summary>
    public void Reset()
    {
        _distinct.Clear();
        _overflowed = false;
        if (_count is not null)
        {
            Array.Clear(_count);
            Array.Clear(_sumR!);
            Array.Clear(_sumG!);
            Array.Clear(_sumB!);
        }
    }

    /// <summary>Adds RGB8 pixels to the colour statistics.</summary>
    public void Add(ReadOnlySpan<byte> rgb)
    {
        int i = 0;
        if (!_overflowed)
        {
            for (; i + 2 < rgb.Length; i += 3)
            {
                int c = (rgb[i] << 16) | (rgb[i + 1] << 8) | rgb[i + 2];
                if (_distinct.TryGetValue(c, out int n))
                {
                    _distinct[c] = n + 1;
                }
                else if (_distinct.Count < 256)
                {
                    _distinct[c] = 1;
                }
                else
                {
                    // More than 256 colours: move what was counted into the histogram and continue there.
                    _overflowed = true;
                    EnsureHistogram();
                    foreach (var (color, count) in _distinct)
                    {
                        AddToHistogram((color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF, count);
                    }

                    _distinct.Clear();
                    break;
                }
            }
        }

        if (_overflowed)
        {
            for (; i + 2 < rgb.Length; i += 3)
            {
                AddToHistogram(rgb[i], rgb[i + 1], rgb[i + 2], 1);
            }
        }
    }

    /// <summary>The palette for everything added since <see cref="Reset"/>.</summary>
    public GifPaletteTable Build()
    {
        if (!_overflowed)
        {
            int[] exact = _distinct.Keys.Order().ToArray();
            return new GifPaletteTable(exact.Length == 0 ? [0] : exact, exact: true);
        }

        return MedianCut();
    }

    private void EnsureHistogram()
    {
        _count ??= new int[Bins];
        _sumR ??= new long[Bins];
        _sumG ??= new long[Bins];
        _sumB ??= new long[Bins];
    }

    private void AddToHistogram(int r, int g, int b, int n)
    {
        int bin = ((r >> 2) << 12) | ((g >> 2) << 6) | (b >> 2);
        _count![bin] += n;
        _sumR![bin] += (long)r * n;
        _sumG![bin] += (long)g * n;
        _sumB![bin] += (long)b * n;
    }

    private GifPaletteTable MedianCut()
    {
        int[] count = _count!;
        int used = 0;
        for (int i = 0; i < Bins; i++)
        {
            if (count[i] != 0)
            {
                used++;
            }
        }

        // One entry per non-empty bin: its mean colour (for splitting) and its exact sums (for the palette colours).
        var entries = new Entry[used];
        int e = 0;
        for (int i = 0; i < Bins; i++)
        {
            int n = count[i];
            if (n != 0)
            {
                entries[e++] = new Entry(n, _sumR![i], _sumG![i], _sumB![i]);
            }
        }

        var boxes = new List<Box> { MakeBox(entries, 0, entries.Length) };
        int[] keys = new int[entries.Length];
        while (boxes.Count < 256)
        {
            int pick = -1;
            double bestError = 0;
            for (int i = 0; i < boxes.Count; i++)
            {
                if (boxes[i].End - boxes[i].Start > 1 && boxes[i].Error > bestError)
                {
                    bestError = boxes[i].Error;
                    pick = i;
                }
            }

            if (pick < 0)
            {
                break;
            }

            Box box = boxes[pick];
            int start = box.Start;
            int length = box.End - box.Start;
            for (int i = start; i < box.End; i++)
            {
                keys[i] = entries[i].Channel(box.Channel);
            }

            Array.Sort(keys, entries, start, length);
            // Split where the two halves' squared error along this channel is smallest (maximise S_L²/W_L + S_R²/W_R).
            double totalW = 0, totalS = 0;
            for (int i = start; i < box.End; i++)
            {
                totalW += entries[i].Count;
                totalS += (double)entries[i].Count * keys[i];
            }

            double leftW = 0, leftS = 0, bestScore = double.NegativeInfinity;
            int split = start + 1;
            for (int i = start; i < box.End - 1; i++)
            {
                leftW += entries[i].Count;
                leftS += (double)entries[i].Count * keys[i];
                if (keys[i] == keys[i + 1])
                {
                    continue; // equal keys stay together
                }

                double rightW = totalW - leftW, rightS = totalS - leftS;
                double score = (leftS * leftS / leftW) + (rightS * rightS / rightW);
                if (score > bestScore)
                {
                    bestScore = score;
                    split = i + 1;
                }
            }

            boxes[pick] = MakeBox(entries, start, split);
            boxes.Add(MakeBox(entries, split, box.End));
        }

        var colors = new int[boxes.Count];
        for (int i = 0; i < boxes.Count; i++)
        {
            long n = 0, r = 0, g = 0, b = 0;
            for (int j = boxes[i].Start; j < boxes[i].End; j++)
            {
                n += entries[j].Count;
                r += entries[j].SumR;
                g += entries[j].SumG;
                b += entries[j].SumB;
            }

            colors[i] = (Mean(r, n) << 16) | (Mean(g, n) << 8) | Mean(b, n);
        }

        return new GifPaletteTable(colors, exact: false);
    }

    private static int Mean(long sum, long n) => (int)Math.Clamp((sum + (n / 2)) / n, 0, 255);

    private static Box MakeBox(Entry[] entries, int start, int end)
    {
        double w = 0;
        Span<double> s1 = stackalloc double[3];
        Span<double> s2 = stackalloc double[3];
        for (int i = start; i < end; i++)
        {
            double n = entries[i].Count;
            w += n;
            for (int c = 0; c < 3; c++)
            {
                double v = entries[i].Channel(c);
                s1[c] += n * v;
                s2[c] += n * v * v;
            }
        }

        int channel = 0;
        double error = 0;
        double bestVariance = -1;
        for (int c = 0; c < 3; c++)
        {
            double sse = s2[c] - (s1[c] * s1[c] / w);
            error += sse;
            if (sse > bestVariance)
            {
                bestVariance = sse;
                channel = c;
            }
        }

        return new Box(start, end, (long)w, channel, error);
    }

    private readonly record struct Box(int Start, int End, long Weight, int Channel, double Error);

    private readonly record struct Entry(int Count, long SumR, long SumG, long SumB)
    {
        public int Channel(int c) => (int)((c switch { 0 => SumR, 1 => SumG, _ => SumB }) / Count);
    }
}
