using Vchitect.Models.Denoising;
using Vchitect.Models.UNets;
using Vchitect.Pipelines.Plugins;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Tests;

/// <summary>
/// FreeU on LaVie's UNet. The freeu fixture's model-level entries come from a diffusers (ModelScope) UNet this library
/// does not have, so the LaVie hook is tested by properties: identity at b = s = 1, placement and channel counts per
/// decoder layer, the maths at each layer against <see cref="FreeU.Apply"/>, and no hook left behind.
/// </summary>
[Collection(PipelineTorchState.Name)]
public sealed class FreeUTests : IClassFixture<LaVieVideoPipelineTests.Folder>
{
    private static readonly FreeUOptions Unit = new() { B1 = 1, B2 = 1, S1 = 1, S2 = 1 };

    private readonly LaVieVideoPipelineTests.Folder _folder;

    public FreeUTests(LaVieVideoPipelineTests.Folder folder) => _folder = folder;

    [Fact]
    public void Unit_factors_give_bit_identical_video_and_other_factors_change_it()
    {
        using var pipe = _folder.Model.Load();
        var plain = pipe.Generate("a red ball", TinyLaVie.Options());
        var original = pipe.Denoiser;

        pipe.Use(new FreeU(Unit));
        var unit = pipe.Generate("a red ball", TinyLaVie.Options());
        Assert.True(plain.Pixels.Span.SequenceEqual(unit.Pixels.Span));

        pipe.Denoiser = original;
        pipe.Use(new FreeU(FreeUOptions.SD14));
        var freeu = pipe.Generate("a red ball", TinyLaVie.Options());
        Assert.False(plain.Pixels.Span.SequenceEqual(freeu.Pixels.Span));

        // Only a skip factor, or only a backbone factor, changes it too: both halves are wired.
        pipe.Denoiser = original;
        pipe.Use(new FreeU(Unit with { S2 = 0.2 }));
        Assert.False(plain.Pixels.Span.SequenceEqual(pipe.Generate("a red ball", TinyLaVie.Options()).Pixels.Span));
        pipe.Denoiser = original;
        pipe.Use(new FreeU(Unit with { B1 = 1.3 }));
        Assert.False(plain.Pixels.Span.SequenceEqual(pipe.Generate("a red ball", TinyLaVie.Options()).Pixels.Span));

        // Nothing stays on the model: the plain denoiser gives the plain video again.
        pipe.Denoiser = original;
        Assert.True(plain.Pixels.Span.SequenceEqual(pipe.Generate("a red ball", TinyLaVie.Options()).Pixels.Span));
    }

    [Fact]
    public void Hook_sees_every_decoder_layer_with_its_channel_counts()
    {
        // Tiny UNet: block_out (32, 64), 1 layer per block → 2 up blocks × 2 resnets; 4×4 latents → 2×2 at up_blocks.0.
        using var pipe = _folder.Model.Load();
        var unet = pipe.Denoiser.Find<UNet3DDenoiser>()!.Model;
        var seen = new List<(int Block, int Layer, int Count, long H, long S, long Size)>();
        using (unet.AddDecoderSkipHook((site, f) =>
        {
            seen.Add((site.UpBlockIndex, site.LayerIndex, site.UpBlockCount, f.Hidden.shape[1], f.Skip.shape[1], f.Hidden.shape[^1]));
            return f;
        }))
        {
            pipe.Generate("p", TinyLaVie.Options() with { Steps = 1, GuidanceScale = 1 });
        }

        Assert.Equal([(0, 0, 2, 64L, 64L, 2L), (0, 1, 2, 64L, 32L, 2L), (1, 0, 2, 64L, 32L, 4L), (1, 1, 2, 32L, 32L, 4L)], seen);

        // Removed: a second generation calls nothing.
        pipe.Generate("p", TinyLaVie.Options() with { Steps = 1, GuidanceScale = 1 });
        Assert.Equal(4, seen.Count);
    }

