using System.Globalization;
using Vchitect.Core.Media;
using Vchitect.Evaluation.TinyWorld;
using Xunit;
using Xunit.Abstractions;

namespace Vchitect.Evaluation.Tests;

/// <summary>The evaluator against the world's own clips: all 144 captions over several seeds, clean and degraded.</summary>
public sealed class EvaluatorAccuracyTests(ITestOutputHelper output)
{
    private static readonly long[] Seeds = [0, 1, 2, 3];
    private static readonly long[] NoisySeeds = [100];

    [Fact]
    public void Clean_clips_are_judged_right_at_least_98_percent_per_attribute()
    {
        TinyWorldReport report = EvaluateAll(Seeds, v => v);
        Print("clean", report);
        Assert.Equal(TinyWorldCaption.Count * Seeds.Length, report.Count);
        Assert.True(report.ColourAccuracy >= 0.98, $"colour accuracy {report.ColourAccuracy:P2}");
        Assert.True(report.ShapeAccuracy >= 0.98, $"shape accuracy {report.ShapeAccuracy:P2}");
        Assert.True(report.MotionAccuracy >= 0.98, $"motion accuracy {report.MotionAccuracy:P2}");
        Assert.True(report.BackgroundAccuracy >= 0.98, $"background accuracy {report.BackgroundAccuracy:P2}");
    }

    [Theory]
    [InlineData(0.05, 1, 0.98)]
    [InlineData(0.10, 2, 0.95)]
    public void Noisy_blurred_clips_are_still_judged_right(double sigma, int blurPasses, double bar)
    {
        TinyWorldReport report = EvaluateAll(NoisySeeds, v => Degrade.Apply(v, sigma, blurPasses, seed: (v.Seed ?? 0) + 17));
        Assert.Equal(TinyWorldCaption.Count * NoisySeeds.Length, report.Count);
        Print($"blur ×{blurPasses} + noise σ={sigma}", report);
        Assert.True(report.ColourAccuracy >= bar, $"colour accuracy {report.ColourAccuracy:P2}");
        Assert.True(report.ShapeAccuracy >= bar, $"shape accuracy {report.ShapeAccuracy:P2}");
        Assert.True(report.MotionAccuracy >= bar, $"motion accuracy {report.MotionAccuracy:P2}");
        Assert.True(report.BackgroundAccuracy >= bar, $"background accuracy {report.BackgroundAccuracy:P2}");
    }

    private static TinyWorldReport EvaluateAll(long[] seeds, Func<Video, Video> degrade)
    {
        var renderer = new TinyWorldRenderer();
        var evaluator = new TinyWorldEvaluator();
        var samples = (from caption in TinyWorldCaption.All
                       from seed in seeds
                       select (caption, degrade(renderer.Render(caption, seed)))).ToList();
        return evaluator.Evaluate(samples);
    }

    private void Print(string what, TinyWorldReport report)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: {report.Count} clips; colour {report.ColourAccuracy:P2}, shape {report.ShapeAccuracy:P2}, motion {report.MotionAccuracy:P2}, background {report.BackgroundAccuracy:P2}, all {report.AllCorrectAccuracy:P2}; {report.SummaryLine}"));
        var frames = report.Verdicts.SelectMany(v => v.Observation.Frames.Select(f => (v.Prompt, Frame: f))).ToList();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  per frame ({frames.Count}): object found {frames.Count(x => x.Frame.Found) / (double)frames.Count:P2}, colour {frames.Count(x => x.Frame.Colour == x.Prompt.Colour) / (double)frames.Count:P2}, shape {frames.Count(x => x.Frame.Shape == x.Prompt.Shape) / (double)frames.Count:P2}, background {frames.Count(x => x.Frame.Background == x.Prompt.Background) / (double)frames.Count:P2}"));
        foreach (TinyWorldShape shape in Enum.GetValues<TinyWorldShape>())
        {
            var fills = frames.Where(x => x.Prompt.Shape == shape && x.Frame.Found).Select(x => (x.Frame.FillRatio, x.Frame.TopShare, x.Frame.DiagonalRatio)).ToList();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {shape}: fill ratio {fills.Min(x => x.FillRatio):0.000}–{fills.Max(x => x.FillRatio):0.000} (mean {fills.Average(x => x.FillRatio):0.000}), top share {fills.Min(x => x.TopShare):0.000}–{fills.Max(x => x.TopShare):0.000}, diagonal ratio {fills.Min(x => x.DiagonalRatio):0.000}–{fills.Max(x => x.DiagonalRatio):0.000}"));
        }

        foreach (TinyWorldVerdict miss in report.Verdicts.Where(v => !v.AllCorrect).Take(10))
        {
            var found = miss.Observation.Frames.Where(f => f.Found).ToList();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  miss: {miss} fill {found.Select(f => f.FillRatio).DefaultIfEmpty(double.NaN).Average():0.000} top {found.Select(f => f.TopShare).DefaultIfEmpty(double.NaN).Average():0.000}"));
        }
    }
}
