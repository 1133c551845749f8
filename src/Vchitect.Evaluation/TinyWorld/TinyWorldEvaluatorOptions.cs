using System.Globalization;

namespace Vchitect.Evaluation.TinyWorld;

/// <summary>Settings of the <see cref="TinyWorldEvaluator"/>; the defaults suit the world's 64×64 clips.</summary>
public sealed record TinyWorldEvaluatorOptions
{
    /// <summary>
    /// How far (Euclidean, 0–255 RGB) a pixel must be from the background to be a candidate object pixel; 1 to 255.
    /// Default 48: below half the smallest object–background contrast of the palette (125), above noise.
    /// </summary>
    public double DetectionThreshold { get; init; } = 48;

    /// <summary>Fewest pixels an object must cover for a frame to count as showing one; at least 1. Default 12.</summary>
    public int MinObjectPixels { get; init; } = 12;

    /// <summary>Width in pixels of the frame border whose per-channel median is the background; at least 1. Default 2.</summary>
    public int BorderWidth { get; init; } = 2;

    /// <summary>
    /// Smallest displacement in pixels, over the whole clip along the dominant axis (from the fitted centroid
    /// trajectory), that counts as motion; at least 0. Default 4. Slower objects get no motion (a miss).
    /// </summary>
    public double MinTravel { get; init; } = 4;

    /// <summary>Fewest frames that must show an object for colour, shape and motion to be judged; at least 2. Default 2.</summary>
    public int MinFramesWithObject { get; init; } = 2;

    /// <summary>Checks every option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the message names it, its value and the allowed range.</exception>
    public void Validate()
    {
        Check(double.IsFinite(DetectionThreshold) && DetectionThreshold is >= 1 and <= 255, nameof(DetectionThreshold), DetectionThreshold, "1 to 255");
        Check(MinObjectPixels >= 1, nameof(MinObjectPixels), MinObjectPixels, "at least 1");
        Check(BorderWidth >= 1, nameof(BorderWidth), BorderWidth, "at least 1");
        Check(double.IsFinite(MinTravel) && MinTravel >= 0, nameof(MinTravel), MinTravel, "at least 0");
        Check(MinFramesWithObject >= 2, nameof(MinFramesWithObject), MinFramesWithObject, "at least 2");
    }

    private static void Check(bool ok, string name, object value, string allowed)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, value, string.Create(CultureInfo.InvariantCulture, $"TinyWorldEvaluatorOptions.{name} is {value}; allowed: {allowed}."));
        }
    }
}
