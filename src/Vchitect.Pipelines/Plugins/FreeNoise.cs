using Vchitect.Core;
using Vchitect.Models.Blocks;
using Vchitect.Models.Denoising;
using Vchitect.Models.UNets;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Plugins;

/// <summary>
/// FreeNoise (Qiu et al. 2023, "FreeNoise: Tuning-Free Longer Video Diffusion via Noise Rescheduling"): longer videos
/// from a model trained on short clips. Two parts, both training-free:
/// <list type="bullet">
/// <item><description>the sampler is wrapped so that the initial noise is rescheduled (<see cref="FreeNoiseOptions.Noise"/>):
/// every frame's noise is a shuffled copy of one of the first W frames (long-range correlation, local variety);</description></item>
/// <item><description>the denoiser is wrapped so that, during each prediction, the UNet's temporal attentions run on
/// windows of W frames every S frames and the windows are averaged per frame
/// (<see cref="UNet3DConditionModel.TemporalWindowing"/>), then switched off again.</description></item>
/// </list>
/// </summary>
/// <remarks>
/// <para>Apply it with <c>pipe.Use(new FreeNoise())</c>. It needs a LaVie-style UNet under the denoiser
/// (<see cref="UNet3DDenoiser"/>). With FreeInit, apply FreeNoise after it (<c>.Use(new FreeInit(…)).Use(new FreeNoise())</c>,
/// the last one outermost) so that FreeInit's re-noising starts from the rescheduled noise.</para>
/// <para>References: arthur-qiu/FreeNoise-LaVie <c>base/models/attention.py</c> (window fusion around LaVie's
/// <c>attn_temp</c>, residual included) and <c>base/pipelines/pipeline_videogen.py</c> (noise rescheduling); diffusers
/// <c>pipelines/free_noise_utils.py</c> (<c>shuffle_context</c>, tail window, weighting schemes).</para>
/// </remarks>
/// <example>
/// <code>
/// using var pipe = LaVieVideoPipeline.FromPretrained("models/lavie");
/// pipe.Use(new FreeNoise(new FreeNoiseOptions { WindowSize = 16, Stride = 4 }));
/// Video video = pipe.Generate("a red ball bouncing on grass", new LaVieOptions { Frames = 64, Seed = 7 });
/// </code>
/// </example>
public sealed class FreeNoise : IPipelinePlugin
{
    /// <summary>Creates the plugin.</summary>
    /// <param name="options">The options; null for the published defaults.</param>
    /// <param name="promptEncoder">Encodes <see cref="FreeNoiseOptions.FramePrompts"/> (the pipeline's own encoder, e.g.
    /// <see cref="ClipPromptEncoder.FromPretrained"/> of the model folder); needed only with a prompt schedule. Not disposed
    /// by the plugin.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="ArgumentException">A prompt schedule is given without a prompt encoder.</exception>
    public FreeNoise(FreeNoiseOptions? options = null, IPromptEncoder? promptEncoder = null)
    {
        Options = options ?? new FreeNoiseOptions();
        Options.Validate();
        if (Options.FramePrompts is not null && promptEncoder is null)
        {
            throw new ArgumentException("FreeNoiseOptions.FramePrompts needs a prompt encoder: pass the pipeline's IPromptEncoder to FreeNoise.", nameof(promptEncoder));
        }

        PromptEncoder = promptEncoder;
    }

    /// <summary>The options.</summary>
    public FreeNoiseOptions Options { get; }

    /// <summary>The encoder of the prompt schedule, or null.</summary>
    public IPromptEncoder? PromptEncoder { get; }

    /// <inheritdoc/>
    /// <exception cref="NotSupportedException">No <see cref="UNet3DDenoiser"/> is found under <paramref name="inner"/>.</exception>
    public IVideoDenoiser WrapDenoiser(IVideoDenoiser inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        return new FreeNoiseDenoiser(inner, Options.Windowing);
    }

