using Vchitect.Core.Media;
using Xunit;

namespace Vchitect.Evaluation.Tests;

public sealed class TemporalFlickeringTests
{
    private static Video Frames(int height, int width, params byte[][] frames) =>
        new(frames.SelectMany(f => f).ToArray(), frames.Length, height, width);

    private static byte[] Fill(int count, byte value) => Enumerable.Repeat(value, count).ToArray();

    [Fact]
    public void A_constant_video_scores_exactly_one()
    {
        byte[] frame = [10, 20, 30, 200, 100, 0];
        Assert.Equal(1.0, TemporalFlickering.Score(Frames(1, 2, frame, frame, frame, frame)));
    }

    [Fact]
    public void Frames_alternating_between_black_and_white_score_zero()
    {
        Assert.Equal(0.0, TemporalFlickering.Score(Frames(2, 2, Fill(12, 0), Fill(12, 255), Fill(12, 0))));
    }

    [Fact]
    public void Frames_alternating_between_0_and_51_score_204_over_255()
    {
        // Every pair differs by 51 everywhere: MAE 51, score (255 − 51) / 255 = 0.8.
        double? score = TemporalFlickering.Score(Frames(3, 3, Fill(27, 0), Fill(27, 51), Fill(27, 0), Fill(27, 51)));
        Assert.Equal(204.0 / 255.0, score!.Value, 15);
    }

    [Fact]
    public void The_score_averages_the_per_pair_MAE()
    {
        // One 1×2 frame (6 values) and two changes:
        // pair 1: |10−13| + |20−20| + |30−25| + |40−40| + |50−56| + |60−60| = 3 + 0 + 5 + 0 + 6 + 0 = 14 → MAE 14/6
        // pair 2: |13−13| + |20−8| + |25−25| + |40−40| + |56−56| + |60−70| = 0 + 12 + 0 + 0 + 0 + 10 = 22 → MAE 22/6
        // mean MAE = (14/6 + 22/6) / 2 = 3; score = (255 − 3) / 255 = 252/255.
        byte[] f0 = [10, 20, 30, 40, 50, 60];
        byte[] f1 = [13, 20, 25, 40, 56, 60];
        byte[] f2 = [13, 8, 25, 40, 56, 70];
        Assert.Equal(14.0 / 6, TemporalFlickering.MeanAbsoluteError(f0, f1), 15);
        Assert.Equal(252.0 / 255.0, TemporalFlickering.Score(Frames(1, 2, f0, f1, f2))!.Value, 15);
    }

    [Fact]
    public void A_single_frame_has_no_score_and_the_mean_skips_it()
    {
        Video single = Frames(1, 1, [1, 2, 3]);
        Assert.Null(TemporalFlickering.Score(single));
        Video constant = Frames(1, 1, [1, 2, 3], [1, 2, 3]);
        Video half = Frames(1, 1, [0, 0, 0], [255, 255, 255], [255, 255, 255]); // MAEs 255 and 0 → mean 127.5 → 0.5
        Assert.Equal(0.75, TemporalFlickering.Mean([single, constant, half])!.Value, 15);
        Assert.Null(TemporalFlickering.Mean([single]));
    }

    [Fact]
    public void Frames_of_different_length_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => TemporalFlickering.MeanAbsoluteError(new byte[3], new byte[6]));
        Assert.Throws<ArgumentNullException>(() => TemporalFlickering.Score(null!));
    }
}
