using TorchSharp;
using Vchitect.Core;
using Vchitect.Core.Media;
using Vchitect.Models.Autoencoders;
using Vchitect.Models.Denoising;
using Vchitect.Models.UNets.Vsr;
using Vchitect.Pipelines;
using Vchitect.TestUtilities;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Tests;

[Collection(PipelineTorchState.Name)]
public sealed class LaVieUpscalePipelineTests : IClassFixture<LaVieUpscalePipelineTests.Folder>
{
    private readonly Folder _folder;

    public LaVieUpscalePipelineTests(Folder folder) => _folder = folder;

    [Fact]
    public void Upscale_same_seed_gives_the_same_video_and_another_seed_another()
    {
        using var pipe = _folder.Model.Load();
        var input = TinyLaVieVsr.Input();
        var a = pipe.Upscale(input, "a red ball", TinyLaVieVsr.Options(seed: 11));
        var b = pipe.Upscale(input, "a red ball", TinyLaVieVsr.Options(seed: 11));
        var c = pipe.Upscale(input, "a red ball", TinyLaVieVsr.Options(seed: 12));
        Assert.Equal(11, a.Seed);
        Assert.True(a.Pixels.Span.SequenceEqual(b.Pixels.Span));
        Assert.False(a.Pixels.Span.SequenceEqual(c.Pixels.Span));
    }

    [Fact]
    public void Upscale_gives_four_times_the_size_with_the_same_frames_and_fps()
    {
        using var pipe = _folder.Model.Load();
        Assert.Equal(4, pipe.ScaleFactor);
        var v = pipe.Upscale(TinyLaVieVsr.Input(frames: 3, height: 8, width: 12, fps: 12), "a cat", TinyLaVieVsr.Options());
        Assert.Equal((3, 32, 48), (v.FrameCount, v.Height, v.Width));
        Assert.Equal(12, v.Fps);
        var w = pipe.Upscale(TinyLaVieVsr.Input(frames: 1), "a cat", TinyLaVieVsr.Options() with { Steps = 1, Fps = 24 });
        Assert.Equal((1, 32, 32, 24.0), (w.FrameCount, w.Height, w.Width, w.Fps));
    }

    [Fact]
    public void Upscale_video_input_is_mapped_to_minus_one_one_as_the_reference_reads_frames()
    {
        using var pipe = _folder.Model.Load();
        var input = TinyLaVieVsr.Input(frames: 2);
        var fromVideo = pipe.Upscale(input, "p", TinyLaVieVsr.Options() with { Steps = 1 });
        using var scope = NewDisposeScope();
        // vsr/sample.py: vframes / 255, (x − 0.5) · 2, then b c t h w.
        var frames = (((input.ToTensor().to(ScalarType.Float32) / 255) - 0.5) * 2).permute(3, 0, 1, 2).unsqueeze(0);
        var fromTensor = pipe.Upscale(frames, "p", TinyLaVieVsr.Options() with { Steps = 1 });
        Assert.True(fromVideo.Pixels.Span.SequenceEqual(fromTensor.Pixels.Span));
        Assert.Equal(Video.DefaultFps, fromTensor.Fps);
        Assert.Equal(12, fromVideo.Fps);
    }

    [Fact]
    public void Upscale_reports_progress_once_per_step_across_chunks_in_order()
    {
        using var pipe = _folder.Model.Load();
        var reports = new List<GenerationProgress>();
        pipe.Upscale(TinyLaVieVsr.Input(frames: 3), "p", TinyLaVieVsr.Options() with { Steps = 2, ChunkFrames = 2, DecodeChunkFrames = 1 }, new SyncProgress(reports.Add));
        var denoise = reports.Where(r => r.Phase == GenerationPhase.Denoise).ToList();
        Assert.Equal([1, 2, 3, 4], denoise.Select(r => r.Step));
        Assert.All(denoise, r => Assert.Equal(4, r.Total));
        Assert.Equal(GenerationPhase.Encode, reports[0].Phase);
        var decode = reports.Where(r => r.Phase == GenerationPhase.Decode).ToList();
        Assert.Equal([0, 1, 2, 3], decode.Select(r => r.Step));
        Assert.All(decode, r => Assert.Equal(3, r.Total));
        Assert.Equal(GenerationPhase.Decode, reports[^1].Phase);
        Assert.True(reports.Zip(reports.Skip(1)).All(p => p.First.Elapsed <= p.Second.Elapsed));
    }

