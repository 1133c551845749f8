using TorchSharp;
using Vchitect.Core.Media;
using Vchitect.Models.Denoising;
using Vchitect.Pipelines;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Tests;

[Collection(PipelineTorchState.Name)]
public sealed class LaVieVideoPipelineTests : IClassFixture<LaVieVideoPipelineTests.Folder>
{
    private readonly Folder _folder;

    public LaVieVideoPipelineTests(Folder folder) => _folder = folder;

    [Fact]
    public void Same_seed_gives_the_same_video_and_reports_the_seed()
    {
        using var pipe = _folder.Model.Load();
        var a = pipe.Generate("a red ball", TinyLaVie.Options(seed: 11));
        var b = pipe.Generate("a red ball", TinyLaVie.Options(seed: 11));
        var c = pipe.Generate("a red ball", TinyLaVie.Options(seed: 12));
        Assert.Equal(11, a.Seed);
        Assert.True(a.Pixels.Span.SequenceEqual(b.Pixels.Span));
        Assert.False(a.Pixels.Span.SequenceEqual(c.Pixels.Span));
    }

    [Fact]
    public void Null_seed_picks_one_and_reports_it()
    {
        using var pipe = _folder.Model.Load();
        var a = pipe.Generate("x", TinyLaVie.Options() with { Seed = null, Steps = 1 });
        Assert.NotNull(a.Seed);
        var b = pipe.Generate("x", TinyLaVie.Options() with { Seed = a.Seed, Steps = 1 });
        Assert.True(a.Pixels.Span.SequenceEqual(b.Pixels.Span));
    }

    [Fact]
    public void Video_has_the_requested_shape_and_fps()
    {
        using var pipe = _folder.Model.Load();
        var v = pipe.Generate("a cat", TinyLaVie.Options() with { Frames = 3, Height = 32, Width = 48, Fps = 12 });
        Assert.Equal((3, 32, 48), (v.FrameCount, v.Height, v.Width));
        Assert.Equal(12, v.Fps);
    }

    [Fact]
    public void Progress_is_reported_once_per_step_in_order()
    {
        using var pipe = _folder.Model.Load();
        var reports = new List<GenerationProgress>();
        pipe.Generate("p", TinyLaVie.Options() with { Steps = 4 }, new SyncProgress(reports.Add));
        var denoise = reports.Where(r => r.Phase == GenerationPhase.Denoise).ToList();
        Assert.Equal([1, 2, 3, 4], denoise.Select(r => r.Step));
        Assert.All(denoise, r => Assert.Equal(4, r.Total));
        Assert.Equal(GenerationPhase.Encode, reports[0].Phase);
        Assert.Equal(GenerationPhase.Decode, reports[^1].Phase);
        Assert.True(reports.Zip(reports.Skip(1)).All(p => p.First.Elapsed <= p.Second.Elapsed));
    }

    [Fact]
    public void Cancellation_at_step_k_stops_before_the_next_step()
    {
        using var pipe = _folder.Model.Load();
        using var cts = new CancellationTokenSource();
        int steps = 0;
        var progress = new SyncProgress(r =>
        {
            if (r.Phase == GenerationPhase.Denoise && r.Step == 2)
            {
                cts.Cancel();
            }
        });
        Assert.ThrowsAny<OperationCanceledException>(() =>
            pipe.Generate("p", _ => { steps++; return DenoisingStepResult.Continue; }, TinyLaVie.Options() with { Steps = 4 }, progress, cts.Token));
        Assert.Equal(2, steps);
    }

    [Fact]
    public void Cancellation_is_checked_before_the_VAE_chunks()
    {
        using var pipe = _folder.Model.Load();
        using var cts = new CancellationTokenSource();
        var reports = new List<GenerationProgress>();
        var progress = new SyncProgress(r =>
        {
            reports.Add(r);
            if (r.Phase == GenerationPhase.Decode)
            {
                cts.Cancel();
            }
        });
        Assert.ThrowsAny<OperationCanceledException>(() => pipe.Generate("p", TinyLaVie.Options() with { DecodeChunkFrames = 1 }, progress, cts.Token));
        Assert.Equal(3, reports.Count(r => r.Phase == GenerationPhase.Denoise));
        Assert.Single(reports, r => r.Phase == GenerationPhase.Decode);
    }