    /// <inheritdoc/>
    public IVideoSampler WrapSampler(IVideoSampler inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        return new FreeNoiseSampler(inner, Options, PromptEncoder);
    }

    /// <summary>
    /// Draws the shuffles of <see cref="NoiseRescheduling.ShuffleContext"/> for a clip of <paramref name="frames"/> frames:
    /// for each block start p = W, W + S, … &lt; F, a uniform permutation (<c>torch.randperm(S, generator)</c>, as
    /// diffusers draws it) of the source frames [p − W, p − W + S), cut to the block's length min(S, F − p).
    /// </summary>
    /// <param name="frames">F, at least 1.</param>
    /// <param name="windowSize">W, at least 1.</param>
    /// <param name="stride">S, 1 … W.</param>
    /// <param name="generator">The generator; null for the global one.</param>
    /// <returns>One array of absolute source frame indices per block, in order.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    public static IReadOnlyList<long[]> DrawShuffles(int frames, int windowSize, int stride, Generator? generator)
    {
        CheckSizes(frames, windowSize, stride);
        var shuffles = new List<long[]>();
        for (int p = windowSize; p < frames; p += stride)
        {
            using var perm = randperm(stride, generator: generator, dtype: ScalarType.Int64, device: CPU);
            var order = perm.data<long>().ToArray();
            int length = Math.Min(stride, frames - p);
            var sources = new long[length];
            for (int j = 0; j < length; j++)
            {
                sources[j] = p - windowSize + order[j];
            }

            shuffles.Add(sources);
        }

        return shuffles;
    }

    /// <summary>
    /// FreeNoise's noise rescheduling: for each block start p = W, W + S, … &lt; F (k-th block), copies the frames
    /// <paramref name="shuffles"/>[k] into frames [p, p + n), n = min(S, F − p), in order, so later blocks copy frames that
    /// were already rescheduled (FreeNoise-LaVie <c>prepare_latents</c>; diffusers <c>_prepare_latents_free_noise</c>).
    /// </summary>
    /// <param name="noise">The drawn noise (B, C, F, h, w); not modified.</param>
    /// <param name="windowSize">W, at least 1.</param>
    /// <param name="stride">S, 1 … W.</param>
    /// <param name="shuffles">One array per block: its first n entries are distinct frames of [p − W, p − W + S); further
    /// entries (e.g. −1 padding) are ignored. <see cref="DrawShuffles"/> makes them.</param>
    /// <returns>The rescheduled noise, a new tensor owned by the caller.</returns>
    /// <exception cref="ArgumentException">The noise is not 5-D, or the shuffles do not match the blocks; the message says which.</exception>
    public static Tensor RescheduleNoise(Tensor noise, int windowSize, int stride, IReadOnlyList<long[]> shuffles)
    {
        ArgumentNullException.ThrowIfNull(noise);
        ArgumentNullException.ThrowIfNull(shuffles);
        RequireVideo(noise);
        int frames = checked((int)noise.shape[2]);
        CheckSizes(frames, windowSize, stride);
        int blocks = frames > windowSize ? ((frames - windowSize - 1) / stride) + 1 : 0;
        if (shuffles.Count != blocks)
        {
            throw new ArgumentException($"{frames} frames with window {windowSize} and stride {stride} have {blocks} blocks to reschedule; got {shuffles.Count} shuffles.", nameof(shuffles));
        }

        using var scope = NewDisposeScope();
        var result = noise.clone();
        for (int k = 0; k < blocks; k++)
        {
            int p = windowSize + (k * stride);
            int n = Math.Min(stride, frames - p);
            var sources = shuffles[k] ?? throw new ArgumentException($"shuffles[{k}] is null.", nameof(shuffles));
            if (sources.Length < n)
            {
                throw new ArgumentException($"shuffles[{k}] has {sources.Length} entries; block {k} (frames {p}…{p + n - 1}) needs {n}.", nameof(shuffles));
            }

            var used = sources[..n];
            if (used.Distinct().Count() != n || used.Any(s => s < p - windowSize || s >= p - windowSize + stride))
            {
                throw new ArgumentException($"shuffles[{k}] = [{string.Join(", ", used)}] must be {n} distinct frames of {p - windowSize}…{p - windowSize + stride - 1}.", nameof(shuffles));
            }

            var index = tensor(used, ScalarType.Int64).to(result.device);
            result.narrow(2, p, n).copy_(result.index_select(2, index));
        }

        return result.MoveToOuterDisposeScope();
    }

