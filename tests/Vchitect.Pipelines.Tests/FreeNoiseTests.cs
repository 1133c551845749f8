using TorchSharp;
using Vchitect.Models.Blocks;
using Vchitect.Models.Denoising;
using Vchitect.Pipelines.Plugins;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Tests;

/// <summary>FreeNoise on the plugin seam: noise rescheduling, the denoiser switch, and long generations on the tiny LaVie.</summary>
[Collection(PipelineTorchState.Name)]
public sealed class FreeNoiseTests : IClassFixture<LaVieVideoPipelineTests.Folder>
{
    // The tiny model's "training length": windows of 8 frames every 4, on 24-frame clips.
    private static readonly FreeNoiseOptions Small = new() { WindowSize = 8, Stride = 4 };

    private readonly LaVieVideoPipelineTests.Folder _folder;

    public FreeNoiseTests(LaVieVideoPipelineTests.Folder folder) => _folder = folder;

    [Theory]
    [InlineData(40, 16, 4)]
    [InlineData(22, 8, 4)] // a short last block takes a prefix of its shuffle
    [InlineData(30, 8, 3)]
    public void Shuffled_noise_repeats_the_first_window_block_by_block(int frames, int window, int stride)
    {
        using var scope = NewDisposeScope();
        using var gen = new Generator(11);
        var noise = randn([2, 3, frames, 2, 2], generator: gen);
        var shuffles = FreeNoise.DrawShuffles(frames, window, stride, gen);
        var rescheduled = FreeNoise.RescheduleNoise(noise, window, stride, shuffles);

        TensorAssertions.SameFrames(noise.narrow(2, 0, window), rescheduled.narrow(2, 0, window));
        for (int k = 0, p = window; p < frames; k++, p += stride)
        {
            int n = Math.Min(stride, frames - p);
            for (int j = 0; j < n; j++)
            {
                // frame p + j is a copy of frame shuffles[k][j], taken from the already rescheduled noise
                TensorAssertions.SameFrames(rescheduled.narrow(2, (int)shuffles[k][j], 1), rescheduled.narrow(2, p + j, 1));
            }

            Assert.Equal(n, shuffles[k].Distinct().Count());
            Assert.All(shuffles[k], s => Assert.InRange(s, p - window, p - window + stride - 1));
        }

        // Every frame's noise is one of the first window's frames (the long-range correlation FreeNoise relies on).
        for (int f = window; f < frames; f++)
        {
            var frame = rescheduled.narrow(2, f, 1);
            Assert.Contains(Enumerable.Range(0, window), g => rescheduled.narrow(2, g, 1).equal(frame).all().item<bool>());
        }

        // And it is not the noise as drawn.
        Assert.False(rescheduled.narrow(2, window, frames - window).equal(noise.narrow(2, window, frames - window)).all().item<bool>());
    }

    [Fact]
    public void Shuffles_are_reproducible_from_a_seed_and_vary_with_it()
    {
        static string Draw(long seed)
        {
            using var gen = new Generator((ulong)seed);
            return string.Join(";", FreeNoise.DrawShuffles(64, 16, 4, gen).Select(s => string.Join(",", s)));
        }

        Assert.Equal(Draw(3), Draw(3));
        Assert.NotEqual(Draw(3), Draw(4));
    }

    [Fact]
    public void Repeat_context_tiles_the_first_window()
    {
        using var scope = NewDisposeScope();
        var noise = randn([1, 2, 11, 2, 2]);
        var tiled = FreeNoise.RepeatContext(noise, 4);
        for (int f = 0; f < 11; f++)
        {
            TensorAssertions.SameFrames(noise.narrow(2, f % 4, 1), tiled.narrow(2, f, 1));
        }
    }

