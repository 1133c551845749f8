using Vchitect.Core.Media;

namespace Vchitect.Evaluation.TinyWorld;

/// <summary>One training sample of the tiny world: a caption and its rendered clip (or single frame).</summary>
/// <param name="Caption">The caption's attributes.</param>
/// <param name="Seed">The seed the clip was rendered with (<see cref="TinyWorldRenderer.Render"/>).</param>
/// <param name="Video">The clip, or a one-frame video for image samples.</param>
public sealed record TinyWorldSample(TinyWorldCaption Caption, long Seed, Video Video)
{
    /// <summary>The caption's sentence, what the text encoder sees.</summary>
    public string Text => Caption.ToString();
}

/// <summary>
/// An endless, reproducible stream of tiny-world samples for a trainer: epoch after epoch, every caption of a list
/// once per epoch in a seeded shuffled order, each rendered with its own seed. Sample <c>i</c> depends only on the
/// dataset seed, the caption list and <c>i</c>, so a resumed run can continue at any index without replaying the others.
/// </summary>
/// <remarks>
/// For LaVie's joint image–video training, <see cref="Image"/> gives single frames: the same caption order with
/// independent seeds, and a frame drawn uniformly from the clip.
/// </remarks>
public sealed class TinyWorldDataset
{
    private readonly TinyWorldCaption[] _captions;

    /// <summary>A dataset over some captions.</summary>
    /// <param name="seed">The dataset's seed.</param>
    /// <param name="captions">The captions to draw from; null for <see cref="TinyWorldCaption.Training"/> (the 132 not held out).</param>
    /// <param name="renderer">The renderer; null for one with the default options.</param>
    /// <exception cref="ArgumentException"><paramref name="captions"/> is empty or contains null.</exception>
    public TinyWorldDataset(long seed, IEnumerable<TinyWorldCaption>? captions = null, TinyWorldRenderer? renderer = null)
    {
        Seed = seed;
        _captions = (captions ?? TinyWorldCaption.Training).ToArray();
        if (_captions.Length == 0)
        {
            throw new ArgumentException("The dataset needs at least one caption; got none.", nameof(captions));
        }

        if (Array.IndexOf(_captions, null) is int nullAt and >= 0)
        {
            throw new ArgumentException($"Caption {nullAt} of the list is null.", nameof(captions));
        }

        Renderer = renderer ?? new TinyWorldRenderer();
    }

    /// <summary>The dataset's seed.</summary>
    public long Seed { get; }

    /// <summary>The captions drawn from, in the order given.</summary>
    public IReadOnlyList<TinyWorldCaption> Captions => _captions;

    /// <summary>The renderer that draws the clips.</summary>
    public TinyWorldRenderer Renderer { get; }

    /// <summary>Samples per epoch: the number of captions.</summary>
    public int EpochLength => _captions.Length;

    /// <summary>The caption and clip seed of sample <paramref name="index"/>, without rendering it.</summary>
    /// <param name="index">The sample's index, at least 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative.</exception>
    public (TinyWorldCaption Caption, long Seed) Describe(long index) => Describe(index, stream: 0);

    /// <summary>Sample <paramref name="index"/>: a caption and its whole clip.</summary>
    /// <param name="index">The sample's index, at least 0; index / <see cref="EpochLength"/> is its epoch.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative.</exception>
    public TinyWorldSample Clip(long index)
    {
        (TinyWorldCaption caption, long seed) = Describe(index, stream: 0);
        return new TinyWorldSample(caption, seed, Renderer.Render(caption, seed));
    }

    /// <summary>Image sample <paramref name="index"/>: a caption and one frame of a clip, the frame drawn uniformly.</summary>
    /// <param name="index">The sample's index, at least 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative.</exception>
    public TinyWorldSample Image(long index)
    {
        (TinyWorldCaption caption, long seed) = Describe(index, stream: 1);
        var rng = SplitMix64.For(seed, 2);
        int frame = rng.NextInt(Renderer.Options.Frames);
        return new TinyWorldSample(caption, seed, Renderer.RenderFrame(caption, seed, frame));
    }

    /// <summary>Clip samples from <paramref name="start"/> on, endlessly (take what you need; each is rendered when reached).</summary>
    /// <param name="start">The first index, at least 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="start"/> is negative.</exception>
    public IEnumerable<TinyWorldSample> Clips(long start = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        return Stream(start, Clip);
    }

    /// <summary>Image samples from <paramref name="start"/> on, endlessly.</summary>
    /// <param name="start">The first index, at least 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="start"/> is negative.</exception>
    public IEnumerable<TinyWorldSample> Images(long start = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        return Stream(start, Image);
    }

    private static IEnumerable<TinyWorldSample> Stream(long start, Func<long, TinyWorldSample> at)
    {
        for (long i = start; ; i++)
        {
            yield return at(i);
        }
    }

    private (TinyWorldCaption Caption, long Seed) Describe(long index, int stream)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        long epoch = index / _captions.Length;
        int position = (int)(index % _captions.Length);

        // Fisher–Yates shuffle of 0..n-1 for this epoch (the same for clips and images).
        var order = new int[_captions.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        var rng = SplitMix64.For(Seed, epoch, -1);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        long clipSeed = unchecked((long)SplitMix64.For(Seed, index, stream).NextUInt64());
        return (_captions[order[position]], clipSeed);
    }
}