    /// <summary>The first <paramref name="windowSize"/> frames of <paramref name="noise"/> tiled over its F frames (<see cref="NoiseRescheduling.RepeatContext"/>).</summary>
    /// <param name="noise">The drawn noise (B, C, F, h, w); not modified.</param>
    /// <param name="windowSize">W, at least 1.</param>
    /// <returns>A new tensor owned by the caller: frame f is frame f mod W of <paramref name="noise"/>.</returns>
    /// <exception cref="ArgumentException">The noise is not 5-D.</exception>
    public static Tensor RepeatContext(Tensor noise, int windowSize)
    {
        ArgumentNullException.ThrowIfNull(noise);
        RequireVideo(noise);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        int frames = checked((int)noise.shape[2]);
        using var scope = NewDisposeScope();
        var index = arange(frames, ScalarType.Int64, CPU).remainder(windowSize).to(noise.device);
        return noise.index_select(2, index).MoveToOuterDisposeScope();
    }

    /// <summary>Applies <paramref name="mode"/> to the initial noise (see <see cref="NoiseRescheduling"/>).</summary>
    /// <param name="noise">The drawn noise (B, C, F, h, w); not modified.</param>
    /// <param name="options">Window size and stride.</param>
    /// <param name="mode">The rescheduling.</param>
    /// <param name="generator">Source of the shuffles; null for the global generator.</param>
    /// <returns>A new tensor owned by the caller (a copy for <see cref="NoiseRescheduling.Random"/>).</returns>
    public static Tensor Reschedule(Tensor noise, FreeNoiseOptions options, NoiseRescheduling mode, Generator? generator)
    {
        ArgumentNullException.ThrowIfNull(noise);
        ArgumentNullException.ThrowIfNull(options);
        RequireVideo(noise);
        int frames = checked((int)noise.shape[2]);
        return mode switch
        {
            NoiseRescheduling.ShuffleContext => RescheduleNoise(noise, options.WindowSize, options.Stride, DrawShuffles(frames, options.WindowSize, options.Stride, generator)),
            NoiseRescheduling.RepeatContext => RepeatContext(noise, options.WindowSize),
            NoiseRescheduling.Random => noise.clone(),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown NoiseRescheduling."),
        };
    }

    /// <summary>
    /// Per-frame text embeddings from key frames (diffusers' <c>_encode_prompt_free_noise</c> with its default linear
    /// interpolation): frames between two consecutive keys s &lt; e get (1 − α)·E_s + α·E_e with α = (f − s)/(e − s);
    /// frames after the last key get its embedding.
    /// </summary>
    /// <param name="keyFrames">The key frames, strictly increasing, starting at 0, all below <paramref name="frames"/>.</param>
    /// <param name="keyEmbeddings">One embedding per key frame, (K, L, D).</param>
    /// <param name="frames">F.</param>
    /// <returns>(F, L, D), a new tensor owned by the caller.</returns>
    /// <exception cref="ArgumentException">The keys are not increasing from 0, exceed the clip, or do not match the embeddings.</exception>
    public static Tensor InterpolatePrompts(IReadOnlyList<int> keyFrames, Tensor keyEmbeddings, int frames)
    {
        ArgumentNullException.ThrowIfNull(keyFrames);
        ArgumentNullException.ThrowIfNull(keyEmbeddings);
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        if (keyEmbeddings.ndim != 3 || keyEmbeddings.shape[0] != keyFrames.Count)
        {
            throw new ArgumentException($"keyEmbeddings must be ({keyFrames.Count}, L, D), one per key frame; got [{string.Join(", ", keyEmbeddings.shape)}].", nameof(keyEmbeddings));
        }

        if (keyFrames.Count == 0 || keyFrames[0] != 0 || keyFrames.Zip(keyFrames.Skip(1)).Any(p => p.Second <= p.First) || keyFrames[^1] >= frames)
        {
            throw new ArgumentException($"Key frames must increase strictly from 0 and stay below the {frames} frames; got [{string.Join(", ", keyFrames)}].", nameof(keyFrames));
        }

        using var scope = NewDisposeScope();
        var rows = new Tensor[frames];
        for (int k = 0; k < keyFrames.Count; k++)
        {
            int start = keyFrames[k];
            var from = keyEmbeddings[k];
            if (k + 1 == keyFrames.Count)
            {
                // after the last key its embedding holds, copied exactly (diffusers lerps it with itself)
                for (int f = start; f < frames; f++)
                {
                    rows[f] = from;
                }

                break;
            }

            int end = keyFrames[k + 1];
            var to = keyEmbeddings[k + 1];
            for (int f = start; f <= end; f++)
            {
                double alpha = (double)(f - start) / (end - start);
                rows[f] = ((1 - alpha) * from) + (alpha * to);
            }
        }

        return stack(rows).MoveToOuterDisposeScope();
    }