    [Fact]
    public void Upscale_cancelled_at_step_k_runs_no_further_step()
    {
        using var pipe = _folder.Model.Load();
        using var cts = new CancellationTokenSource();
        int steps = 0;
        var progress = new SyncProgress(r =>
        {
            if (r.Phase == GenerationPhase.Denoise && r.Step == 3)
            {
                cts.Cancel();
            }
        });
        // Two chunks of 2 steps: the cancel comes in the second chunk's first step.
        Assert.ThrowsAny<OperationCanceledException>(() => pipe.Upscale(
            TinyLaVieVsr.Input(frames: 3), "p", _ => { steps++; return DenoisingStepResult.Continue; },
            TinyLaVieVsr.Options() with { Steps = 2, ChunkFrames = 2 }, progress, cts.Token));
        Assert.Equal(3, steps);
    }

    [Fact]
    public void Upscale_stop_request_ends_the_current_chunk_only()
    {
        using var pipe = _folder.Model.Load();
        var seen = new List<(int Index, int Total)>();
        var v = pipe.Upscale(TinyLaVieVsr.Input(frames: 3), "p", s =>
        {
            seen.Add((s.Index, s.Total));
            return DenoisingStepResult.Stop;
        }, TinyLaVieVsr.Options() with { Steps = 3, ChunkFrames = 2 });
        Assert.Equal([(0, 6), (3, 6)], seen);
        Assert.Equal(3, v.FrameCount);
    }

    [Fact]
    public void Plugins_wrap_the_upscalers_denoiser()
    {
        using var pipe = _folder.Model.Load();
        var plugin = new RecordingPlugin();
        pipe.Use(plugin);
        pipe.Upscale(TinyLaVieVsr.Input(frames: 1), "p", TinyLaVieVsr.Options() with { Steps = 2 });
        Assert.Equal(2, plugin.Denoiser!.Calls.Count);
        Assert.IsType<UNet3DVSRDenoiser>(plugin.Denoiser.Inner);
    }

    [Fact]
    public void Upscale_checks_cancellation_before_each_VAE_chunk()
    {
        using var pipe = _folder.Model.Load();
        using var cts = new CancellationTokenSource();
        var reports = new List<GenerationProgress>();
        var progress = new SyncProgress(r =>
        {
            reports.Add(r);
            if (r.Phase == GenerationPhase.Decode && r.Step == 1)
            {
                cts.Cancel();
            }
        });
        Assert.ThrowsAny<OperationCanceledException>(() => pipe.Upscale(TinyLaVieVsr.Input(frames: 3), "p", TinyLaVieVsr.Options() with { DecodeChunkFrames = 1 }, progress, cts.Token));
        Assert.Equal(2, reports.Count(r => r.Phase == GenerationPhase.Denoise));
        Assert.Equal([0, 1], reports.Where(r => r.Phase == GenerationPhase.Decode).Select(r => r.Step));
    }

