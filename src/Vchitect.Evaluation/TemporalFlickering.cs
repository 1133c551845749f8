using Vchitect.Core.Media;

namespace Vchitect.Evaluation;

/// <summary>
/// VBench's temporal flickering score (dimension 3, weight-free): for a video of frames f_0 … f_{T−1} with 8-bit
/// values, the mean absolute error of each consecutive pair, MAE_i = mean over H · W · 3 of |f_i − f_{i+1}|, averaged over
/// the T − 1 pairs, then mapped to (255 − mean MAE) / 255. 1 means no change between frames; 0 means every value jumps
/// between 0 and 255 on every frame.
/// </summary>
/// <remarks>
/// VBench computes each MAE in float32 with NumPy; here the absolute differences are summed exactly as integers and
/// divided in double precision, which is the exact value of the formula (the two agree to about 1e-7). VBench scores
/// only videos that passed its RAFT static filter; this class scores any video it is given and leaves the filtering to
/// the caller. A video of one frame has no pair and no score.
/// </remarks>
public static class TemporalFlickering
{
    /// <summary>The mean absolute difference of two frames of 8-bit values, over all their values.</summary>
    /// <param name="a">One frame, laid out as (H, W, 3) bytes (any layout works if both agree).</param>
    /// <param name="b">The other frame, the same length.</param>
    /// <returns>The MAE in 0–255 units.</returns>
    /// <exception cref="ArgumentException">The frames differ in length or are empty.</exception>
    public static double MeanAbsoluteError(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length || a.Length == 0)
        {
            throw new ArgumentException($"The frames must be non-empty and the same length; got {a.Length} and {b.Length} bytes.", nameof(b));
        }

        long sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += Math.Abs(a[i] - b[i]);
        }

        return sum / (double)a.Length;
    }

    /// <summary>The temporal flickering score of one video: (255 − mean over consecutive pairs of their MAE) / 255.</summary>
    /// <param name="video">The video.</param>
    /// <returns>The score in [0, 1], or null when the video has fewer than 2 frames (VBench gets NaN there).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="video"/> is null.</exception>
    public static double? Score(Video video)
    {
        ArgumentNullException.ThrowIfNull(video);
        if (video.FrameCount < 2)
        {
            return null;
        }

        double total = 0;
        for (int i = 0; i + 1 < video.FrameCount; i++)
        {
            total += MeanAbsoluteError(video.GetFramePixels(i).Span, video.GetFramePixels(i + 1).Span);
        }

        double meanMae = total / (video.FrameCount - 1);
        return (255.0 - meanMae) / 255.0;
    }

    /// <summary>VBench's aggregate: the mean of <see cref="Score"/> over the videos that have a score.</summary>
    /// <param name="videos">The videos.</param>
    /// <returns>The mean score, or null when no video has at least 2 frames.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="videos"/> or one of its videos is null.</exception>
    public static double? Mean(IEnumerable<Video> videos)
    {
        ArgumentNullException.ThrowIfNull(videos);
        double sum = 0;
        int count = 0;
        foreach (Video video in videos)
        {
            if (Score(video ?? throw new ArgumentNullException(nameof(videos), "A video of the list is null.")) is double s)
            {
                sum += s;
                count++;
            }
        }

        return count == 0 ? null : sum / count;
    }
}
