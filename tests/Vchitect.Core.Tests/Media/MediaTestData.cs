using SkiaSharp;
using Vchitect.Core.Media;

namespace Vchitect.Core.Tests.Media;

/// <summary>Synthetic videos and helpers shared by the media tests.</summary>
internal static class MediaTestData
{
    /// <summary>A smooth colour gradient that moves with the frame index (many thousands of colours).</summary>
    public static Video Gradient(int frames, int height, int width, double fps = 8)
    {
        byte[] rgb = new byte[frames * height * width * 3];
        int o = 0;
        for (int f = 0; f < frames; f++)
        {
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    rgb[o++] = (byte)(255.0 * x / Math.Max(1, width - 1));
                    rgb[o++] = (byte)(255.0 * y / Math.Max(1, height - 1));
                    rgb[o++] = (byte)((64 + (f * 40) + ((x + y) / 4)) % 256);
                }
            }
        }

        return new Video(rgb, frames, height, width, fps);
    }

    /// <summary>Random pixels drawn from a fixed set of at most <paramref name="colors"/> colours per frame.</summary>
    public static Video PaletteNoise(int frames, int height, int width, int colors, int seed, double fps = 8)
    {
        var random = new Random(seed);
        byte[] rgb = new byte[frames * height * width * 3];
        for (int f = 0; f < frames; f++)
        {
            var palette = new byte[colors * 3];
            random.NextBytes(palette);
            for (int p = 0; p < height * width; p++)
            {
                int c = random.Next(colors);
                int o = ((f * height * width) + p) * 3;
                rgb[o] = palette[c * 3];
                rgb[o + 1] = palette[(c * 3) + 1];
                rgb[o + 2] = palette[(c * 3) + 2];
            }
        }

        return new Video(rgb, frames, height, width, fps);
    }

    /// <summary>Decodes every frame of an image file with SkiaSharp's SKCodec into RGB, honouring required frames.</summary>
    public static (SKCodecFrameInfo[] Info, int RepetitionCount, List<byte[]> Frames, int Width, int Height) DecodeWithSkia(string path)
    {
        using var codec = SKCodec.Create(path) ?? throw new InvalidOperationException("SKCodec could not open " + path);
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var frames = new List<byte[]>();
        SKCodecFrameInfo[] frameInfo = codec.FrameInfo;
        int count = Math.Max(1, frameInfo.Length);
        for (int i = 0; i < count; i++)
        {
            using var bitmap = new SKBitmap(info);
            SKCodecResult result = codec.GetPixels(info, bitmap.GetPixels(), new SKCodecOptions(i));
            if (result != SKCodecResult.Success)
            {
                throw new InvalidOperationException($"frame {i}: {result}");
            }

            ReadOnlySpan<byte> rgba = bitmap.GetPixelSpan();
            byte[] rgb = new byte[info.Width * info.Height * 3];
            for (int s = 0, d = 0; d < rgb.Length; s += 4, d += 3)
            {
                rgb[d] = rgba[s];
                rgb[d + 1] = rgba[s + 1];
                rgb[d + 2] = rgba[s + 2];
            }

            frames.Add(rgb);
        }

        return (frameInfo, codec.RepetitionCount, frames, info.Width, info.Height);
    }

    /// <summary>Max and mean absolute difference between two equally long byte spans.</summary>
    public static (int Max, double Mean) Error(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        if (expected.Length != actual.Length)
        {
            throw new ArgumentException($"lengths {expected.Length} vs {actual.Length}");
        }

        int max = 0;
        long sum = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            int d = Math.Abs(expected[i] - actual[i]);
            sum += d;
            max = Math.Max(max, d);
        }

        return (max, (double)sum / expected.Length);
    }
}

/// <summary>A fresh temporary folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vchitect-media-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string[] Entries() => Directory.GetFileSystemEntries(Path).Select(System.IO.Path.GetFileName).ToArray()!;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
