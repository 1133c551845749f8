using TorchSharp;
using Vchitect.Core;
using Vchitect.Models.Denoising;
using Vchitect.Pipelines.Plugins;
using Vchitect.Schedulers;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Tests;

/// <summary>FreeInit on the tiny LaVie pipeline, and its re-noising wired against an independent computation.</summary>
[Collection(PipelineTorchState.Name)]
public sealed class FreeInitTests : IClassFixture<LaVieVideoPipelineTests.Folder>
{
    private readonly LaVieVideoPipelineTests.Folder _folder;

    public FreeInitTests(LaVieVideoPipelineTests.Folder folder) => _folder = folder;

    [Theory]
    [InlineData(1, false, 3)]
    [InlineData(3, false, 9)]
    [InlineData(2, true, 1 + 3)]     // N = 3, K = 2: ⌊1.5⌋, 3
    [InlineData(3, true, 1 + 2 + 3)] // N = 3, K = 3: 1, 2, 3
    public void K_iterations_run_the_documented_number_of_denoiser_calls_with_progress_over_all_passes(int iterations, bool fast, int expectedCalls)
    {
        using var pipe = _folder.Model.Load();
        var counter = new CountingDenoiser(pipe.Denoiser);
        pipe.Denoiser = counter;
        pipe.Use(new FreeInit(new FreeInitOptions { Iterations = iterations, FastSampling = fast }));
        var reports = new List<GenerationProgress>();
        pipe.Generate("p", TinyLaVie.Options() with { Steps = 3, GuidanceScale = 1 }, new SyncProgress(reports.Add));
        Assert.Equal(expectedCalls, counter.Calls);
        var denoise = reports.Where(r => r.Phase == GenerationPhase.Denoise).ToList();
        Assert.Equal(Enumerable.Range(1, expectedCalls), denoise.Select(r => r.Step));
        Assert.All(denoise, r => Assert.Equal(expectedCalls, r.Total));
    }

    [Theory]
    [InlineData(50, 5, true, new[] { 10, 20, 30, 40, 50 })]
    [InlineData(25, 3, true, new[] { 8, 16, 25 })]
    [InlineData(4, 3, true, new[] { 1, 2, 4 })]
    [InlineData(2, 5, true, new[] { 1, 1, 1, 1, 2 })] // at least 1 step
    [InlineData(25, 3, false, new[] { 25, 25, 25 })]
    public void Fast_sampling_step_counts_are_diffusers(int steps, int iterations, bool fast, int[] expected)
    {
        Assert.Equal(expected, Enumerable.Range(0, iterations).Select(k => FreeInit.StepsForIteration(steps, iterations, k, fast)));
    }

    [Fact]
    public void Same_seed_gives_the_same_video_other_seeds_and_one_pass_behave()
    {
        using var pipe = _folder.Model.Load();
        var plain = pipe.Generate("a red ball", TinyLaVie.Options(seed: 3));
        var original = pipe.Sampler;

        pipe.Use(new FreeInit(new FreeInitOptions { Iterations = 1 }));
        Assert.True(plain.Pixels.Span.SequenceEqual(pipe.Generate("a red ball", TinyLaVie.Options(seed: 3)).Pixels.Span));

        pipe.Sampler = original;
        pipe.Use(new FreeInit(new FreeInitOptions { Iterations = 2 }));
        var a = pipe.Generate("a red ball", TinyLaVie.Options(seed: 3));
        var b = pipe.Generate("a red ball", TinyLaVie.Options(seed: 3));
        var c = pipe.Generate("a red ball", TinyLaVie.Options(seed: 4));
        Assert.True(a.Pixels.Span.SequenceEqual(b.Pixels.Span));
        Assert.False(a.Pixels.Span.SequenceEqual(c.Pixels.Span));
        Assert.False(a.Pixels.Span.SequenceEqual(plain.Pixels.Span));
    }

