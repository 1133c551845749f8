using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>Per-frame weights used when <see cref="TemporalWindowing"/> averages overlapping windows.</summary>
public enum WindowWeighting
{
    /// <summary>
    /// [1, 2, …, W/2, W/2, …, 2, 1] (odd W: 1 … ⌈W/2⌉ … 1): FreeNoise's Eq. 9, FreeNoise-LaVie's
    /// <c>generate_weight_sequence</c> and diffusers' default.
    /// </summary>
    Pyramid,

    /// <summary>All ones: a plain mean of the windows covering a frame.</summary>
    Flat,

    /// <summary>
    /// diffusers' <c>delayed_reverse_sawtooth</c>: even W: [0.01 × (W/2 − 1), W/2, W/2, W/2 − 1, …, 1]; odd W:
    /// [0.01 × (⌈W/2⌉ − 1), ⌈W/2⌉, …, 1] (W values; diffusers builds W + 1 values there and cannot run them).
    /// </summary>
    DelayedReverseSawtooth,
}

/// <summary>What happens to the last frames when the regular windows [i·S, i·S + W) do not reach the end of the clip.</summary>
public enum WindowTail
{
    /// <summary>
    /// Appends the window [F − W, F) and accumulates all its frames with their weights, like every other window, so each
    /// frame is the weighted mean of the windows covering it. The default.
    /// </summary>
    ExtraWindow,

    /// <summary>
    /// diffusers' <c>FreeNoiseTransformerBlock</c>, reproduced for parity: appends [F − W, F) but accumulates only the
    /// n trailing frames no regular window covered, and adds the single weight <c>w[W − n]</c> to each of their counts
    /// (so with pyramid weights the very last frame is scaled by w[W − 1] / w[W − n], e.g. halved).
    /// </summary>
    ExtraWindowDiffusers,

    /// <summary>
    /// FreeNoise-LaVie's <c>get_views</c>, reproduced for parity: no extra window; frames no window covers come out as 0.
    /// Use it only with (F − W) divisible by S.
    /// </summary>
    Uncovered,
}

/// <summary>
/// FreeNoise's window-based fusion (Qiu et al. 2023, "FreeNoise: Tuning-Free Longer Video Diffusion via Noise
/// Rescheduling"): a temporal operation is evaluated independently on windows of <see cref="WindowSize"/> frames, starting
/// every <see cref="Stride"/> frames (positions restart at 0 inside a window), and each frame's outputs are averaged
/// with per-frame weights. Set it on <c>UNet3DConditionModel.TemporalWindowing</c> (or on one
/// <see cref="BasicTransformerBlock"/>) to make LaVie's temporal attention windowed.
/// </summary>
/// <remarks>
/// Windows: starts 0, S, 2S, … while start + W ≤ F (FreeNoise-LaVie's <c>get_views</c>; diffusers'
/// <c>_get_frame_indices</c>), then <see cref="Tail"/> decides the frames after the last one. A clip of F ≤ W frames
/// is one window: the operation runs once on all frames, exactly as without windowing (the FreeNoise-LaVie reference
/// returns zeros for F &lt; W; that is not reproduced).
/// </remarks>
public sealed record TemporalWindowing
{
    /// <summary>Frames per window W (the model's training length); default 16, at least 1.</summary>
    public int WindowSize { get; init; } = 16;

    /// <summary>Frames between window starts S; default 4, 1 … <see cref="WindowSize"/>.</summary>
    public int Stride { get; init; } = 4;

    /// <summary>Per-frame weights inside a window; default <see cref="WindowWeighting.Pyramid"/>.</summary>
    public WindowWeighting Weighting { get; init; } = WindowWeighting.Pyramid;

    /// <summary>How the frames after the last regular window are covered; default <see cref="WindowTail.ExtraWindow"/>.</summary>
    public WindowTail Tail { get; init; } = WindowTail.ExtraWindow;

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range or an enum value is undefined; the message names it.</exception>
    public void Validate()
    {
        if (WindowSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(WindowSize), WindowSize, "TemporalWindowing.WindowSize must be at least 1.");
        }

        if (Stride < 1 || Stride > WindowSize)
        {
            throw new ArgumentOutOfRangeException(nameof(Stride), Stride, $"TemporalWindowing.Stride must be 1 … WindowSize ({WindowSize}) so that windows overlap or touch.");
        }

        if (!Enum.IsDefined(Weighting))
        {
            throw new ArgumentOutOfRangeException(nameof(Weighting), Weighting, "TemporalWindowing.Weighting is not a defined WindowWeighting.");
        }

