
namespace Vchitect.Core.Media.Gif;

/// <summary>
/// Writes a <see cref="Video"/> as an animated GIF89a: header, logical screen descriptor (with a global colour table in
/// <see cref="GifPalette.Global"/> mode), the NETSCAPE2.0 looping extension, then per frame a graphic control extension
/// (delay, disposal "do not dispose", no transparency), an image descriptor covering the whole screen (with a local colour
/// table in <see cref="GifPalette.PerFrame"/> mode) and LZW image data; then the trailer.
/// </summary>
internal static class GifWriter
{
    private static readonly int[] Bayer8 =
    [
        0, 32, 8, 40, 2, 34, 10, 42,
        48, 16, 56, 24, 50, 18, 58, 26,
        12, 44, 4, 36, 14, 46, 6, 38,
        60, 28, 52, 20, 62, 30, 54, 22,
        3, 35, 11, 43, 1, 33, 9, 41,
        51, 19, 59, 27, 49, 17, 57, 25,
        15, 47, 7, 39, 13, 45, 5, 37,
        63, 31, 55, 23, 61, 29, 53, 21,
    ];

    /// <summary>The frame delay written for a frame rate: round(100 / fps) centiseconds, halves away from zero, clamped to 2..65535.</summary>
    public static int DelayCentiseconds(double fps) =>
        (int)Math.Clamp(Math.Round(100 / fps, MidpointRounding.AwayFromZero), 2, ushort.MaxValue);

    public static void Write(Video video, Stream output, GifOptions options, CancellationToken cancellationToken)
    {
        if (video.Width > ushort.MaxValue || video.Height > ushort.MaxValue)
        {
            throw new NotSupportedException(
                $"GIF frames are at most 65535×65535 pixels; this video is {video.Width}×{video.Height} (width×height).");
        }

        var quantizer = new ColorQuantizer();
        var lzw = new LzwEncoder();
        GifPaletteTable? global = null;
        if (options.Palette == GifPalette.Global)
        {
            for (int f = 0; f < video.FrameCount; f++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                quantizer.Add(video.GetFramePixels(f).Span);
            }

            global = quantizer.Build();
        }

        output.Write("GIF89a"u8);
        WriteU16(output, video.Width);
        WriteU16(output, video.Height);
        // Packed: global table flag, colour resolution 8 bits (7), not sorted, table size.
        output.WriteByte(global is null ? (byte)0x70 : (byte)(0x80 | 0x70 | (global.Bits - 1)));
        output.WriteByte(0); // background colour index
        output.WriteByte(0); // pixel aspect ratio: not given
        if (global is not null)
        {
            WriteColorTable(output, global);
        }

        if (options.LoopCount is int loop)
        {
            output.WriteByte(0x21);
            output.WriteByte(0xFF);
            output.WriteByte(11);
            output.Write("NETSCAPE2.0"u8);
            output.WriteByte(3);
            output.WriteByte(1);
            WriteU16(output, loop);
            output.WriteByte(0);
        }

        int delay = DelayCentiseconds(video.Fps);
        byte[] indices = new byte[video.Width * video.Height];
        for (int f = 0; f < video.FrameCount; f++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ReadOnlySpan<byte> rgb = video.GetFramePixels(f).Span;
            GifPaletteTable palette;
            if (global is null)
            {
                quantizer.Reset();
                quantizer.Add(rgb);
                palette = quantizer.Build();
            }
            else
            {
                palette = global;
            }

            MapToPalette(rgb, video.Width, video.Height, palette, palette.IsExact ? GifDithering.None : options.Dithering, indices);

            // Graphic control extension: disposal 1 (leave in place), no user input, no transparency.
            output.WriteByte(0x21);
            output.WriteByte(0xF9);
            output.WriteByte(4);
            output.WriteByte(1 << 2);
            WriteU16(output, delay);
            output.WriteByte(0);
            output.WriteByte(0);

            // Image descriptor: the whole logical screen.
            output.WriteByte(0x2C);
            WriteU16(output, 0);
            WriteU16(output, 0);
            WriteU16(output, video.Width);
            WriteU16(output, video.Height);
            if (global is null)
            {
                output.WriteByte((byte)(0x80 | (palette.Bits - 1)));
                WriteColorTable(output, palette);
            }
            else
            {
                output.WriteByte(0);
            }

            lzw.Encode(indices, Math.Max(2, palette.Bits), output);
        }

        output.WriteByte(0x3B);
    }