    [Fact]
    public void Each_pass_starts_from_the_low_frequencies_of_the_renoised_result_and_fresh_seeded_noise()
    {
        // A stand-in sampler returns a known z₀ and records what each pass starts from; the expected start of pass 1 is
        // computed here from its definition: mix(add_noise(z₀, ε₀, 999), η, L) with η the generator's next draw.
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var options = new FreeInitOptions { Iterations = 3, Filter = FreeInitFilter.Gaussian, SpatialStopFrequency = 0.4, TemporalStopFrequency = 0.3 };
        var fake = new ConstantSampler();
        var scheduler = new DDPMScheduler();
        using var rng = new RandomGenerator(21);
        var eps0 = rng.Randn([2, 4, 5, 6, 8]);
        using var gen = new RandomGenerator(77);
        var iterations = new List<(int Index, int Count, int Steps, float Mean)>();
        var result = new FreeInit(options, it => iterations.Add((it.Index, it.Count, it.Steps, it.Latents.mean().item<float>()))).WrapSampler(fake).Sample(Context(scheduler, eps0, gen.Generator));

        using var check = new RandomGenerator(77);
        var lpf = FreeInit.LowPassFilter(FreeInitFilter.Gaussian, 4, 0.4, 0.3, 5, 6, 8);
        var alpha = (double)new DDPMScheduler().AlphasCumprod[999].item<float>();
        var zT = (Math.Sqrt(alpha) * fake.Z0) + (Math.Sqrt(1 - alpha) * eps0);
        var eta1 = check.Randn([2, 4, 5, 6, 8]);
        var expected1 = Mix(zT, eta1, lpf);
        var eta2 = check.Randn([2, 4, 5, 6, 8]);
        var expected2 = Mix(zT, eta2, lpf);

        Assert.Equal(3, fake.Starts.Count);
        Assert.True(Same(fake.Starts[0], eps0));
        Assert.True((fake.Starts[1] - expected1).abs().max().item<float>() < 5e-5f);
        Assert.True((fake.Starts[2] - expected2).abs().max().item<float>() < 5e-5f);
        Assert.Equal([(0, 3, 3), (1, 3, 3), (2, 3, 3)], iterations.Select(i => (i.Index, i.Count, i.Steps)));
        Assert.True(Same(result, fake.Z0));
    }

    [Fact]
    public void Cancellation_in_a_later_pass_throws_and_stops_the_steps()
    {
        using var pipe = _folder.Model.Load();
        var counter = new CountingDenoiser(pipe.Denoiser);
        pipe.Denoiser = counter;
        pipe.Use(new FreeInit(new FreeInitOptions { Iterations = 3 }));
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress(r =>
        {
            if (r.Phase == GenerationPhase.Denoise && r.Step == 4)
            {
                cts.Cancel();
            }
        });
        Assert.ThrowsAny<OperationCanceledException>(() => pipe.Generate("p", TinyLaVie.Options() with { Steps = 3, GuidanceScale = 1 }, progress, cts.Token));
        Assert.Equal(4, counter.Calls);
    }

    [Fact]
    public void A_stop_request_ends_FreeInit_after_that_pass()
    {
        using var pipe = _folder.Model.Load();
        var counter = new CountingDenoiser(pipe.Denoiser);
        pipe.Denoiser = counter;
        pipe.Use(new FreeInit(new FreeInitOptions { Iterations = 3 }));
        int callbacks = 0;
        pipe.Generate("p", s => ++callbacks == 2 ? DenoisingStepResult.Stop : DenoisingStepResult.Continue, TinyLaVie.Options() with { Steps = 3, GuidanceScale = 1 });
        Assert.Equal(2, counter.Calls);
    }

    [Fact]
    public void Iteration_callback_sees_every_pass()
    {
        using var pipe = _folder.Model.Load();
        var seen = new List<(int Index, int Count, int Steps, long[] Shape)>();
        pipe.Use(new FreeInit(new FreeInitOptions { Iterations = 3, FastSampling = true }, it => seen.Add((it.Index, it.Count, it.Steps, it.Latents.shape))));
        pipe.Generate("p", TinyLaVie.Options() with { Steps = 3 });
        Assert.Equal([(0, 3, 1), (1, 3, 2), (2, 3, 3)], seen.Select(s => (s.Index, s.Count, s.Steps)));
        Assert.All(seen, s => Assert.Equal(new long[] { 1, 4, 4, 4, 4 }, s.Shape));
    }

    [Fact]
    public void FreeU_and_FreeInit_in_either_order_give_the_same_video()
    {
        var freeInit = new FreeInit(new FreeInitOptions { Iterations = 2 });
        var freeU = new FreeU(FreeUOptions.SD14);
        using var pipe = _folder.Model.Load();
        var (denoiser, sampler) = (pipe.Denoiser, pipe.Sampler);
        var a = pipe.Use(freeInit).Use(freeU).Generate("a cat", TinyLaVie.Options(seed: 9));
        (pipe.Denoiser, pipe.Sampler) = (denoiser, sampler);
        var b = pipe.Use(freeU).Use(freeInit).Generate("a cat", TinyLaVie.Options(seed: 9));
        (pipe.Denoiser, pipe.Sampler) = (denoiser, sampler);
        var onlyInit = pipe.Use(freeInit).Generate("a cat", TinyLaVie.Options(seed: 9));
        Assert.True(a.Pixels.Span.SequenceEqual(b.Pixels.Span));
        Assert.False(a.Pixels.Span.SequenceEqual(onlyInit.Pixels.Span));
    }

