using Vchitect.Core.Media;
using Vchitect.Evaluation.TinyWorld;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Evaluation.Tests;

public sealed class EvaluatorTests
{
    private static readonly TinyWorldRenderer Renderer = new();
    private static readonly TinyWorldEvaluator Evaluator = new();

    private static Video Uniform(int frames, int height, int width, Rgb colour)
    {
        var pixels = new byte[frames * height * width * 3];
        for (int i = 0; i < pixels.Length; i += 3)
        {
            (pixels[i], pixels[i + 1], pixels[i + 2]) = (colour.R, colour.G, colour.B);
        }

        return new Video(pixels, frames, height, width);
    }

    [Fact]
    public void A_rendered_clip_is_observed_as_its_caption()
    {
        TinyWorldCaption caption = TinyWorldCaption.Parse("a purple triangle moving up on a gray background");
        TinyWorldObservation o = Evaluator.Observe(Renderer.Render(caption, 8));
        Assert.Equal((TinyWorldColour?)TinyWorldColour.Purple, o.Colour);
        Assert.Equal((TinyWorldShape?)TinyWorldShape.Triangle, o.Shape);
        Assert.Equal((TinyWorldMotion?)TinyWorldMotion.Up, o.Motion);
        Assert.Equal(TinyWorldBackground.Gray, o.Background);
        Assert.Equal(16, o.FramesWithObject);
        TinyWorldLayout l = Renderer.Layout(caption, 8);
        Assert.Equal(l.EndY - l.StartY, o.DisplacementY, 0.5); // the centroid follows the drawn path
        Assert.Equal(0, o.DisplacementX, 0.5);
        Assert.Equal(TinyWorldPalette.Of(TinyWorldColour.Purple), o.Frames[0].ObjectRgb);
    }