    [Fact]
    public void Cancelled_token_throws_before_any_work()
    {
        using var pipe = _folder.Model.Load();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => pipe.Generate("p", TinyLaVie.Options(), null, cts.Token));
    }

    [Fact]
    public void Callback_sees_every_step_and_can_replace_latents()
    {
        using var pipe = _folder.Model.Load();
        var timesteps = new List<double>();
        DenoisingStepResult ZeroAtEnd(DenoisingStepInfo s)
        {
            timesteps.Add(s.Timestep);
            Assert.Equal([1L, 4, 4, 4, 4], s.Latents.shape);
            return s.Index == s.Total - 1 ? DenoisingStepResult.Replace(zeros_like(s.Latents)) : DenoisingStepResult.Continue;
        }

        var a = pipe.Generate("p", ZeroAtEnd, TinyLaVie.Options(seed: 1));
        var b = pipe.Generate("p", ZeroAtEnd, TinyLaVie.Options(seed: 2));
        // DDPM, 3 steps, diffusers 0.16 leading spacing without offset: 666, 333, 0.
        Assert.Equal([666.0, 333, 0, 666, 333, 0], timesteps);
        Assert.True(a.Pixels.Span.SequenceEqual(b.Pixels.Span), "replaced final latents must decode to the same video");
    }

    [Fact]
    public void Callback_can_stop_early()
    {
        using var pipe = _folder.Model.Load();
        int steps = 0;
        var v = pipe.Generate("p", _ => { steps++; return DenoisingStepResult.Stop; }, TinyLaVie.Options() with { Steps = 4 });
        Assert.Equal(1, steps);
        Assert.Equal(4, v.FrameCount);
    }

    [Fact]
    public void Guidance_runs_one_batch_uncond_then_cond()
    {
        using var pipe = _folder.Model.Load();
        var spy = new SpyDenoiser(pipe.Denoiser);
        pipe.Denoiser = spy;
        pipe.Generate("a dog", TinyLaVie.Options() with { NegativePrompt = "blurry" });
        Assert.Equal([2L, 2, 2], spy.Batches);
        using var enc = ClipPromptEncoder.FromPretrained(_folder.Model.Path);
        using var scope = NewDisposeScope();
        var expected = cat([enc.Encode(["blurry"]), enc.Encode(["a dog"])], 0);
        Assert.True(expected.allclose(spy.LastConditioning!));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void Guidance_off_runs_the_conditional_batch_alone(double scale)
    {
        using var pipe = _folder.Model.Load();
        var spy = new SpyDenoiser(pipe.Denoiser);
        pipe.Denoiser = spy;
        var v = pipe.Generate("a dog", TinyLaVie.Options() with { GuidanceScale = scale });
        Assert.Equal([1L, 1, 1], spy.Batches);
        Assert.Equal(4, v.FrameCount);
    }

    [Fact]
    public void Batch_of_prompts_gives_one_video_each_matching_single_runs_without_guidance_noise_sharing()
    {
        using var pipe = _folder.Model.Load();
        var videos = pipe.Generate(["a red ball", "a blue cube"], TinyLaVie.Options());
        Assert.Equal(2, videos.Count);
        Assert.All(videos, v => Assert.Equal((4, 32, 32), (v.FrameCount, v.Height, v.Width)));
        Assert.All(videos, v => Assert.Equal(7, v.Seed));
        Assert.False(videos[0].Pixels.Span.SequenceEqual(videos[1].Pixels.Span));
        var again = pipe.Generate(["a red ball", "a blue cube"], TinyLaVie.Options());
        Assert.True(videos[1].Pixels.Span.SequenceEqual(again[1].Pixels.Span));
    }

    [Theory]
    [InlineData(LaVieScheduler.Ddim)]
    [InlineData(LaVieScheduler.EulerDiscrete)]
    public void Other_schedulers_run(LaVieScheduler scheduler)
    {
        using var pipe = _folder.Model.Load();
        var v = pipe.Generate("p", TinyLaVie.Options() with { Scheduler = scheduler });
        Assert.Equal(4, v.FrameCount);
    }

    [Fact]
    public void Chunked_decode_equals_whole()
    {
        using var pipe = _folder.Model.Load();
        var whole = pipe.Generate("p", TinyLaVie.Options());
        var chunked = pipe.Generate("p", TinyLaVie.Options() with { DecodeChunkFrames = 3 });
        int maxDiff = 0;
        for (int i = 0; i < whole.Pixels.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(whole.Pixels.Span[i] - chunked.Pixels.Span[i]));
        }

        Assert.True(maxDiff <= 1, $"max pixel difference {maxDiff}");
    }

    [Fact]
    public void Scheduler_config_has_LaVie_overrides()
    {
        using var pipe = _folder.Model.Load();
        var c = Assert.IsType<Vchitect.Schedulers.DDPMSchedulerConfig>(pipe.SchedulerConfig);
        Assert.Equal(("linear", 0.0001, 0.02, 1, false), (c.BetaSchedule, c.BetaStart, c.BetaEnd, c.StepsOffset, c.ClipSample));
    }

    [Fact]
    public void Generates_no_leaked_tensors()
    {
        using var pipe = _folder.Model.Load();
        // Warm-up: the pipeline keeps one scheduler per kind (its tables are long-lived, owned by the pipeline).
        pipe.Generate("warm up", TinyLaVie.Options() with { Steps = 1 });
        pipe.Generate("warm up", TinyLaVie.Options() with { Steps = 1, Scheduler = LaVieScheduler.Ddim });
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        pipe.Generate("p", TinyLaVie.Options());
        pipe.Generate(["p", "q"], _ => DenoisingStepResult.Continue, TinyLaVie.Options() with { Scheduler = LaVieScheduler.Ddim });
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            pipe.Generate("p", _ => { cts.Cancel(); return DenoisingStepResult.Continue; }, TinyLaVie.Options(), null, cts.Token));
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Pipeline_built_in_an_ended_scope_still_generates()
    {
        LaVieVideoPipeline pipe;
        using (NewDisposeScope())
        {
            pipe = _folder.Model.Load();
        }

        using (pipe)
        {
            var v = pipe.Generate("p", TinyLaVie.Options());
            Assert.Equal(4, v.FrameCount);
        }
    }

    [Theory]
    [InlineData(nameof(LaVieOptions.Frames))]
    [InlineData(nameof(LaVieOptions.Height))]
    [InlineData(nameof(LaVieOptions.Width))]
    [InlineData(nameof(LaVieOptions.Steps))]
    [InlineData(nameof(LaVieOptions.GuidanceScale))]
    [InlineData(nameof(LaVieOptions.Eta))]
    [InlineData(nameof(LaVieOptions.Fps))]
    [InlineData(nameof(LaVieOptions.DecodeChunkFrames))]
    [InlineData(nameof(LaVieOptions.NegativePrompt))]
    [InlineData(nameof(LaVieOptions.Scheduler))]
    public void Invalid_options_throw_naming_the_option(string option)
    {
        var o = TinyLaVie.Options();
        o = option switch
        {
            nameof(LaVieOptions.Frames) => o with { Frames = 0 },
            nameof(LaVieOptions.Height) => o with { Height = 36 },
            nameof(LaVieOptions.Width) => o with { Width = 0 },
            nameof(LaVieOptions.Steps) => o with { Steps = 1001 },
            nameof(LaVieOptions.GuidanceScale) => o with { GuidanceScale = double.NaN },
            nameof(LaVieOptions.Eta) => o with { Eta = 0.5 },
            nameof(LaVieOptions.Fps) => o with { Fps = 0 },
            nameof(LaVieOptions.DecodeChunkFrames) => o with { DecodeChunkFrames = -1 },
            nameof(LaVieOptions.NegativePrompt) => o with { NegativePrompt = null! },
            _ => o with { Scheduler = (LaVieScheduler)42 },
        };
        using var pipe = _folder.Model.Load();
        var e = Assert.ThrowsAny<ArgumentException>(() => pipe.Generate("p", o));
        Assert.Equal(option, e.ParamName);
        Assert.Contains(option, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_are_LaVies()
    {
        var o = new LaVieOptions();
        Assert.Equal((16, 320, 512, 50, 7.5, "", LaVieScheduler.Ddpm, 0.0, 8.0), (o.Frames, o.Height, o.Width, o.Steps, o.GuidanceScale, o.NegativePrompt, o.Scheduler, o.Eta, o.Fps));
        Assert.Null(o.Seed);
        o.Validate();
    }

    [Fact]
    public void Parameterless_constructor_points_to_FromPretrained()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new LaVieVideoPipeline());
        Assert.Contains("issue 5", e.Message, StringComparison.Ordinal);
        Assert.Contains("FromPretrained", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromPretrained_accepts_unet_weights_named_by_the_options()
    {
        string elsewhere = Path.Combine(Path.GetTempPath(), "vchitect-unet-" + Guid.NewGuid().ToString("N") + ".safetensors");
        File.Copy(Path.Combine(_folder.Model.Path, "unet", "diffusion_pytorch_model.safetensors"), elsewhere);
        try
        {
            using var a = _folder.Model.Load();
            using var b = LaVieVideoPipeline.FromPretrained(_folder.Model.Path, new LaVieLoadOptions { UNetWeights = elsewhere });
            Assert.True(a.Generate("p", TinyLaVie.Options()).Pixels.Span.SequenceEqual(b.Generate("p", TinyLaVie.Options()).Pixels.Span));
        }
        finally
        {
            File.Delete(elsewhere);
        }
    }

    [Fact]
    public void A_prompt_encoder_given_in_the_load_options_replaces_CLIP()
    {
        var encoder = new TinyPromptEncoder(32);
        using var pipe = _folder.Model.Load(encoder);
        pipe.Generate("a red ball", TinyLaVie.Options() with { Steps = 1, NegativePrompt = "dog" });
        Assert.Equal(["a red ball", "dog"], encoder.Seen);
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Runs_in_half_precision_and_follows_float32(ScalarType dtype)
    {
        using var pipe = LaVieVideoPipeline.FromPretrained(_folder.Model.Path, dtype: dtype);
        Assert.Equal(dtype, pipe.DType);
        var steps = new List<ScalarType>();
        var v = pipe.Generate("a red ball", s => { steps.Add(s.Latents.dtype); return DenoisingStepResult.Continue; }, TinyLaVie.Options());
        Assert.Equal(4, v.FrameCount);
        Assert.All(steps, d => Assert.Equal(dtype, d));

        // With the deterministic DDIM the half-precision video must follow float32 (mean absolute pixel difference on the
        // 0–255 scale; measured 0.29 for float16). DDPM is not compared: like diffusers it draws its step noise in the
        // model's dtype, and PyTorch's CPU randn gives other numbers in float16/bfloat16/float64 than in float32.
        var ddim = TinyLaVie.Options() with { Scheduler = LaVieScheduler.Ddim };
        using var full = _folder.Model.Load();
        var reference = full.Generate("a red ball", ddim);
        var half = pipe.Generate("a red ball", ddim);
        double sum = 0;
        for (int i = 0; i < half.Pixels.Length; i++)
        {
            sum += Math.Abs(half.Pixels.Span[i] - reference.Pixels.Span[i]);
        }

        double mean = sum / half.Pixels.Length;
        Assert.True(mean < (dtype == ScalarType.Float16 ? 1.0 : 4.0), $"{dtype}: mean |pixel − float32 pixel| = {mean:F3}");
    }

    [Fact]
    public void Generate_after_dispose_throws()
    {
        var pipe = _folder.Model.Load();
        pipe.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pipe.Generate("p", TinyLaVie.Options()));
    }

    public sealed class Folder : IDisposable
    {
        public TinyLaVie Model { get; } = new();

        public void Dispose() => Model.Dispose();
    }

    private sealed class SyncProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }

    private sealed class SpyDenoiser(IVideoDenoiser inner) : IVideoDenoiser
    {
        public List<long> Batches { get; } = [];

        public Tensor? LastConditioning { get; private set; }

        public int InChannels => inner.InChannels;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
        {
            Batches.Add(latents.shape[0]);
            LastConditioning?.Dispose();
            LastConditioning = conditioning.TextEmbeddings.clone().DetachFromDisposeScope();
            return inner.Predict(latents, timestep, conditioning);
        }
    }
}