    private static void RequireVideo(Tensor noise)
    {
        if (noise.ndim != 5)
        {
            throw new ArgumentException($"FreeNoise reschedules video latents (B, C, F, h, w); got [{string.Join(", ", noise.shape)}].", nameof(noise));
        }
    }

    private static void CheckSizes(int frames, int windowSize, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        if (stride < 1 || stride > windowSize)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"The stride must be 1 … the window size ({windowSize}).");
        }
    }
}

/// <summary>
/// <see cref="FreeNoise"/>'s denoiser decorator: switches the UNet's <see cref="UNet3DConditionModel.TemporalWindowing"/>
/// on for each prediction and restores the previous value afterwards, even when the prediction throws.
/// </summary>
public sealed class FreeNoiseDenoiser : IVideoDenoiser
{
    private readonly UNet3DDenoiser _unet;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The denoiser; a <see cref="UNet3DDenoiser"/> must be found under it.</param>
    /// <param name="windowing">The window fusion to apply; validated.</param>
    /// <exception cref="NotSupportedException">No <see cref="UNet3DDenoiser"/> is found under <paramref name="inner"/>.</exception>
    public FreeNoiseDenoiser(IVideoDenoiser inner, TemporalWindowing windowing)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(windowing);
        windowing.Validate();
        Inner = inner;
        Windowing = windowing;
        _unet = inner.Find<UNet3DDenoiser>()
            ?? throw new NotSupportedException($"FreeNoise windows the temporal attention of a LaVie-style UNet; no UNet3DDenoiser was found under the denoiser {inner.GetType().Name}.");
    }

    /// <summary>The wrapped denoiser.</summary>
    public IVideoDenoiser Inner { get; }

    /// <summary>The window fusion switched on during predictions.</summary>
    public TemporalWindowing Windowing { get; }

    /// <inheritdoc/>
    public int InChannels => Inner.InChannels;

    /// <inheritdoc/>
    public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
    {
        var model = _unet.Model;
        var previous = model.TemporalWindowing;
        model.TemporalWindowing = Windowing;
        try
        {
            return Inner.Predict(latents, timestep, conditioning);
        }
        finally
        {
            model.TemporalWindowing = previous;
        }
    }

    /// <inheritdoc/>
    public T? Find<T>()
        where T : class => this as T ?? Inner.Find<T>();
}