    [Fact]
    public void A_wrong_prompt_is_marked_wrong_on_exactly_the_attributes_that_differ()
    {
        Video video = Renderer.Render(TinyWorldCaption.Parse("a red circle moving left on a black background"), 1);
        TinyWorldReport report = Evaluator.Evaluate(
        [
            (TinyWorldCaption.Parse("a red circle moving left on a black background"), video),
            (TinyWorldCaption.Parse("a blue circle moving left on a black background"), video),
            (TinyWorldCaption.Parse("a red square moving right on a black background"), video),
            (TinyWorldCaption.Parse("a red circle moving left on a gray background"), video),
        ]);
        Assert.Equal(0.75, report.ColourAccuracy);
        Assert.Equal(0.75, report.ShapeAccuracy);
        Assert.Equal(0.75, report.MotionAccuracy);
        Assert.Equal(0.75, report.BackgroundAccuracy);
        Assert.Equal(0.25, report.AllCorrectAccuracy);
        Assert.Equal(TemporalFlickering.Score(video)!.Value, report.TemporalFlickering, 12);
        Assert.Matches(@"^colour_acc=0\.7500 shape_acc=0\.7500 motion_acc=0\.7500 flicker=0\.\d{4}$", report.SummaryLine);
        Assert.Contains("colour red ✗", report.Verdicts[1].ToString(), StringComparison.Ordinal);
        Assert.Contains("motion left ✗", report.Verdicts[2].ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a yellow square moving up on a gray background")]
    [InlineData("a white triangle moving right on a black background")]
    public void Judged_against_every_caption_only_its_own_is_all_right(string text)
    {
        TinyWorldCaption truth = TinyWorldCaption.Parse(text);
        Video video = Renderer.Render(truth, 12);
        TinyWorldReport report = Evaluator.Evaluate(TinyWorldCaption.All.Select(c => (c, video)).ToList());
        Assert.Equal(truth, report.Verdicts.Single(v => v.AllCorrect).Prompt);
        Assert.Equal(24, report.Verdicts.Count(v => v.ColourCorrect));     // 144 / 6 colours
        Assert.Equal(48, report.Verdicts.Count(v => v.ShapeCorrect));      // 144 / 3 shapes
        Assert.Equal(36, report.Verdicts.Count(v => v.MotionCorrect));     // 144 / 4 motions
        Assert.Equal(72, report.Verdicts.Count(v => v.BackgroundCorrect)); // 144 / 2 backgrounds
    }

    [Fact]
    public void An_empty_video_is_a_miss_not_a_crash()
    {
        TinyWorldCaption prompt = TinyWorldCaption.Parse("a white square moving down on a black background");
        TinyWorldVerdict verdict = Evaluator.Judge(prompt, Uniform(16, 64, 64, new Rgb(0, 0, 0)));
        Assert.Equal(0, verdict.Observation.FramesWithObject);
        Assert.Null(verdict.Observation.Colour);
        Assert.Null(verdict.Observation.Shape);
        Assert.Null(verdict.Observation.Motion);
        Assert.True(verdict.BackgroundCorrect);
        Assert.False(verdict.ColourCorrect || verdict.ShapeCorrect || verdict.MotionCorrect);
        Assert.Equal(1.0, verdict.TemporalFlickering);
        Assert.Contains("colour none ✗", verdict.ToString(), StringComparison.Ordinal);
        Assert.All(verdict.Observation.Frames, f => Assert.True(double.IsNaN(f.FillRatio)));
    }

    [Fact]
    public void Degenerate_videos_never_throw()
    {
        TinyWorldCaption prompt = TinyWorldCaption.All[0];
        var rng = new Random(3);
        byte[] noise = new byte[16 * 64 * 64 * 3];
        rng.NextBytes(noise);
        Video[] videos =
        [
            Uniform(1, 1, 1, new Rgb(255, 0, 0)),
            Uniform(2, 2, 2, new Rgb(128, 128, 128)),
            Uniform(1, 64, 64, new Rgb(128, 128, 128)),
            Renderer.RenderFrame(prompt, 0, 0),                     // one frame: colour and shape need 2 frames, no flicker score
            new Video(noise, 16, 64, 64),                           // pure noise
            Uniform(16, 64, 64, TinyWorldPalette.Of(TinyWorldColour.Red)), // the whole frame is "red": object is the background
            Uniform(3, 5, 300, new Rgb(10, 200, 30)),                // thin and wide
        ];
        TinyWorldReport report = Evaluator.Evaluate(videos.Select(v => (prompt, v)).ToList());
        Assert.Equal(videos.Length, report.Count);
        Assert.InRange(report.ColourAccuracy, 0, 1);
        Assert.Null(report.Verdicts[3].TemporalFlickering);
        Assert.Null(report.Verdicts[3].Observation.Colour);
        Assert.Null(report.Verdicts[0].Observation.Motion);
    }

    [Fact]
    public void A_still_object_has_no_motion()
    {
        TinyWorldCaption caption = TinyWorldCaption.Parse("a green square moving right on a gray background");
        Video frame = Renderer.RenderFrame(caption, 2, 7);
        byte[] still = Enumerable.Repeat(frame.Pixels.ToArray(), 16).SelectMany(b => b).ToArray();
        TinyWorldObservation o = Evaluator.Observe(new Video(still, 16, 64, 64));
        Assert.Equal((TinyWorldColour?)TinyWorldColour.Green, o.Colour);
        Assert.Equal((TinyWorldShape?)TinyWorldShape.Square, o.Shape);
        Assert.Null(o.Motion);
        Assert.Equal(0, o.DisplacementX, 6);
    }

    [Fact]
    public void A_reversed_clip_moves_the_other_way()
    {
        TinyWorldCaption caption = TinyWorldCaption.Parse("a blue circle moving down on a black background");
        Video clip = Renderer.Render(caption, 6);
        byte[] reversed = Enumerable.Range(0, 16).Reverse().SelectMany(f => clip.GetFramePixels(f).ToArray()).ToArray();
        Assert.Equal((TinyWorldMotion?)TinyWorldMotion.Up, Evaluator.Observe(new Video(reversed, 16, 64, 64)).Motion);
    }

    [Fact]
    public void Frames_without_the_object_are_skipped()
    {
        TinyWorldCaption caption = TinyWorldCaption.Parse("a yellow triangle moving left on a black background");
        Video clip = Renderer.Render(caption, 4);
        byte[] pixels = clip.Pixels.ToArray();
        Array.Clear(pixels, 5 * 64 * 64 * 3, 6 * 64 * 64 * 3); // frames 5..10 black
        TinyWorldObservation o = Evaluator.Observe(new Video(pixels, 16, 64, 64));
        Assert.Equal(10, o.FramesWithObject);
        Assert.Equal((TinyWorldShape?)TinyWorldShape.Triangle, o.Shape);
        Assert.Equal((TinyWorldMotion?)TinyWorldMotion.Left, o.Motion);
    }

    [Fact]
    public void A_tensor_is_observed_like_its_video()
    {
        using var scope = NewDisposeScope();
        TinyWorldCaption caption = TinyWorldCaption.Parse("a white circle moving right on a gray background");
        TinyWorldObservation fromVideo = Evaluator.Observe(Renderer.Render(caption, 0));
        TinyWorldObservation fromTensor = Evaluator.Observe(Renderer.RenderTensor(caption, 0));
        Assert.Equal(fromVideo.Colour, fromTensor.Colour);
        Assert.Equal(fromVideo.Shape, fromTensor.Shape);
        Assert.Equal(fromVideo.Motion, fromTensor.Motion);
        Assert.Equal(fromVideo.DisplacementX, fromTensor.DisplacementX);
    }

    [Fact]
    public void Bad_options_and_null_samples_are_rejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TinyWorldEvaluator(new TinyWorldEvaluatorOptions { MinFramesWithObject = 1 }));
        Assert.Contains("MinFramesWithObject", e.Message, StringComparison.Ordinal);
        var n = Assert.Throws<ArgumentNullException>(() => Evaluator.Evaluate([(TinyWorldCaption.All[0], null!)]));
        Assert.Contains("Sample 0", n.Message, StringComparison.Ordinal);
        Assert.True(double.IsNaN(Evaluator.Evaluate([]).ColourAccuracy));
    }
}