        if (!Enum.IsDefined(Tail))
        {
            throw new ArgumentOutOfRangeException(nameof(Tail), Tail, "TemporalWindowing.Tail is not a defined WindowTail.");
        }
    }

    /// <summary>
    /// The regular windows for <paramref name="frames"/> frames: (start, end) for start = 0, S, 2S, … while start + W ≤ F
    /// (FreeNoise-LaVie's <c>get_views</c>). Empty when F &lt; W. <see cref="Tail"/> is not applied here; see
    /// <see cref="Windows"/>.
    /// </summary>
    /// <param name="frames">F, at least 0.</param>
    public IReadOnlyList<(int Start, int End)> RegularWindows(int frames)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frames);
        var views = new List<(int, int)>();
        for (int start = 0; start + WindowSize <= frames; start += Stride)
        {
            views.Add((start, start + WindowSize));
        }

        return views;
    }

    /// <summary>
    /// Every window used for <paramref name="frames"/> frames: the regular ones, plus [F − W, F) when they do not reach
    /// F and <see cref="Tail"/> is not <see cref="WindowTail.Uncovered"/>. A single (0, F) when F ≤ W.
    /// </summary>
    /// <param name="frames">F, at least 1.</param>
    public IReadOnlyList<(int Start, int End)> Windows(int frames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        if (frames <= WindowSize)
        {
            return [(0, frames)];
        }

        var views = RegularWindows(frames).ToList();
        if (views[^1].End != frames && Tail != WindowTail.Uncovered)
        {
            views.Add((frames - WindowSize, frames));
        }

        return views;
    }

    /// <summary>The per-frame weights of a window of <paramref name="length"/> frames under <paramref name="weighting"/>.</summary>
    /// <param name="length">Window length, at least 1.</param>
    /// <param name="weighting">The scheme.</param>
    /// <returns><paramref name="length"/> weights, all positive.</returns>
    public static double[] Weights(int length, WindowWeighting weighting)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        var w = new double[length];
        switch (weighting)
        {
            case WindowWeighting.Flat:
                Array.Fill(w, 1.0);
                break;
            case WindowWeighting.Pyramid:
                // generate_weight_sequence / _get_frame_weights("pyramid"): 1..mid, then mirrored
                for (int i = 0; i < length; i++)
                {
                    w[i] = Math.Min(i + 1, length - i);
                }

                break;
            case WindowWeighting.DelayedReverseSawtooth:
            {
                // _get_frame_weights("delayed_reverse_sawtooth"): 0.01 for the first half, then mid, mid-1, ..., 1
                int mid = (length + 1) / 2;
                int i = 0;
                for (; i < mid - 1; i++)
                {
                    w[i] = 0.01;
                }

                if (length % 2 == 0)
                {
                    w[i++] = mid;
                }

                for (int v = mid; i < length; i++, v--)
                {
                    w[i] = v;
                }

                break;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(weighting), weighting, "Unknown WindowWeighting.");
        }

        return w;
    }

    /// <summary>
    /// Runs <paramref name="perWindow"/> on every window of <paramref name="x"/>'s frame axis (axis 1) and fuses the
    /// results: out_f = Σ_windows w_(f − start)·y_f / Σ w (see <see cref="Tail"/> for the frames after the last
    /// regular window). With a single window the operation runs once on all frames and its result is returned as is.
    /// </summary>
    /// <param name="x">(N, F, …): the tensor whose frame slices are handed to <paramref name="perWindow"/>.</param>
    /// <param name="perWindow">The operation on one window (N, w, …) → (N, w, …); it must not dispose its input.</param>
    /// <returns>The fused result (N, F, …), in <paramref name="x"/>'s dtype, owned by the caller.</returns>
    /// <exception cref="ArgumentException"><paramref name="x"/> has fewer than 2 dimensions, or a window's result has another shape.</exception>
    public Tensor Fuse(Tensor x, Func<Tensor, Tensor> perWindow)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(perWindow);
        Validate();
        if (x.ndim < 2)
        {
            throw new ArgumentException($"TemporalWindowing.Fuse needs (N, F, …) with frames on axis 1; got [{string.Join(", ", x.shape)}].", nameof(x));
        }

        int frames = checked((int)x.shape[1]);
        var windows = Windows(frames);
        if (windows.Count == 1 && windows[0] == (0, frames))
        {
            return perWindow(x);
        }

        // FreeNoise-LaVie BasicTransformerBlock.forward (local_window) / diffusers FreeNoiseTransformerBlock.forward
        using var scope = NewDisposeScope();
        var weightShape = new long[x.ndim];
        Array.Fill(weightShape, 1L);
        weightShape[1] = WindowSize;
        var weights = tensor(Weights(WindowSize, Weighting), ScalarType.Float64).to(x.dtype, x.device).reshape(weightShape);
        var value = zeros_like(x);
        weightShape[1] = frames;
        var count = zeros(weightShape, x.dtype, x.device);
        int regular = RegularWindows(frames).Count;
        for (int i = 0; i < windows.Count; i++)
        {
            var (start, end) = windows[i];
            using var windowScope = NewDisposeScope();
            var window = x.narrow(1, start, end - start);
            var y = perWindow(window);
            if (!y.shape.SequenceEqual(window.shape))
            {
                throw new ArgumentException($"The windowed operation returned [{string.Join(", ", y.shape)}] for a window of [{string.Join(", ", window.shape)}].", nameof(perWindow));
            }

            if (i >= regular && Tail == WindowTail.ExtraWindowDiffusers)
            {
                // only the frames no regular window covered; their count gets the single weight w[W - n]
                int n = frames - windows[regular - 1].End;
                var wTail = weights.narrow(1, WindowSize - n, n);
                value.narrow(1, frames - n, n).add_(y.narrow(1, WindowSize - n, n) * wTail);
                count.narrow(1, frames - n, n).add_(weights.narrow(1, WindowSize - n, 1));
            }
            else
            {
                value.narrow(1, start, end - start).add_(y * weights);
                count.narrow(1, start, end - start).add_(weights);
            }
        }

        var fused = where(count > 0, value / count, value);
        return fused.MoveToOuterDisposeScope();
    }
}
