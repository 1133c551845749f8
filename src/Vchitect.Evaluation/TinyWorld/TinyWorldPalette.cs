namespace Vchitect.Evaluation.TinyWorld;

/// <summary>An 8-bit RGB colour.</summary>
/// <param name="R">Red, 0–255.</param>
/// <param name="G">Green, 0–255.</param>
/// <param name="B">Blue, 0–255.</param>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>The Euclidean distance to another colour in 0–255 RGB space (0 to about 441.7).</summary>
    /// <param name="other">The other colour.</param>
    public double DistanceTo(Rgb other)
    {
        int dr = R - other.R, dg = G - other.G, db = B - other.B;
        return Math.Sqrt((dr * dr) + (dg * dg) + (db * db));
    }
}

/// <summary>
/// The reference colours the renderer paints with and the evaluator compares against. They are saturated, far from
/// each other (the closest pair, blue and purple, is 151 apart in 0–255 RGB) and far from both backgrounds (the
/// closest, purple on gray, is 125 apart), so white on gray and every colour on gray still separate clearly.
/// </summary>
public static class TinyWorldPalette
{
    private static readonly Rgb[] Colours =
    [
        new(235, 30, 30),    // red
        new(30, 200, 50),    // green
        new(40, 80, 240),    // blue
        new(245, 220, 30),   // yellow
        new(245, 245, 245),  // white
        new(180, 40, 200),   // purple
    ];

    private static readonly Rgb[] Backgrounds =
    [
        new(0, 0, 0),        // black
        new(128, 128, 128),  // gray
    ];

    /// <summary>The RGB an object of this colour is painted with.</summary>
    /// <param name="colour">The colour.</param>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="TinyWorldColour"/>.</exception>
    public static Rgb Of(TinyWorldColour colour) => Colours[TinyWorldGrammar.CheckIndex((int)colour, Colours.Length, nameof(colour))];

    /// <summary>The RGB a background is filled with: black (0, 0, 0), gray (128, 128, 128).</summary>
    /// <param name="background">The background.</param>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="TinyWorldBackground"/>.</exception>
    public static Rgb Of(TinyWorldBackground background) =>
        Backgrounds[TinyWorldGrammar.CheckIndex((int)background, Backgrounds.Length, nameof(background))];

    /// <summary>The colour whose reference RGB is nearest (Euclidean) to <paramref name="rgb"/>.</summary>
    /// <param name="rgb">The measured colour.</param>
    public static TinyWorldColour NearestColour(Rgb rgb) => (TinyWorldColour)Nearest(Colours, rgb);

    /// <summary>The background whose reference RGB is nearest (Euclidean) to <paramref name="rgb"/>.</summary>
    /// <param name="rgb">The measured colour.</param>
    public static TinyWorldBackground NearestBackground(Rgb rgb) => (TinyWorldBackground)Nearest(Backgrounds, rgb);

    private static int Nearest(Rgb[] references, Rgb rgb)
    {
        int best = 0;
        double bestDistance = double.PositiveInfinity;
        for (int i = 0; i < references.Length; i++)
        {
            double d = references[i].DistanceTo(rgb);
            if (d < bestDistance)
            {
                best = i;
                bestDistance = d;
            }
        }

        return best;
    }
}