    [Fact]
    public void Generations_with_FreeU_and_FreeInit_leak_no_tensor()
    {
        using var pipe = _folder.Model.Load();
        pipe.Use(new FreeInit(new FreeInitOptions { Iterations = 2, FastSampling = true }, it => _ = it.Latents.sum().item<float>()))
            .Use(new FreeU(new FreeUOptions { BackboneScaling = FreeUBackboneScaling.StructureAware }));
        pipe.Generate("warm up", TinyLaVie.Options() with { Steps = 1 });
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        pipe.Generate("p", TinyLaVie.Options());
        pipe.Generate(["p", "q"], _ => DenoisingStepResult.Continue, TinyLaVie.Options());
        using var cts = new CancellationTokenSource();
        int steps = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
            pipe.Generate("p", _ => { if (++steps == 4) { cts.Cancel(); } return DenoisingStepResult.Continue; }, TinyLaVie.Options(), null, cts.Token));
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Sigma_schedulers_and_bad_options_are_rejected_by_name()
    {
        using var pipe = _folder.Model.Load();
        pipe.Use(new FreeInit());
        var e = Assert.Throws<NotSupportedException>(() => pipe.Generate("p", TinyLaVie.Options() with { Scheduler = LaVieScheduler.EulerDiscrete }));
        Assert.Contains("EulerDiscreteScheduler", e.Message, StringComparison.Ordinal);
        Assert.Equal("Iterations", Assert.Throws<ArgumentOutOfRangeException>(() => new FreeInit(new FreeInitOptions { Iterations = 0 })).ParamName);
        Assert.Equal("SpatialStopFrequency", Assert.Throws<ArgumentOutOfRangeException>(() => new FreeInit(new FreeInitOptions { SpatialStopFrequency = 1.5 })).ParamName);
        Assert.Equal("Order", Assert.Throws<ArgumentOutOfRangeException>(() => new FreeInit(new FreeInitOptions { Order = 0 })).ParamName);
        var defaults = new FreeInitOptions();
        Assert.Equal((3, FreeInitFilter.Butterworth, 4, 0.25, 0.25, false), (defaults.Iterations, defaults.Filter, defaults.Order, defaults.SpatialStopFrequency, defaults.TemporalStopFrequency, defaults.FastSampling));
    }

    private static SamplingContext Context(IScheduler scheduler, Tensor latents, Generator generator) => new()
    {
        Denoiser = new NoDenoiser(),
        Scheduler = scheduler,
        Steps = 3,
        InitialLatents = latents,
        Conditioning = new VideoConditioning(zeros(latents.shape[0], 7, 32)),
        GuidanceScale = 1,
        Generator = generator,
    };

    // freq_mix_3d written out again here, in float64, from the definition.
    private static Tensor Mix(Tensor x, Tensor noise, Tensor lpf)
    {
        long[] dims = [-3, -2, -1];
        var l = lpf.to(ScalarType.Float64);
        var xf = fft.fftshift(fft.fftn(x.to(ScalarType.Float64), dim: dims), dims);
        var nf = fft.fftshift(fft.fftn(noise.to(ScalarType.Float64), dim: dims), dims);
        return fft.ifftn(fft.ifftshift((xf * l) + (nf * (1 - l)), dims), dim: dims).real.to(ScalarType.Float32);
    }

    private sealed class ConstantSampler : IVideoSampler
    {
        // Mostly DC (which the low-pass keeps), so that √ᾱ_999·z₀ visibly matters: t = 998 would be off by ~6e-4.
        public Tensor Z0 { get; } = ((arange(2 * 4 * 5 * 6 * 8, dtype: ScalarType.Float32).reshape(2, 4, 5, 6, 8).sin() * 0.5f) + 10f).DetachFromDisposeScope();

        public List<Tensor> Starts { get; } = [];

        public Tensor Sample(SamplingContext context)
        {
            Starts.Add(context.InitialLatents.clone().DetachFromDisposeScope());
            return Z0.clone();
        }
    }

    private sealed class NoDenoiser : IVideoDenoiser
    {
        public int InChannels => 4;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning) => zeros_like(latents);
    }

    private sealed class CountingDenoiser(IVideoDenoiser inner) : IVideoDenoiser
    {
        public int Calls { get; private set; }

        public int InChannels => inner.InChannels;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
        {
            Calls++;
            return inner.Predict(latents, timestep, conditioning);
        }

        public T? Find<T>()
            where T : class => this as T ?? inner.Find<T>();
    }

    private sealed class SyncProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