/// <summary>
/// <see cref="FreeNoise"/>'s sampler decorator: reschedules <see cref="SamplingContext.InitialLatents"/> (see
/// <see cref="NoiseRescheduling"/>), replaces the text conditioning by a per-frame schedule when
/// <see cref="FreeNoiseOptions.FramePrompts"/> is set, then runs the inner sampler.
/// </summary>
/// <remarks>
/// The shuffles come from a generator seeded with <see cref="FreeNoiseOptions.ShuffleSeed"/> when it is set, else from
/// <see cref="SamplingContext.Generator"/> (the pipeline's seeded generator, after the initial noise was drawn), so a
/// seed reproduces the video. Rescheduling only moves frames, so it commutes with the scheduler's initial noise scale.
/// </remarks>
public sealed class FreeNoiseSampler : IVideoSampler
{
    private readonly IPromptEncoder? _promptEncoder;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The sampler.</param>
    /// <param name="options">Window size, stride, rescheduling mode, shuffle seed and prompt schedule; validated.</param>
    /// <param name="promptEncoder">Encodes the prompt schedule; needed when <see cref="FreeNoiseOptions.FramePrompts"/> is set.</param>
    /// <exception cref="ArgumentException">A prompt schedule is given without a prompt encoder.</exception>
    public FreeNoiseSampler(IVideoSampler inner, FreeNoiseOptions options, IPromptEncoder? promptEncoder = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.FramePrompts is not null && promptEncoder is null)
        {
            throw new ArgumentException("FreeNoiseOptions.FramePrompts needs a prompt encoder.", nameof(promptEncoder));
        }

        Inner = inner;
        Options = options;
        _promptEncoder = promptEncoder;
    }

    /// <summary>The wrapped sampler.</summary>
    public IVideoSampler Inner { get; }

    /// <summary>The options.</summary>
    public FreeNoiseOptions Options { get; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The initial latents are not 5-D, or a key frame of the prompt schedule is not below the number of frames.</exception>
    public Tensor Sample(SamplingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var initial = context.InitialLatents;
        if (initial.ndim != 5)
        {
            throw new ArgumentException($"FreeNoise samples video latents (B, C, F, h, w); got [{string.Join(", ", initial.shape)}].", nameof(context));
        }

        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var updated = context;
        if (Options.Noise != NoiseRescheduling.Random && initial.shape[2] > Options.WindowSize)
        {
            Generator? generator = context.Generator;
            using var own = Options.ShuffleSeed is long seed ? new RandomGenerator(seed) : null;
            updated = updated with { InitialLatents = FreeNoise.Reschedule(initial, Options, Options.Noise, own?.Generator ?? generator) };
        }

        if (Options.FramePrompts is { } prompts)
        {
            updated = WithPromptSchedule(updated, prompts);
        }

        var result = Inner.Sample(updated);
        return ReferenceEquals(result, initial) ? result : result.MoveToOuterDisposeScope();
    }

    private SamplingContext WithPromptSchedule(SamplingContext context, IReadOnlyDictionary<int, string> prompts)
    {
        var latents = context.InitialLatents;
        long b = latents.shape[0];
        int frames = checked((int)latents.shape[2]);
        var keys = prompts.Keys.Order().ToArray();
        if (keys[^1] >= frames)
        {
            throw new ArgumentException($"FreeNoiseOptions.FramePrompts has key frame {keys[^1]}, but the video has {frames} frames (0 … {frames - 1}).", nameof(context));
        }

        var text = context.Conditioning.TextEmbeddings;
        var encoded = _promptEncoder!.Encode(keys.Select(k => prompts[k]).ToArray()).to(text.dtype, text.device);
        var perFrame = FreeNoise.InterpolatePrompts(keys, encoded, frames);
        var conditioning = context.Conditioning with { TextEmbeddings = perFrame.unsqueeze(0).expand(b, -1, -1, -1).contiguous() };
        VideoConditioning? unconditional = null;
        if (context.UnconditionalConditioning is { } u)
        {
            var negative = u.TextEmbeddings.ndim == 3 ? u.TextEmbeddings.unsqueeze(1).expand(-1, frames, -1, -1).contiguous() : u.TextEmbeddings;
            unconditional = u with { TextEmbeddings = negative };
        }

        return context with { Conditioning = conditioning, UnconditionalConditioning = unconditional };
    }
}
