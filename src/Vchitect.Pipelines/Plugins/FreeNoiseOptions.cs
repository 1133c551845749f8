using Vchitect.Models.Blocks;

namespace Vchitect.Pipelines.Plugins;

/// <summary>How FreeNoise prepares the initial noise of a long clip (diffusers' <c>noise_type</c>).</summary>
public enum NoiseRescheduling
{
    /// <summary>
    /// diffusers' <c>shuffle_context</c>, FreeNoise's noise rescheduling: for every block start p = W, W + S, … &lt; F, the
    /// S frames [p − W, p − W + S) are shuffled and copied into [p, p + S) (a last, shorter block takes a prefix of the
    /// shuffle), in order, so every frame's noise is a copy of one of the first W frames. The default.
    /// </summary>
    ShuffleContext,

    /// <summary>
    /// The first W frames' noise tiled over the clip (what diffusers' <c>repeat_context</c> describes; its code, because of
    /// a comparison with the wrong field, leaves the noise as drawn).
    /// </summary>
    RepeatContext,

    /// <summary>diffusers' <c>random</c>: the noise as drawn, only the window fusion is applied.</summary>
    Random,
}

/// <summary>
/// Options of <see cref="FreeNoise"/>: window fusion of the temporal attention plus noise rescheduling, with the
/// published defaults (window 16, stride 4, pyramid weights, <c>shuffle_context</c>).
/// </summary>
public sealed record FreeNoiseOptions
{
    /// <summary>Frames per window W, normally the model's training length; default 16 (LaVie), at least 1.</summary>
    public int WindowSize { get; init; } = 16;

    /// <summary>Frames between window starts S; default 4, 1 … <see cref="WindowSize"/>.</summary>
    public int Stride { get; init; } = 4;

    /// <summary>Per-frame weights when windows are averaged; default <see cref="WindowWeighting.Pyramid"/> (the paper's and FreeNoise-LaVie's).</summary>
    public WindowWeighting Weighting { get; init; } = WindowWeighting.Pyramid;

    /// <summary>
    /// How the frames after the last regular window are covered; default <see cref="WindowTail.ExtraWindow"/> (a window
    /// [F − W, F) averaged like the others). FreeNoise-LaVie has no tail window (uncovered frames become 0), so pick F with
    /// (F − W) divisible by S there; diffusers' variant is <see cref="WindowTail.ExtraWindowDiffusers"/>.
    /// </summary>
    public WindowTail Tail { get; init; } = WindowTail.ExtraWindow;

    /// <summary>How the initial noise is rescheduled; default <see cref="NoiseRescheduling.ShuffleContext"/>.</summary>
    public NoiseRescheduling Noise { get; init; } = NoiseRescheduling.ShuffleContext;

    /// <summary>
    /// Seed of the shuffles of <see cref="NoiseRescheduling.ShuffleContext"/>; null (the default) draws them from the
    /// generation's generator (<see cref="SamplingContext.Generator"/>, seeded by the pipeline's seed), after the
    /// initial noise, as diffusers does with its pipeline generator.
    /// </summary>
    public long? ShuffleSeed { get; init; }

    /// <summary>
    /// Multi-prompt generation: key frames and their prompts, e.g. { [0] = "a cat sitting", [40] = "a cat running" }.
    /// Frame 0 must be a key. Between two key frames the text embeddings are interpolated linearly (both ends included);
    /// after the last key its prompt holds (diffusers' <c>prompt</c> dictionary). The schedule replaces the text
    /// conditioning of every batch row (the prompt given to <c>Generate</c> is not used for the conditional branch);
    /// the negative prompt is used for every frame. Needs the prompt encoder given to <see cref="FreeNoise"/>. Null (the
    /// default): one prompt for all frames.
    /// </summary>
    public IReadOnlyDictionary<int, string>? FramePrompts { get; init; }

    /// <summary>The window fusion these options describe, as the model takes it.</summary>
    public TemporalWindowing Windowing => new() { WindowSize = WindowSize, Stride = Stride, Weighting = Weighting, Tail = Tail };

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the message names it.</exception>
    public void Validate()
    {
        if (WindowSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(WindowSize), WindowSize, "FreeNoiseOptions.WindowSize must be at least 1.");
        }

        if (Stride < 1 || Stride > WindowSize)
        {
            throw new ArgumentOutOfRangeException(nameof(Stride), Stride, $"FreeNoiseOptions.Stride must be 1 … WindowSize ({WindowSize}).");
        }

        if (!Enum.IsDefined(Noise))
        {
            throw new ArgumentOutOfRangeException(nameof(Noise), Noise, "FreeNoiseOptions.Noise is not a defined NoiseRescheduling.");
        }

        Windowing.Validate();
        if (FramePrompts is { } prompts)
        {
            if (prompts.Count == 0 || !prompts.ContainsKey(0))
            {
                throw new ArgumentOutOfRangeException(nameof(FramePrompts), $"FreeNoiseOptions.FramePrompts must have a prompt for frame 0; got frames [{string.Join(", ", prompts.Keys.Order())}].");
            }

            if (prompts.Keys.Any(k => k < 0))
            {
                throw new ArgumentOutOfRangeException(nameof(FramePrompts), $"FreeNoiseOptions.FramePrompts has negative frames [{string.Join(", ", prompts.Keys.Where(k => k < 0))}].");
            }

            if (prompts.Values.Any(v => v is null))
            {
                throw new ArgumentOutOfRangeException(nameof(FramePrompts), "FreeNoiseOptions.FramePrompts has a null prompt.");
            }
        }
    }
}