    private static void MapToPalette(ReadOnlySpan<byte> rgb, int width, int height, GifPaletteTable palette, GifDithering dithering, byte[] indices)
    {
        switch (dithering)
        {
            case GifDithering.None:
                for (int p = 0, i = 0; p < indices.Length; p++, i += 3)
                {
                    indices[p] = palette.IndexOf(rgb[i], rgb[i + 1], rgb[i + 2]);
                }

                break;

            case GifDithering.Ordered:
                {
                    // Threshold amplitude: the palette's typical spacing, the mean distance from a colour to its nearest neighbour.
                    double spread = MeanNearestDistance(palette.Colors);
                    for (int y = 0, p = 0; y < height; y++)
                    {
                        for (int x = 0; x < width; x++, p++)
                        {
                            int offset = (int)Math.Round(((Bayer8[((y & 7) << 3) | (x & 7)] + 0.5) / 64.0 - 0.5) * spread);
                            int i = p * 3;
                            indices[p] = palette.IndexOf(
                                Math.Clamp(rgb[i] + offset, 0, 255),
                                Math.Clamp(rgb[i + 1] + offset, 0, 255),
                                Math.Clamp(rgb[i + 2] + offset, 0, 255));
                        }
                    }

                    break;
                }

            case GifDithering.FloydSteinberg:
                {
                    // Errors in 1/16 units for this row and the next, with one guard column on each side.
                    int stride = (width + 2) * 3;
                    int[] current = new int[stride];
                    int[] next = new int[stride];
                    int[] colors = palette.Colors;
                    for (int y = 0, p = 0; y < height; y++)
                    {
                        for (int x = 0; x < width; x++, p++)
                        {
                            int i = p * 3;
                            int e = (x + 1) * 3;
                            int r = Math.Clamp(rgb[i] + ((current[e] + 8) >> 4), 0, 255);
                            int g = Math.Clamp(rgb[i + 1] + ((current[e + 1] + 8) >> 4), 0, 255);
                            int b = Math.Clamp(rgb[i + 2] + ((current[e + 2] + 8) >> 4), 0, 255);
                            byte index = palette.IndexOf(r, g, b);
                            indices[p] = index;
                            int c = colors[index];
                            Spread(r - ((c >> 16) & 0xFF), e, current, next);
                            Spread(g - ((c >> 8) & 0xFF), e + 1, current, next);
                            Spread(b - (c & 0xFF), e + 2, current, next);
                        }

                        (current, next) = (next, current);
                        Array.Clear(next);
                    }

                    break;
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(dithering), dithering, "Unknown dithering.");
        }
    }

    private static double MeanNearestDistance(int[] colors)
    {
        if (colors.Length < 2)
        {
            return 0;
        }

        double sum = 0;
        for (int i = 0; i < colors.Length; i++)
        {
            int best = int.MaxValue;
            for (int j = 0; j < colors.Length; j++)
            {
                if (i == j)
                {
                    continue;
                }

                int dr = ((colors[i] >> 16) & 0xFF) - ((colors[j] >> 16) & 0xFF);
                int dg = ((colors[i] >> 8) & 0xFF) - ((colors[j] >> 8) & 0xFF);
                int db = (colors[i] & 0xFF) - (colors[j] & 0xFF);
                best = Math.Min(best, (dr * dr) + (dg * dg) + (db * db));
            }

            sum += Math.Sqrt(best);
        }

        return sum / colors.Length;
    }

    private static void Spread(int error, int e, int[] current, int[] next)
    {
        current[e + 3] += error * 7;
        next[e - 3] += error * 3;
        next[e] += error * 5;
        next[e + 3] += error;
    }

    private static void WriteColorTable(Stream output, GifPaletteTable palette)
    {
        int size = 1 << palette.Bits;
        byte[] table = new byte[size * 3];
        for (int i = 0; i < palette.Colors.Length; i++)
        {
            int c = palette.Colors[i];
            table[i * 3] = (byte)(c >> 16);
            table[(i * 3) + 1] = (byte)(c >> 8);
            table[(i * 3) + 2] = (byte)c;
        }

        output.Write(table);
    }

    private static void WriteU16(Stream output, int value)
    {
        output.WriteByte((byte)value);
        output.WriteByte((byte)(value >> 8));
    }
}
