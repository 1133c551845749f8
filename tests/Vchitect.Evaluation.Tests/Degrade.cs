using Vchitect.Core.Media;

namespace Vchitect.Evaluation.Tests;

/// <summary>
/// Test-side corruptions of a clip, in the model's [−1, 1] units: a 3×3 binomial blur and additive Gaussian noise,
/// both seeded. Plain managed code (fast enough for hundreds of clips; no torch threads involved).
/// </summary>
public static class Degrade
{
    private const int TableSize = 1 << 16;

    // N(0, 1) samples by Box–Muller from a fixed seed; the noise picks from them with a per-clip xorshift stream.
    private static readonly float[] Normal = BuildTable();

    /// <summary>Blurs each frame with the [1 2 1]ᵀ[1 2 1]/16 kernel (edges replicated) some times, then adds N(0, σ²) noise and rounds.</summary>
    /// <param name="video">The clip.</param>
    /// <param name="sigma">Noise standard deviation in [−1, 1] units (0.05 ≈ 6.4 grey levels); 0 for none.</param>
    /// <param name="blurPasses">How many times to blur first (one pass ≈ a Gaussian of σ 0.7 px, two ≈ 1 px); 0 for none.</param>
    /// <param name="seed">The noise seed.</param>
    public static Video Apply(Video video, double sigma, int blurPasses, long seed)
    {
        int f = video.FrameCount, h = video.Height, w = video.Width;
        byte[] src = video.Pixels.ToArray();
        var value = new float[src.Length];
        for (int i = 0; i < src.Length; i++)
        {
            value[i] = src[i];
        }

        var tmp = new float[src.Length];
        int row = w * 3, frame = h * row;
        for (int pass = 0; pass < blurPasses; pass++)
        {
            // Horizontal then vertical [1 2 1] / 4, edges replicated.
            for (int k = 0; k < f; k++)
            {
                for (int y = 0; y < h; y++)
                {
                    int o = (k * frame) + (y * row);
                    for (int x = 0; x < w; x++)
                    {
                        int l = x > 0 ? -3 : 0, r = x < w - 1 ? 3 : 0;
                        for (int c = o + (x * 3), end = c + 3; c < end; c++)
                        {
                            tmp[c] = (value[c + l] + (2 * value[c]) + value[c + r]) / 4;
                        }
                    }
                }

                for (int y = 0; y < h; y++)
                {
                    int o = (k * frame) + (y * row), u = y > 0 ? -row : 0, d = y < h - 1 ? row : 0;
                    for (int c = o, end = o + row; c < end; c++)
                    {
                        value[c] = (tmp[c + u] + (2 * tmp[c]) + tmp[c + d]) / 4;
                    }
                }
            }
        }

        float scale = (float)(sigma * 127.5);
        ulong state = (ulong)seed * 0x9E3779B97F4A7C15UL | 1;
        var dst = new byte[src.Length];
        for (int i = 0; i < src.Length; i++)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            float noisy = value[i] + (scale * Normal[(int)(state >> 48)]);
            dst[i] = (byte)Math.Clamp(MathF.Round(noisy), 0, 255);
        }

        return new Video(dst, f, h, w, video.Fps, video.Seed);
    }

    private static float[] BuildTable()
    {
        var rng = new Random(20251205);
        var table = new float[TableSize];
        for (int i = 0; i < TableSize; i += 2)
        {
            double r = Math.Sqrt(-2.0 * Math.Log(1.0 - rng.NextDouble()));
            double theta = 2 * Math.PI * rng.NextDouble();
            table[i] = (float)(r * Math.Cos(theta));
            table[i + 1] = (float)(r * Math.Sin(theta));
        }

        return table;
    }
}