    [Fact]
    public void Upscale_with_a_cancelled_token_throws_before_any_work()
    {
        using var pipe = _folder.Model.Load();
        var spy = new RecordingDenoiser(pipe.Denoiser);
        pipe.Denoiser = spy;
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => pipe.Upscale(TinyLaVieVsr.Input(), "p", TinyLaVieVsr.Options(), null, cts.Token));
        Assert.Empty(spy.Calls);
    }

    [Fact]
    public void Upscale_of_ten_frames_runs_a_chunk_of_eight_then_two_and_returns_ten_frames()
    {
        using var pipe = _folder.Model.Load();
        var spy = new RecordingDenoiser(pipe.Denoiser);
        pipe.Denoiser = spy;
        var v = pipe.Upscale(TinyLaVieVsr.Input(frames: 10), "p", TinyLaVieVsr.Options() with { Steps = 1 });
        Assert.Equal((10, 32, 32), (v.FrameCount, v.Height, v.Width));
        Assert.Equal([8L, 2], spy.Calls.Select(c => c.Latents.shape[2]));
        Assert.All(spy.Calls, c => Assert.Equal(2, c.Latents.shape[0])); // guidance 5: [uncond, cond]
    }

    [Fact]
    public void Upscale_noises_the_low_res_frames_and_draws_latents_in_the_reference_order()
    {
        // By hand: ᾱ of the x4 low_res_scheduler (scaled_linear 1e-4 … 0.02, 1000 steps) at noise level 50, and the
        // generator's draws per chunk: low-res noise (1,3,T',H,W), then latents (1,4,T',H,W), chunk after chunk.
        double alphaBar = 1;
        for (int i = 0; i <= 50; i++)
        {
            double s = Math.Sqrt(1e-4) + ((Math.Sqrt(0.02) - Math.Sqrt(1e-4)) * i / 999.0);
            alphaBar *= 1 - (s * s);
        }

        Assert.Equal(0.99084, alphaBar, 5e-5); // the value pipelines.md §3 quotes

        using var pipe = _folder.Model.Load();
        var spy = new RecordingDenoiser(pipe.Denoiser);
        pipe.Denoiser = spy;
        var input = TinyLaVieVsr.Input(frames: 3);
        pipe.Upscale(input, "p", TinyLaVieVsr.Options(seed: 77) with { Steps = 1, ChunkFrames = 2 });
        Assert.Equal(2, spy.Calls.Count);

        using var scope = NewDisposeScope();
        var image = (((input.ToTensor().to(ScalarType.Float32) / 255) - 0.5) * 2).permute(3, 0, 1, 2).unsqueeze(0);
        using var rng = new RandomGenerator(77);
        int start = 0;
        foreach (var call in spy.Calls)
        {
            int frames = (int)call.Latents.shape[2];
            var low = image.slice(2, start, start + frames, 1);
            var n = rng.Randn([1, 3, frames, 8, 8]);
            var x = rng.Randn([1, 4, frames, 8, 8]);
            var expectedLow = (Math.Sqrt(alphaBar) * low) + (Math.Sqrt(1 - alphaBar) * n);
            AssertClose(expectedLow, call.LowRes![0].unsqueeze(0), 1e-5, "noised low-res frames (uncond row)");
            AssertClose(expectedLow, call.LowRes[1].unsqueeze(0), 1e-5, "noised low-res frames (cond row)");
            AssertClose(x, call.Latents[0].unsqueeze(0), 0, "initial latents (uncond row)");
            AssertClose(x, call.Latents[1].unsqueeze(0), 0, "initial latents (cond row)");
            Assert.Equal([50L, 50], call.ClassLabels!.data<long>().ToArray());
            start += frames;
        }
    }

    [Fact]
    public void Upscale_steps_are_DDIM_v_prediction_on_linear_betas_with_guidance_computed_by_hand()
    {
        using var pipe = _folder.Model.Load();
        var spy = new RecordingDenoiser(pipe.Denoiser);
        pipe.Denoiser = spy;
        var after = new List<(double T, Tensor X)>();
        pipe.Upscale(TinyLaVieVsr.Input(frames: 2), "a dog", s =>
        {
            after.Add((s.Timestep, s.Latents.detach().clone().DetachFromDisposeScope()));
            return DenoisingStepResult.Continue;
        }, TinyLaVieVsr.Options() with { Steps = 3 });

        // DDIM leading spacing + steps_offset 1: 3 steps of 333 → 667, 334, 1; the last goes to ᾱ_0 (set_alpha_to_one false).
        Assert.Equal([667.0, 334, 1], after.Select(a => a.T));
        var alphaBar = new double[1000];
        double prod = 1;
        for (int i = 0; i < 1000; i++)
        {
            prod *= 1 - (1e-4 + ((0.02 - 1e-4) * i / 999.0)); // linear, not the file's scaled_linear
            alphaBar[i] = prod;
        }

        using var scope = NewDisposeScope();
        for (int k = 0; k < 3; k++)
        {
            var call = spy.Calls[k];
            int t = (int)after[k].T;
            double a = alphaBar[t];
            double aPrev = t - 333 >= 0 ? alphaBar[t - 333] : alphaBar[0];
            var x = call.Latents[0];
            var v = call.Output[0] + (5.0 * (call.Output[1] - call.Output[0]));
            var x0 = (Math.Sqrt(a) * x) - (Math.Sqrt(1 - a) * v);
            var eps = (Math.Sqrt(a) * v) + (Math.Sqrt(1 - a) * x);
            var expected = (Math.Sqrt(aPrev) * x0) + (Math.Sqrt(1 - aPrev) * eps);
            AssertClose(expected, after[k].X[0], 1e-4, $"latents after step {k}");
            Assert.Equal((long)t, call.Timestep.to(ScalarType.Int64).item<long>());
        }

        foreach (var (_, x) in after)
        {
            x.Dispose();
        }
    }

    [Fact]
    public void Upscale_guidance_batches_negative_then_prompt_and_off_runs_one_row()
    {
        using var pipe = _folder.Model.Load();
        var spy = new RecordingDenoiser(pipe.Denoiser);
        pipe.Denoiser = spy;
        pipe.Upscale(TinyLaVieVsr.Input(frames: 1), "a dog", TinyLaVieVsr.Options() with { Steps = 1 });
        using var encoder = ClipPromptEncoder.FromPretrained(_folder.Model.Path);
        using (var scope = NewDisposeScope())
        {
            var expected = cat([encoder.Encode(["blur, worst quality"]), encoder.Encode(["a dog"])], 0);
            AssertClose(expected, spy.Calls[0].Text, 1e-6, "text conditioning");
        }

        var off = new RecordingDenoiser(spy.Inner);
        pipe.Denoiser = off;
        pipe.Upscale(TinyLaVieVsr.Input(frames: 1), "a dog", TinyLaVieVsr.Options() with { Steps = 1, GuidanceScale = 1 });
        Assert.Equal(1, off.Calls[0].Latents.shape[0]);
    }

    [Fact]
    public void Upscale_chains_after_the_base_pipeline()
    {
        using var base_ = new TinyLaVie();
        using var lavie = base_.Load();
        using var vsr = _folder.Model.Load();
        var small = lavie.Generate("a red ball", TinyLaVie.Options() with { Frames = 2, Height = 16, Width = 16, Steps = 1 });
        var large = vsr.Upscale(small, "a red ball", TinyLaVieVsr.Options() with { Steps = 1 });
        Assert.Equal((2, 64, 64), (large.FrameCount, large.Height, large.Width));
        Assert.Equal(small.Fps, large.Fps);
    }

    [Fact]
    public void Upscale_leaks_no_tensors()
    {
        using var pipe = _folder.Model.Load();
        pipe.Upscale(TinyLaVieVsr.Input(frames: 1), "warm up", TinyLaVieVsr.Options() with { Steps = 1 });
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        pipe.Upscale(TinyLaVieVsr.Input(frames: 3), "p", TinyLaVieVsr.Options() with { ChunkFrames = 2, Eta = 0.5 });
        pipe.Upscale(TinyLaVieVsr.Input(frames: 2), "p", _ => DenoisingStepResult.Continue, TinyLaVieVsr.Options() with { GuidanceScale = 0 });
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            pipe.Upscale(TinyLaVieVsr.Input(), "p", _ => { cts.Cancel(); return DenoisingStepResult.Continue; }, TinyLaVieVsr.Options(), null, cts.Token));
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Pipeline_built_in_an_ended_scope_still_upscales()
    {
        LaVieUpscalePipeline pipe;
        using (NewDisposeScope())
        {
            pipe = _folder.Model.Load();
        }

        using (pipe)
        {
            Assert.Equal(2, pipe.Upscale(TinyLaVieVsr.Input(frames: 2), "p", TinyLaVieVsr.Options() with { Steps = 1 }).FrameCount);
        }
    }

    [Fact]
    public void Upscale_runs_in_bfloat16_with_the_VAE_in_float32()
    {
        using var pipe = LaVieUpscalePipeline.FromPretrained(_folder.Model.Path, dtype: ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, pipe.DType);
        var dtypes = new List<ScalarType>();
        var v = pipe.Upscale(TinyLaVieVsr.Input(frames: 2), "p", s => { dtypes.Add(s.Latents.dtype); return DenoisingStepResult.Continue; }, TinyLaVieVsr.Options());
        Assert.Equal((2, 32, 32), (v.FrameCount, v.Height, v.Width));
        Assert.Equal([ScalarType.BFloat16, ScalarType.BFloat16], dtypes);
    }

    [Fact]
    public void Hub_2D_unet_config_loads_as_LaVies_temporal_layout()
    {
        using var hub = new TinyLaVieVsr(hubUNetConfig: true);
        using var fromHub = hub.Load();
        using var from3D = _folder.Model.Load();
        var a = fromHub.Upscale(TinyLaVieVsr.Input(frames: 2), "p", TinyLaVieVsr.Options() with { Steps = 1 });
        var b = from3D.Upscale(TinyLaVieVsr.Input(frames: 2), "p", TinyLaVieVsr.Options() with { Steps = 1 });
        Assert.True(a.Pixels.Span.SequenceEqual(b.Pixels.Span));
    }

    [Fact]
    public void FromPretrained_reads_LaVies_scheduler_overrides_and_the_low_res_scheduler()
    {
        using var pipe = _folder.Model.Load();
        var c = pipe.SchedulerConfig;
        Assert.Equal(("linear", 0.0001, 0.02, "v_prediction", false, 1, false), (c.BetaSchedule, c.BetaStart, c.BetaEnd, c.PredictionType, c.SetAlphaToOne, c.StepsOffset, c.ClipSample));
        var low = Assert.IsType<Vchitect.Schedulers.DDPMSchedulerConfig>(pipe.LowResSchedulerConfig);
        Assert.Equal("scaled_linear", low.BetaSchedule);
        Assert.Equal(350, pipe.MaxNoiseLevel);
    }

    [Fact]
    public void FromPretrained_accepts_unet_weights_named_by_the_options()
    {
        string elsewhere = Path.Combine(Path.GetTempPath(), "vchitect-vsr-unet-" + Guid.NewGuid().ToString("N") + ".safetensors");
        File.Copy(Path.Combine(_folder.Model.Path, "unet", "diffusion_pytorch_model.safetensors"), elsewhere);
        try
        {
            using var a = _folder.Model.Load();
            using var b = LaVieUpscalePipeline.FromPretrained(_folder.Model.Path, new LaVieUpscaleLoadOptions { UNetWeights = elsewhere });
            var o = TinyLaVieVsr.Options() with { Steps = 1 };
            Assert.True(a.Upscale(TinyLaVieVsr.Input(frames: 1), "p", o).Pixels.Span.SequenceEqual(b.Upscale(TinyLaVieVsr.Input(frames: 1), "p", o).Pixels.Span));
        }
        finally
        {
            File.Delete(elsewhere);
        }
    }

    [Theory]
    [InlineData(nameof(LaVieUpscaleOptions.NoiseLevel), 351)]
    [InlineData(nameof(LaVieUpscaleOptions.NoiseLevel), -1)]
    [InlineData(nameof(LaVieUpscaleOptions.Steps), 0)]
    [InlineData(nameof(LaVieUpscaleOptions.Steps), 1000)] // in the table, but steps_offset 1 pushes the first timestep to 1000
    [InlineData(nameof(LaVieUpscaleOptions.GuidanceScale), -1)]
    [InlineData(nameof(LaVieUpscaleOptions.Eta), 2)]
    [InlineData(nameof(LaVieUpscaleOptions.ChunkFrames), -1)]
    [InlineData(nameof(LaVieUpscaleOptions.DecodeChunkFrames), -1)]
    [InlineData(nameof(LaVieUpscaleOptions.Fps), 0)]
    [InlineData(nameof(LaVieUpscaleOptions.NegativePrompt), 0)]
    public void Upscale_with_a_bad_option_throws_naming_it(string option, int value)
    {
        var o = TinyLaVieVsr.Options();
        o = option switch
        {
            nameof(LaVieUpscaleOptions.NoiseLevel) => o with { NoiseLevel = value },
            nameof(LaVieUpscaleOptions.Steps) => o with { Steps = value },
            nameof(LaVieUpscaleOptions.GuidanceScale) => o with { GuidanceScale = value },
            nameof(LaVieUpscaleOptions.Eta) => o with { Eta = value },
            nameof(LaVieUpscaleOptions.ChunkFrames) => o with { ChunkFrames = value },
            nameof(LaVieUpscaleOptions.DecodeChunkFrames) => o with { DecodeChunkFrames = value },
            nameof(LaVieUpscaleOptions.Fps) => o with { Fps = value },
            _ => o with { NegativePrompt = null! },
        };
        using var pipe = _folder.Model.Load();
        var spy = new RecordingDenoiser(pipe.Denoiser);
        pipe.Denoiser = spy;
        var e = Assert.ThrowsAny<ArgumentException>(() => pipe.Upscale(TinyLaVieVsr.Input(), "p", o));
        Assert.Equal(option, e.ParamName);
        Assert.Contains(option, e.Message, StringComparison.Ordinal);
        Assert.Empty(spy.Calls);
    }

    [Fact]
    public void Upscale_rejects_a_tensor_that_is_not_one_video_of_RGB_frames()
    {
        using var pipe = _folder.Model.Load();
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => pipe.Upscale(zeros(new long[] { 1, 4, 2, 8, 8 }), "p", TinyLaVieVsr.Options()));
        Assert.Contains("(1, 3, T, H, W)", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => pipe.Upscale(zeros(new long[] { 1, 3, 2, 8, 8 }, ScalarType.Byte), "p", TinyLaVieVsr.Options()));
    }

    [Fact]
    public void Defaults_are_LaVies_VSR_sample_settings()
    {
        var o = new LaVieUpscaleOptions();
        Assert.Equal((50, 50, 5.0, "blur, worst quality", 0.0, 8, 4), (o.NoiseLevel, o.Steps, o.GuidanceScale, o.NegativePrompt, o.Eta, o.ChunkFrames, o.DecodeChunkFrames));
        Assert.Equal(10, o.Seed);
        Assert.Null(o.Fps);
        o.Validate();
    }

    [Fact]
    public void Hub_style_2D_x4_unet_config_becomes_LaVies_published_layout()
    {
        // LaVie's unet_3d_config.json with its temporal keys removed and 2-D block names is the x4 hub config it came from.
        var node = System.Text.Json.Nodes.JsonNode.Parse(UNet3DVSRPresets.LaVieVsrJson)!.AsObject();
        foreach (string key in new[] { "down_temporal_idx", "mid_temporal", "up_temporal_idx", "temporal_module_config", "video_condition", "use_first_frame", "freeze_pretrained_2d_upsampler" })
        {
            Assert.True(node.Remove(key), key);
        }

        node["_class_name"] = "UNet2DConditionModel";
        node["down_block_types"] = new System.Text.Json.Nodes.JsonArray("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D");
        node["up_block_types"] = new System.Text.Json.Nodes.JsonArray("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D");
        var config = LaVieUpscalePipeline.ParseUNetConfig(node.ToJsonString(), "hub x4 unet/config.json", null);
        var published = UNet3DVSRPresets.LaVieVsr;
        Assert.Equal(published.DownTemporalIdx, config.DownTemporalIdx);
        Assert.Equal(published.UpTemporalIdx, config.UpTemporalIdx);
        Assert.Equal(published.MidTemporal, config.MidTemporal);
        Assert.Equal(published.DownBlockTypes, config.DownBlockTypes);
        Assert.Equal(published.UpBlockTypes, config.UpBlockTypes);
        Assert.Equal(published.TemporalModuleConfig!.AttentionBlockTypes, config.TemporalModuleConfig!.AttentionBlockTypes);
        Assert.Equal(published.TemporalModuleConfig with { AttentionBlockTypes = config.TemporalModuleConfig.AttentionBlockTypes }, config.TemporalModuleConfig);
        Assert.False(config.VideoCondition);

        // So lavie_vsr.pt's keys (the layout derived from the reference source) load strictly into it.
        using var unet = MetaDevice.Build(() => new UNet3DVSRModel(config));
        var actual = unet.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        Assert.Equal(string.Empty, Manifests.Compare(Manifests.Shapes("manifest_lavie_vsr_unet_derived.json"), actual));
    }

    [Fact]
    public void Real_size_components_fit_together()
    {
        var unet = MetaDevice.Build(() => new UNet3DVSRModel(UNet3DVSRPresets.LaVieVsr));
        var vae = MetaDevice.Build(() => new AutoencoderKL(AutoencoderKLPresets.X4Upscaler));
        using var pipe = new LaVieUpscalePipeline(new TinyPromptEncoder(1024), unet, vae);
        Assert.Equal(4, pipe.ScaleFactor);
        Assert.Equal(350, pipe.MaxNoiseLevel);
        Assert.Equal(0.08333, AutoencoderKLPresets.X4Upscaler.ScalingFactor);
        var c = pipe.SchedulerConfig;
        Assert.Equal(("linear", 0.0001, 0.02, "v_prediction", false, 1, false), (c.BetaSchedule, c.BetaStart, c.BetaEnd, c.PredictionType, c.SetAlphaToOne, c.StepsOffset, c.ClipSample));
        using var clipL = new TinyPromptEncoder(768);
        var e = Assert.Throws<ArgumentException>(() => new LaVieUpscalePipeline(clipL, unet, vae));
        Assert.Contains("cross_attention_dim is 1024", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chunk_ranges_cover_the_frames_in_order()
    {
        Assert.Equal([(0, 8), (8, 10)], LaVieUpscalePipeline.ChunkRanges(10, 8));
        Assert.Equal([(0, 8)], LaVieUpscalePipeline.ChunkRanges(8, 8));
        Assert.Equal([(0, 5)], LaVieUpscalePipeline.ChunkRanges(5, 8));
        Assert.Equal([(0, 5)], LaVieUpscalePipeline.ChunkRanges(5, 0));
    }

    [Fact]
    public void Upscale_after_dispose_throws()
    {
        var pipe = _folder.Model.Load();
        pipe.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pipe.Upscale(TinyLaVieVsr.Input(), "p"));
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        double max = (expected.to(ScalarType.Float64) - actual.to(ScalarType.Float64)).abs().max().item<double>();
        Assert.True(max <= tolerance, $"{what}: max abs error {max:g3} > {tolerance:g3}");
    }

    public sealed class Folder : IDisposable
    {
        public TinyLaVieVsr Model { get; } = new();

        public void Dispose() => Model.Dispose();
    }

    private sealed class RecordingPlugin : IPipelinePlugin
    {
        public RecordingDenoiser? Denoiser { get; private set; }

        public IVideoDenoiser WrapDenoiser(IVideoDenoiser inner) => Denoiser = new RecordingDenoiser(inner);
    }

    private sealed class SyncProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }

    /// <summary>One denoiser call: copies of its inputs and output, kept out of every dispose scope.</summary>
    private sealed record Call(Tensor Latents, Tensor Timestep, Tensor Text, Tensor? LowRes, Tensor? ClassLabels, Tensor Output);

    private sealed class RecordingDenoiser(IVideoDenoiser inner) : IVideoDenoiser
    {
        public IVideoDenoiser Inner => inner;

        public List<Call> Calls { get; } = [];

        public int InChannels => inner.InChannels;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
        {
            var output = inner.Predict(latents, timestep, conditioning);
            Calls.Add(new Call(Keep(latents)!, Keep(timestep)!, Keep(conditioning.TextEmbeddings)!, Keep(conditioning.LowResVideo), Keep(conditioning.ClassLabels), Keep(output)!));
            return output;
        }

        private static Tensor? Keep(Tensor? t) => t?.detach().clone().to(t.dtype == ScalarType.BFloat16 ? ScalarType.Float32 : t.dtype).DetachFromDisposeScope();
    }
}