    [Fact]
    public void Bad_shuffles_and_options_are_rejected_by_name()
    {
        using var scope = NewDisposeScope();
        var noise = zeros([1, 1, 24, 1, 1]);
        var e = Assert.Throws<ArgumentException>(() => FreeNoise.RescheduleNoise(noise, 16, 4, [[0, 1, 2, 3]]));
        Assert.Contains("2 blocks", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => FreeNoise.RescheduleNoise(noise, 16, 4, [[0, 1, 2, 3], [4, 5, 6, 8]]));
        Assert.Contains("shuffles[1]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => FreeNoise.RescheduleNoise(zeros(1, 24, 1, 1), 16, 4, []));
        Assert.Contains("(B, C, F, h, w)", e.Message, StringComparison.Ordinal);
        var o = Assert.Throws<ArgumentOutOfRangeException>(() => new FreeNoise(new FreeNoiseOptions { WindowSize = 8, Stride = 9 }));
        Assert.Contains("Stride", o.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Denoiser_switches_windowing_on_for_the_prediction_only_even_when_it_throws()
    {
        using var pipe = _folder.Model.Load();
        var unet = pipe.Denoiser.Find<UNet3DDenoiser>()!.Model;
        var probe = new Probe(pipe.Denoiser) { Throw = true };
        var denoiser = new FreeNoise(Small).WrapDenoiser(probe);
        Assert.Same(probe, denoiser.Find<Probe>());
        using var scope = NewDisposeScope();
        Assert.Throws<InvalidOperationException>(() =>
            denoiser.Predict(zeros([1, 4, 12, 4, 4]), tensor(10L), new VideoConditioning(zeros(1, 3, 32))));
        Assert.Equal(Small.Windowing, probe.Seen.Single());
        Assert.Null(unet.TemporalWindowing);
    }

    [Fact]
    public void A_denoiser_without_a_lavie_unet_is_refused()
    {
        var e = Assert.Throws<NotSupportedException>(() => new FreeNoise().WrapDenoiser(new Constant()));
        Assert.Contains("UNet3DDenoiser", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Long_generation_is_deterministic_windowed_and_starts_from_rescheduled_noise()
    {
        var options = TinyLaVie.Options(seed: 21) with { Frames = 24, Steps = 2 };
        using var plain = _folder.Model.Load();
        var reference = plain.Generate("a red ball", options);

        using var pipe = _folder.Model.Load();
        var capture = new Capture();
        var probe = new ProbePlugin();
        pipe.Use(capture).Use(probe).Use(new FreeNoise(Small));
        var first = pipe.Generate("a red ball", options);
        var second = pipe.Generate("a red ball", options);

        Assert.Equal(24, first.FrameCount);
        Assert.True(first.Pixels.Span.SequenceEqual(second.Pixels.Span), "same seed, same video");
        Assert.False(first.Pixels.Span.SequenceEqual(reference.Pixels.Span), "FreeNoise changes the video");

        // The sampler under FreeNoise got noise whose frames 8..23 repeat frames of the first window, and the same noise
        // both times.
        Assert.Equal(2, capture.Initial.Count);
        using (var scope = NewDisposeScope())
        {
            var x = capture.Initial[0];
            TensorAssertions.SameFrames(x, capture.Initial[1]);
            for (int f = 8; f < 24; f++)
            {
                var frame = x.narrow(2, f, 1);
                Assert.Contains(Enumerable.Range(0, 8), g => x.narrow(2, g, 1).equal(frame).all().item<bool>());
            }
        }

        // Every prediction ran with the windowing on; it is off again afterwards.
        Assert.Equal(4, probe.Denoiser!.Seen.Count); // 2 generations × 2 steps, CFG in one batch
        Assert.All(probe.Denoiser.Seen, w => Assert.Equal(Small.Windowing, w));
        Assert.Null(pipe.Denoiser.Find<UNet3DDenoiser>()!.Model.TemporalWindowing);
        capture.Dispose();
    }

    [Fact]
    public void Long_generation_leaks_no_tensors()
    {
        using var pipe = _folder.Model.Load();
        pipe.Use(new FreeNoise(Small));
        var options = TinyLaVie.Options(seed: 5) with { Frames = 24, Steps = 1 };
        // Warm-up: the pipeline keeps one scheduler per kind (long-lived tables it owns).
        pipe.Generate("warm up", options);
        pipe.Generate("warm up", options with { Scheduler = LaVieScheduler.Ddim });
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        pipe.Generate("p", options);
        pipe.Generate("q", options with { Steps = 2, Scheduler = LaVieScheduler.Ddim });
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Prompt_interpolation_is_linear_between_key_frames_and_holds_after_the_last()
    {
        using var scope = NewDisposeScope();
        var keys = randn([2, 3, 5]);
        var perFrame = FreeNoise.InterpolatePrompts([0, 4], keys, 8);
        Assert.Equal([8L, 3, 5], perFrame.shape);
        TensorAssertions.Close(keys[0], perFrame[0]);
        TensorAssertions.Close((0.75 * keys[0]) + (0.25 * keys[1]), perFrame[1]);
        TensorAssertions.Close((0.5 * keys[0]) + (0.5 * keys[1]), perFrame[2]);
        for (int f = 4; f < 8; f++)
        {
            TensorAssertions.Close(keys[1], perFrame[f]);
        }

        Assert.Throws<ArgumentException>(() => FreeNoise.InterpolatePrompts([1, 4], keys, 8));
        Assert.Throws<ArgumentException>(() => FreeNoise.InterpolatePrompts([0, 8], keys, 8));
        Assert.Throws<ArgumentException>(() => FreeNoise.InterpolatePrompts([0], keys, 8));
        var o = Assert.Throws<ArgumentOutOfRangeException>(() => new FreeNoiseOptions { FramePrompts = new Dictionary<int, string> { [3] = "x" } }.Validate());
        Assert.Contains("frame 0", o.Message, StringComparison.Ordinal);
        var a = Assert.Throws<ArgumentException>(() => new FreeNoise(new FreeNoiseOptions { FramePrompts = new Dictionary<int, string> { [0] = "x" } }));
        Assert.Contains("prompt encoder", a.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Prompt_schedule_conditions_each_frame_and_a_single_key_equals_the_plain_prompt()
    {
        // Pipelines own (and dispose) their encoders; FreeNoise does not. The tiny encoder is deterministic.
        using var encoder = new TinyPromptEncoder(32);
        using var pipe = _folder.Model.Load(new TinyPromptEncoder(32));
        var probe = new ProbePlugin();
        pipe.Use(probe);
        var options = TinyLaVie.Options(seed: 3) with { Frames = 12, Steps = 1 };

        var plainOptions = Small with { ShuffleSeed = 5 };
        using var plain = _folder.Model.Load(new TinyPromptEncoder(32));
        plain.Use(new FreeNoise(plainOptions));
        var reference = plain.Generate("a red ball", options);

        var single = pipe.Use(new FreeNoise(plainOptions with { FramePrompts = new Dictionary<int, string> { [0] = "a red ball" } }, encoder))
            .Generate("ignored", options);
        Assert.True(reference.Pixels.Span.SequenceEqual(single.Pixels.Span), "one key prompt for all frames = the prompt itself");
        Assert.Equal([2L, 12, 77, 32], probe.Denoiser!.Shapes.Single()); // CFG batch, per-frame text

        using var schedulePipe = _folder.Model.Load(new TinyPromptEncoder(32));
        schedulePipe.Use(new FreeNoise(plainOptions with { FramePrompts = new Dictionary<int, string> { [0] = "a red ball", [8] = "a cat" } }, encoder));
        var scheduled = schedulePipe.Generate("ignored", options);
        Assert.False(reference.Pixels.Span.SequenceEqual(scheduled.Pixels.Span), "a second key prompt changes the video");
        var e = Assert.Throws<ArgumentException>(() => schedulePipe.Generate("x", options with { Frames = 8 }));
        Assert.Contains("key frame 8", e.Message, StringComparison.Ordinal);
    }

    private static class TensorAssertions
    {
        public static void Close(Tensor expected, Tensor actual)
        {
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(expected.allclose(actual, rtol: 0, atol: 1e-6), "values differ");
        }

        public static void SameFrames(Tensor expected, Tensor actual)
        {
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(expected.equal(actual).all().item<bool>(), "frames differ");
        }
    }

    /// <summary>Records the windowing the UNet has while it predicts; optionally throws from inside the prediction.</summary>
    private sealed class Probe(IVideoDenoiser inner) : IVideoDenoiser
    {
        public bool Throw { get; init; }

        public List<TemporalWindowing?> Seen { get; } = [];

        public List<long[]> Shapes { get; } = [];

        public int InChannels => inner.InChannels;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
        {
            Seen.Add(inner.Find<UNet3DDenoiser>()!.Model.TemporalWindowing);
            Shapes.Add(conditioning.TextEmbeddings.shape);
            return Throw ? throw new InvalidOperationException("probe") : inner.Predict(latents, timestep, conditioning);
        }

        public T? Find<T>()
            where T : class => this as T ?? inner.Find<T>();
    }

    private sealed class ProbePlugin : IPipelinePlugin
    {
        public Probe? Denoiser { get; private set; }

        public IVideoDenoiser WrapDenoiser(IVideoDenoiser inner) => Denoiser = new Probe(inner);
    }

    /// <summary>Keeps a copy of the initial latents each generation hands to the sampler it wraps.</summary>
    private sealed class Capture : IPipelinePlugin, IDisposable
    {
        public List<Tensor> Initial { get; } = [];

        public IVideoSampler WrapSampler(IVideoSampler inner) => new Sampler(inner, Initial);

        public void Dispose() => Initial.ForEach(t => t.Dispose());

        private sealed class Sampler(IVideoSampler inner, List<Tensor> initial) : IVideoSampler
        {
            public Tensor Sample(SamplingContext context)
            {
                initial.Add(context.InitialLatents.detach().clone().DetachFromDisposeScope());
                return inner.Sample(context);
            }
        }
    }

    private sealed class Constant : IVideoDenoiser
    {
        public int InChannels => 4;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning) => zeros_like(latents);
    }
}