    [Fact]
    public void A_hook_that_changes_a_shape_is_reported_with_its_site()
    {
        using var pipe = _folder.Model.Load();
        var unet = pipe.Denoiser.Find<UNet3DDenoiser>()!.Model;
        using var hook = unet.AddDecoderSkipHook((site, f) => new DecoderSkipFeatures(f.Hidden[.., ..1], f.Skip));
        var e = Assert.Throws<InvalidOperationException>(() => pipe.Generate("p", TinyLaVie.Options() with { Steps = 1, GuidanceScale = 1 }));
        Assert.Contains("up_blocks.0 layer 0", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(FreeUPlacement.ByBlockIndex, new[] { 0, 0, 1, 1 })]
    [InlineData(FreeUPlacement.ByChannelCount, new[] { 0, 0, 0, 1 })] // backbone 64 channels → stage 1, 32 → stage 2
    public void Each_layer_gets_the_stage_of_its_placement_and_the_reference_maths(FreeUPlacement placement, int[] stages)
    {
        var options = new FreeUOptions { B1 = 1.5, B2 = 2.5, S1 = 0.7, S2 = 0.2, Placement = placement };
        var plugin = new FreeU(options);
        using var pipe = _folder.Model.Load();
        var before = new Recorder(pipe.Denoiser);   // innermost: its hook runs after FreeU's, so it sees FreeU's output
        pipe.Denoiser = before;
        pipe.Use(plugin);
        var after = new Recorder(pipe.Denoiser);    // outermost: its hook runs first, so it sees the UNet's own tensors
        pipe.Denoiser = after;
        pipe.Generate("p", TinyLaVie.Options() with { Steps = 1, GuidanceScale = 1 });

        Assert.Equal(4, after.Seen.Count);
        Assert.Equal(4, before.Seen.Count);
        for (int i = 0; i < 4; i++)
        {
            var input = after.Seen[i];
            var output = before.Seen[i];
            var expected = plugin.Apply(stages[i], input.Hidden, input.Skip);
            Assert.True(Same(expected.Hidden, output.Hidden), $"layer {i}: backbone");
            Assert.True(Same(expected.Skip, output.Skip), $"layer {i}: skip");

            // And the maths itself: the first half of the backbone ×b, the second half untouched, the skip filtered.
            long half = input.Hidden.shape[1] / 2;
            double b = stages[i] == 0 ? options.B1 : options.B2;
            Assert.True((output.Hidden[.., ..(int)half] - (input.Hidden[.., ..(int)half] * b)).abs().max().item<float>() < 1e-5f);
            Assert.True(Same(output.Hidden[.., (int)half..], input.Hidden[.., (int)half..]));
            Assert.False(Same(output.Skip, input.Skip));
        }

        after.Dispose();
        before.Dispose();
    }

    [Fact]
    public void Structure_aware_scaling_uses_the_min_max_normalised_channel_mean_per_frame()
    {
        var plugin = new FreeU(new FreeUOptions { B1 = 2, BackboneScaling = FreeUBackboneScaling.StructureAware });
        using var scope = NewDisposeScope();
        using var rng = new Vchitect.Core.RandomGenerator(3);
        var h = rng.Randn([2, 6, 3, 4, 5]);
        var skip = rng.Randn([2, 4, 3, 4, 5]);
        var result = plugin.Apply(0, h, skip);

        // Independent loop over (sample, frame): m = mean over channels, min-max over H·W, factor (b − 1)·m̂ + 1.
        var expected = h.clone();
        for (int n = 0; n < 2; n++)
        {
            for (int f = 0; f < 3; f++)
            {
                var m = h[n, .., f].mean([0]);
                var mHat = (m - m.min()) / (m.max() - m.min());
                expected[n, ..3, f] = h[n, ..3, f] * ((mHat * 1.0) + 1);
            }
        }

        Assert.True((result.Hidden - expected).abs().max().item<float>() < 1e-6f);
        Assert.True(result.Skip.allclose(FreeU.FourierFilter(skip, 1, 0.9)));
    }

    [Fact]
    public void Fourier_filter_runs_in_float32_for_half_precision_features()
    {
        using var scope = NewDisposeScope();
        using var rng = new Vchitect.Core.RandomGenerator(5);
        var x = rng.Randn([1, 2, 3, 8, 8]);
        var bf16 = FreeU.FourierFilter(x.to(ScalarType.BFloat16), 1, 0.2);
        Assert.Equal(ScalarType.BFloat16, bf16.dtype);
        var reference = FreeU.FourierFilter(x.to(ScalarType.BFloat16).to(ScalarType.Float32), 1, 0.2).to(ScalarType.BFloat16);
        Assert.True(Same(bf16, reference));
        Assert.False(Same(bf16, x.to(ScalarType.BFloat16)));
    }

    [Fact]
    public void Runs_on_a_bfloat16_pipeline()
    {
        using var pipe = LaVieVideoPipeline.FromPretrained(_folder.Model.Path, dtype: ScalarType.BFloat16);
        var plain = pipe.Generate("p", TinyLaVie.Options());
        pipe.Use(new FreeU(FreeUOptions.SD14));
        var freeu = pipe.Generate("p", TinyLaVie.Options());
        Assert.Equal(4, freeu.FrameCount);
        Assert.False(plain.Pixels.Span.SequenceEqual(freeu.Pixels.Span));
    }

    [Fact]
    public void A_denoiser_without_a_UNet_is_rejected_and_a_failing_prediction_leaves_no_hook()
    {
        using var pipe = _folder.Model.Load();
        var original = pipe.Denoiser;
        var plain = pipe.Generate("p", TinyLaVie.Options() with { Steps = 1 });

        var lone = new FreeU().WrapDenoiser(new NoModel());
        using (var s = NewDisposeScope())
        {
            var e = Assert.Throws<InvalidOperationException>(() => lone.Predict(zeros([1, 4, 2, 4, 4]), tensor(10L), new VideoConditioning(zeros(1, 77, 32))));
            Assert.Contains("UNet3DConditionModel", e.Message, StringComparison.Ordinal);
        }

        pipe.Denoiser = new Throwing(original);
        pipe.Use(new FreeU(FreeUOptions.SD14));
        Assert.Throws<InvalidTimeZoneException>(() => pipe.Generate("p", TinyLaVie.Options() with { Steps = 1 }));
        pipe.Denoiser = original;
        Assert.True(plain.Pixels.Span.SequenceEqual(pipe.Generate("p", TinyLaVie.Options() with { Steps = 1 }).Pixels.Span));
    }

    [Fact]
    public void Presets_are_the_published_values_and_bad_options_name_themselves()
    {
        Assert.Equal((1.3, 1.4, 0.9, 0.2), (FreeUOptions.SD14.B1, FreeUOptions.SD14.B2, FreeUOptions.SD14.S1, FreeUOptions.SD14.S2));
        Assert.Equal((1.5, 1.6, 0.9, 0.2), (FreeUOptions.SD15.B1, FreeUOptions.SD15.B2, FreeUOptions.SD15.S1, FreeUOptions.SD15.S2));
        Assert.Equal((1.4, 1.6, 0.9, 0.2), (FreeUOptions.SD21.B1, FreeUOptions.SD21.B2, FreeUOptions.SD21.S1, FreeUOptions.SD21.S2));
        Assert.Equal((1.2, 1.4, 0.9, 0.2), (FreeUOptions.Video.B1, FreeUOptions.Video.B2, FreeUOptions.Video.S1, FreeUOptions.Video.S2));
        Assert.Equal(FreeUPlacement.ByBlockIndex, new FreeUOptions().Placement);
        Assert.Equal("B1", Assert.Throws<ArgumentOutOfRangeException>(() => new FreeU(new FreeUOptions { B1 = 0 })).ParamName);
        Assert.Equal("S2", Assert.Throws<ArgumentOutOfRangeException>(() => new FreeU(new FreeUOptions { S2 = double.NaN })).ParamName);
        Assert.Equal("Threshold", Assert.Throws<ArgumentOutOfRangeException>(() => new FreeU(new FreeUOptions { Threshold = 0 })).ParamName);
        Assert.Equal("Stage1Channels", Assert.Throws<ArgumentOutOfRangeException>(() => new FreeU(new FreeUOptions { Stage1Channels = 0 })).ParamName);
    }

    /// <summary>Records (clones of) the tensors its hook sees during the first prediction.</summary>
    private sealed class Recorder(IVideoDenoiser inner) : IVideoDenoiser, IDisposable
    {
        private int _calls;

        public List<DecoderSkipFeatures> Seen { get; } = [];

        public int InChannels => inner.InChannels;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
        {
            var unet = inner.Find<UNet3DDenoiser>()!.Model;
            bool record = _calls++ == 0;
            using var hook = unet.AddDecoderSkipHook((site, f) =>
            {
                if (record)
                {
                    Seen.Add(new DecoderSkipFeatures(f.Hidden.clone().DetachFromDisposeScope(), f.Skip.clone().DetachFromDisposeScope()));
                }

                return f;
            });
            return inner.Predict(latents, timestep, conditioning);
        }

        public T? Find<T>()
            where T : class => this as T ?? inner.Find<T>();

        public void Dispose()
        {
            foreach (var f in Seen)
            {
                f.Hidden.Dispose();
                f.Skip.Dispose();
            }
        }
    }

    private sealed class NoModel : IVideoDenoiser
    {
        public int InChannels => 4;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning) => latents.clone();
    }

    /// <summary>Lets the UNet run its decoder (so FreeU's hook is used), then throws.</summary>
    private sealed class Throwing(IVideoDenoiser inner) : IVideoDenoiser
    {
        public int InChannels => inner.InChannels;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
        {
            using var scope = NewDisposeScope();
            inner.Predict(latents, timestep, conditioning);
            throw new InvalidTimeZoneException("test failure inside the prediction");
        }

        public T? Find<T>()
            where T : class => this as T ?? inner.Find<T>();
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
