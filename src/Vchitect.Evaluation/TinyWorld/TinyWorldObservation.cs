using System.Globalization;

namespace Vchitect.Evaluation.TinyWorld;

/// <summary>What the <see cref="TinyWorldEvaluator"/> measured on one frame.</summary>
/// <param name="BackgroundRgb">The background: per-channel median of the frame's border.</param>
/// <param name="Background">The nearest reference background.</param>
/// <param name="Found">Whether an object was found (a connected region of at least <see cref="TinyWorldEvaluatorOptions.MinObjectPixels"/> pixels far from the background).</param>
/// <param name="ObjectRgb">Per-channel median of the object's pixels; null when none was found.</param>
/// <param name="Colour">The nearest reference colour to <paramref name="ObjectRgb"/>; null when no object was found.</param>
/// <param name="Shape">The shape whose prototype is nearest to (<paramref name="FillRatio"/>, <paramref name="TopShare"/>, <paramref name="DiagonalRatio"/>); null when no object was found.</param>
/// <param name="PixelCount">Pixels in the object's mask (0 when none).</param>
/// <param name="CentroidX">Mean x of the mask's pixel centres (NaN when none).</param>
/// <param name="CentroidY">Mean y of the mask's pixel centres (NaN when none).</param>
/// <param name="FillRatio">Mask pixels / bounding-box pixels: about π/4 for a circle, 1 for a square, 1/2 for a triangle (NaN when none).</param>
/// <param name="TopShare">Share of the mask in the top half of its bounding box: about 1/2 for a circle or square, 1/4 for an apex-up triangle (NaN when none).</param>
/// <param name="DiagonalRatio">The mask's extent along the two diagonals over its extent along the two axes: about 1 for a circle, √2 for a square, 1.06 for the triangle (NaN when none).</param>
public sealed record TinyWorldFrameObservation(
    Rgb BackgroundRgb,
    TinyWorldBackground Background,
    bool Found,
    Rgb? ObjectRgb,
    TinyWorldColour? Colour,
    TinyWorldShape? Shape,
    int PixelCount,
    double CentroidX,
    double CentroidY,
    double FillRatio,
    double TopShare,
    double DiagonalRatio);

/// <summary>What the <see cref="TinyWorldEvaluator"/> measured on a video.</summary>
/// <param name="Frames">One observation per frame.</param>
/// <param name="Background">The majority of the frames' backgrounds.</param>
/// <param name="Colour">The majority of the frames' colours; null when fewer than <see cref="TinyWorldEvaluatorOptions.MinFramesWithObject"/> frames show an object.</param>
/// <param name="Shape">The majority of the frames' shapes; null as for <paramref name="Colour"/>.</param>
/// <param name="Motion">The dominant direction of the centroid's least-squares trajectory; null when too few frames show an object or it travels less than <see cref="TinyWorldEvaluatorOptions.MinTravel"/>.</param>
/// <param name="DisplacementX">The fitted trajectory's x displacement from the first to the last frame, in pixels (NaN when not measured).</param>
/// <param name="DisplacementY">The fitted trajectory's y displacement (down is positive), in pixels (NaN when not measured).</param>
public sealed record TinyWorldObservation(
    IReadOnlyList<TinyWorldFrameObservation> Frames,
    TinyWorldBackground Background,
    TinyWorldColour? Colour,
    TinyWorldShape? Shape,
    TinyWorldMotion? Motion,
    double DisplacementX,
    double DisplacementY)
{
    /// <summary>How many frames show an object.</summary>
    public int FramesWithObject => Frames.Count(f => f.Found);
}

/// <summary>How one video adheres to its prompt, per attribute. A missing measurement counts as wrong.</summary>
/// <param name="Prompt">The caption the video was generated from.</param>
/// <param name="Observation">What was measured.</param>
/// <param name="TemporalFlickering">The video's VBench temporal flickering score; null for a one-frame video.</param>
public sealed record TinyWorldVerdict(TinyWorldCaption Prompt, TinyWorldObservation Observation, double? TemporalFlickering)
{
    /// <summary>Whether the measured colour is the prompt's.</summary>
    public bool ColourCorrect => Observation.Colour == Prompt.Colour;

