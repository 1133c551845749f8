using System.Globalization;

namespace Vchitect.Evaluation.TinyWorld;

/// <summary>
/// How the tiny world renders a clip. The defaults give 16 frames of 64×64 with one object 14–22 px across that
/// travels 16–26 px at constant speed, fully inside the frame, anti-aliased with 4×4 supersampling.
/// </summary>
public sealed record TinyWorldRenderOptions
{
    /// <summary>Frames per clip; at least 2, at most 1024. Default 16.</summary>
    public int Frames { get; init; } = 16;

    /// <summary>Width and height of the (square) frames in pixels; 16 to 1024. Default 64.</summary>
    public int Size { get; init; } = 64;

    /// <summary>Smallest object size (circle diameter, square side, triangle base and height) in pixels; at least 4. Default 14.</summary>
    public double MinObjectSize { get; init; } = 14;

    /// <summary>Largest object size in pixels; at least <see cref="MinObjectSize"/>. Default 22.</summary>
    public double MaxObjectSize { get; init; } = 22;

    /// <summary>Shortest distance in pixels the object travels from the first frame to the last; at least 1. Default 16.</summary>
    public double MinTravel { get; init; } = 16;

    /// <summary>Longest distance in pixels the object travels from the first frame to the last; at least <see cref="MinTravel"/>. Default 26.</summary>
    public double MaxTravel { get; init; } = 26;

    /// <summary>Pixels kept free between the object and the frame's edge in every frame; at least 0. Default 2.</summary>
    public double Margin { get; init; } = 2;

    /// <summary>Samples per pixel along each axis for anti-aliasing (1 = none, 4 = 16 samples); 1 to 16. Default 4.</summary>
    public int Supersampling { get; init; } = 4;

    /// <summary>Frame rate stored in the rendered <see cref="Core.Media.Video"/>; finite and greater than 0. Default 8.</summary>
    public double Fps { get; init; } = 8;

    /// <summary>Checks every option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the message names it, its value and the allowed range.</exception>
    public void Validate()
    {
        Check(Frames is >= 2 and <= 1024, nameof(Frames), Frames, "2 to 1024");
        Check(Size is >= 16 and <= 1024, nameof(Size), Size, "16 to 1024");
        Check(double.IsFinite(MinObjectSize) && MinObjectSize >= 4, nameof(MinObjectSize), MinObjectSize, "at least 4");
        Check(double.IsFinite(MaxObjectSize) && MaxObjectSize >= MinObjectSize, nameof(MaxObjectSize), MaxObjectSize, $"at least MinObjectSize ({MinObjectSize})");
        Check(double.IsFinite(MinTravel) && MinTravel >= 1, nameof(MinTravel), MinTravel, "at least 1");
        Check(double.IsFinite(MaxTravel) && MaxTravel >= MinTravel, nameof(MaxTravel), MaxTravel, $"at least MinTravel ({MinTravel})");
        Check(double.IsFinite(Margin) && Margin >= 0, nameof(Margin), Margin, "at least 0");
        Check(Supersampling is >= 1 and <= 16, nameof(Supersampling), Supersampling, "1 to 16");
        Check(double.IsFinite(Fps) && Fps > 0, nameof(Fps), Fps, "a finite number greater than 0");
        double needed = MaxObjectSize + MaxTravel + (2 * Margin);
        Check(needed <= Size, nameof(Size), Size,
            string.Create(CultureInfo.InvariantCulture, $"at least MaxObjectSize + MaxTravel + 2·Margin = {needed} so that the path fits in the frame"));
    }

    private static void Check(bool ok, string name, object value, string allowed)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, value, string.Create(CultureInfo.InvariantCulture, $"TinyWorldRenderOptions.{name} is {value}; allowed: {allowed}."));
        }
    }
}