    /// <summary>Whether the measured shape is the prompt's.</summary>
    public bool ShapeCorrect => Observation.Shape == Prompt.Shape;

    /// <summary>Whether the measured motion is the prompt's.</summary>
    public bool MotionCorrect => Observation.Motion == Prompt.Motion;

    /// <summary>Whether the measured background is the prompt's.</summary>
    public bool BackgroundCorrect => Observation.Background == Prompt.Background;

    /// <summary>Whether all four attributes are right.</summary>
    public bool AllCorrect => ColourCorrect && ShapeCorrect && MotionCorrect && BackgroundCorrect;

    /// <summary>One line: the prompt, then each attribute as measured, with ✓ or ✗, and the flicker score.</summary>
    /// <returns>For example <c>a red circle moving left on a black background: colour red ✓, shape circle ✓, motion left ✓, background black ✓, flicker 0.9876</c>.</returns>
    public override string ToString()
    {
        static string Mark(bool ok) => ok ? "✓" : "✗";
        static string Name<T>(T? value)
            where T : struct, Enum => value is T v ? v.ToString().ToLowerInvariant() : "none";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{Prompt}: colour {Name(Observation.Colour)} {Mark(ColourCorrect)}, shape {Name(Observation.Shape)} {Mark(ShapeCorrect)}, motion {Name(Observation.Motion)} {Mark(MotionCorrect)}, background {Name<TinyWorldBackground>(Observation.Background)} {Mark(BackgroundCorrect)}, flicker {(TemporalFlickering is double f ? f.ToString("0.0000", CultureInfo.InvariantCulture) : "none")}");
    }
}

/// <summary>Prompt adherence of a set of videos: per-attribute accuracy and the mean temporal flickering score.</summary>
/// <param name="Verdicts">One verdict per video, in the order given.</param>
public sealed record TinyWorldReport(IReadOnlyList<TinyWorldVerdict> Verdicts)
{
    /// <summary>How many videos were evaluated.</summary>
    public int Count => Verdicts.Count;

    /// <summary>Fraction of videos whose colour is right, 0–1 (NaN for no videos).</summary>
    public double ColourAccuracy => Fraction(v => v.ColourCorrect);

    /// <summary>Fraction of videos whose shape is right, 0–1 (NaN for no videos).</summary>
    public double ShapeAccuracy => Fraction(v => v.ShapeCorrect);

    /// <summary>Fraction of videos whose motion direction is right, 0–1 (NaN for no videos).</summary>
    public double MotionAccuracy => Fraction(v => v.MotionCorrect);

    /// <summary>Fraction of videos whose background is right, 0–1 (NaN for no videos).</summary>
    public double BackgroundAccuracy => Fraction(v => v.BackgroundCorrect);

    /// <summary>Fraction of videos with all four attributes right, 0–1 (NaN for no videos).</summary>
    public double AllCorrectAccuracy => Fraction(v => v.AllCorrect);

    /// <summary>VBench temporal flickering: the mean over the videos that have a score (NaN when none has).</summary>
    public double TemporalFlickering
    {
        get
        {
            var scores = Verdicts.Where(v => v.TemporalFlickering is not null).Select(v => v.TemporalFlickering!.Value).ToList();
            return scores.Count == 0 ? double.NaN : scores.Average();
        }
    }

    /// <summary>The summary line <c>colour_acc=&lt;x&gt; shape_acc=&lt;x&gt; motion_acc=&lt;x&gt; flicker=&lt;x&gt;</c>, four decimals, invariant culture.</summary>
    public string SummaryLine => string.Create(
        CultureInfo.InvariantCulture,
        $"colour_acc={ColourAccuracy:0.0000} shape_acc={ShapeAccuracy:0.0000} motion_acc={MotionAccuracy:0.0000} flicker={TemporalFlickering:0.0000}");

    private double Fraction(Func<TinyWorldVerdict, bool> correct) => Count == 0 ? double.NaN : Verdicts.Count(correct) / (double)Count;
}
