using TorchSharp;
using Vchitect.Core;
using Vchitect.Core.Media;
using Vchitect.Core.Models;
using Vchitect.Models.Autoencoders;
using Vchitect.Models.Denoising;
using Vchitect.Pipelines;
using Vchitect.Schedulers;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Tests;

/// <summary>LaVie's interpolation stage end to end on a tiny random-weight model folder.</summary>
[Collection(PipelineTorchState.Name)]
public sealed class LaVieInterpolationPipelineTests : IClassFixture<LaVieInterpolationPipelineTests.Folder>
{
    private readonly Folder _folder;

    public LaVieInterpolationPipelineTests(Folder folder) => _folder = folder;

    private static LaVieInterpolationOptions Options(long seed = 5) => new() { Height = 32, Width = 32, Steps = 3, Seed = seed };

    [Fact]
    public void Output_frame_rule_is_the_references_repeat_and_drop()
    {
        // interpolation/sample.py: frames 0,4,…,60 of the 61 resampled ones are the 16 originals; repeat each 4× (64), drop
        // the first one and the last two.
        var expected = Enumerable.Range(0, 16).SelectMany(k => Enumerable.Repeat(k, 4)).Skip(1).SkipLast(2).ToArray();
        Assert.Equal(61, LaVieInterpolationPipeline.OutputFrameCount(16));
        Assert.Equal(expected, Enumerable.Range(0, 61).Select(LaVieInterpolationPipeline.GuideFrameOf).ToArray());

        // np.linspace(0, 15, 61).astype(int) at 4k is k: the rows of the resampled video that are copied are the originals.
        Assert.All(Enumerable.Range(0, 16), k => Assert.Equal(k, (int)Math.Floor(4 * k * 15.0 / 60)));
    }

    [Fact]
    public void Interpolates_N_frames_to_4N_minus_3_deterministically()
    {
        using var pipe = _folder.Load();
        var input = Folder.Input(frames: 4, height: 24, width: 40); // resized to 32×32
        var a = pipe.Interpolate(input, "a red ball", Options(seed: 3));
        var b = pipe.Interpolate(input, "a red ball", Options(seed: 3));
        var c = pipe.Interpolate(input, "a red ball", Options(seed: 4));
        Assert.Equal((13, 32, 32), (a.FrameCount, a.Height, a.Width));
        Assert.Equal(24, a.Fps);
        Assert.Equal(3, a.Seed);
        Assert.True(a.Pixels.Span.SequenceEqual(b.Pixels.Span));
        Assert.False(a.Pixels.Span.SequenceEqual(c.Pixels.Span));
    }

    [Fact]
    public void Guide_latents_are_the_input_frames_encoded_with_the_references_noise_rows()
    {
        using var pipe = _folder.Load();
        var spy = new SpyDenoiser(pipe.Denoiser);
        pipe.Denoiser = spy;
        var input = Folder.Input(frames: 3, height: 32, width: 32);
        pipe.Interpolate(input, "a dog", Options(seed: 21) with { Steps = 2 });

        // Independently: encode each frame alone with the folder's VAE, noise row 4k of randn(4N−3, 4, h, w) seeded with the seed.
        using var scope = NewDisposeScope();
        using var vae = AutoencoderKL.FromPretrained(ModelFolder.Open(_folder.Model.Path), "vae");
        using var rng = new RandomGenerator(21);
        var noise = rng.Randn([9, 4, 4, 4]);
        var pixels = (input.ToFloatTensor().permute(0, 3, 1, 2) * 2) - 1;
        var perFrame = new List<Tensor>();
        for (int k = 0; k < 3; k++)
        {
            using var posterior = vae.Encode(pixels[k].unsqueeze(0));
            perFrame.Add(posterior.Sample(noise[4 * k].unsqueeze(0)) * 0.18215);
        }

        var guide = spy.ConcatLatents!;
        Assert.Equal([2L, 4, 9, 4, 4], guide.shape); // [uncond, cond], 9 = 4·3 − 3 frames
        for (int j = 0; j < 9; j++)
        {
            var expected = perFrame[LaVieInterpolationPipeline.GuideFrameOf(j)][0];
            Assert.True(allclose(guide[1, .., j], expected, rtol: 1e-4, atol: 1e-5), $"guide frame {j}");
            Assert.True(guide[0, .., j].eq(guide[1, .., j]).all().item<bool>(), $"both CFG halves share guide frame {j}");
        }
    }

    [Fact]
    public void Denoiser_gets_the_ADM_respaced_original_timesteps_and_the_texts()
    {
        var encoder = new TinyPromptEncoder(32);
        using var pipe = _folder.Load(encoder);
        var spy = new SpyDenoiser(pipe.Denoiser);
        pipe.Denoiser = spy;
        pipe.Interpolate(Folder.Input(2, 32, 32), "a cat", Options() with { Steps = 4 });
        var expected = GuidedDiffusionScheduler.SpaceTimesteps(1000, "4").Reverse().ToArray();
        Assert.Equal(expected, spy.Timesteps);
        Assert.Equal(["a cat, 4k.", "None"], encoder.Seen);
        Assert.All(spy.Batches, b => Assert.Equal(2, b));
    }

    [Fact]
    public void Guidance_off_runs_one_batch_without_the_negative_prompt()
    {
        var encoder = new TinyPromptEncoder(32);
        using var pipe = _folder.Load(encoder);
        var spy = new SpyDenoiser(pipe.Denoiser);
        pipe.Denoiser = spy;
        pipe.Interpolate(Folder.Input(2, 32, 32), "a cat", Options() with { GuidanceScale = 1, AdditionalPrompt = string.Empty });
        Assert.Equal([1L, 1, 1], spy.Batches);
        Assert.Equal(["a cat"], encoder.Seen);
    }

    [Fact]
    public void Progress_once_per_step_and_cancellation_within_one_step()
    {
        using var pipe = _folder.Load();
        var reports = new List<GenerationProgress>();
        pipe.Interpolate(Folder.Input(2, 32, 32), "p", Options() with { Steps = 4 }, new SyncProgress(reports.Add));
        var denoise = reports.Where(r => r.Phase == GenerationPhase.Denoise).ToList();
        Assert.Equal([1, 2, 3, 4], denoise.Select(r => r.Step));
        Assert.All(denoise, r => Assert.Equal(4, r.Total));
        Assert.Equal(GenerationPhase.Encode, reports[0].Phase);
        Assert.Equal(GenerationPhase.Decode, reports[^1].Phase);

        using var cts = new CancellationTokenSource();
        var steps = new List<int>();
        Assert.ThrowsAny<OperationCanceledException>(() => pipe.Interpolate(
            Folder.Input(2, 32, 32),
            "p",
            Options() with { Steps = 4 },
            new SyncProgress(r =>
            {
                if (r.Phase == GenerationPhase.Denoise)
                {
                    steps.Add(r.Step);
                    cts.Cancel();
                }
            }),
            cts.Token));
        Assert.Equal([1], steps);
    }

    [Fact]
    public void Leaks_no_tensors()
    {
        using var pipe = _folder.Load();
        pipe.Interpolate(Folder.Input(2, 32, 32), "warm up", Options() with { Steps = 1 });
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        pipe.Interpolate(Folder.Input(3, 32, 32), "p", Options());
        pipe.Interpolate(Folder.Input(2, 32, 32), "p", _ => DenoisingStepResult.Stop, Options());
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            pipe.Interpolate(Folder.Input(2, 32, 32), "p", _ => { cts.Cancel(); return DenoisingStepResult.Continue; }, Options(), null, cts.Token));
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Chains_after_the_base_pipeline()
    {
        using var lavie = _folder.Base.Load();
        using var interp = _folder.Load();
        var clip = lavie.Generate("a red ball", TinyLaVie.Options() with { Frames = 3 });
        var smooth = interp.Interpolate(clip, "a red ball", Options());
        Assert.Equal((9, 32, 32), (smooth.FrameCount, smooth.Height, smooth.Width));
    }

    [Fact]
    public void Bad_input_is_refused_with_the_option_named()
    {
        using var pipe = _folder.Load();
        var ex = Assert.Throws<ArgumentException>(() => pipe.Interpolate(Folder.Input(1, 32, 32), "p", Options()));
        Assert.Contains("at least 2", ex.Message, StringComparison.Ordinal);
        Assert.Equal("Height", Assert.Throws<ArgumentOutOfRangeException>(() => pipe.Interpolate(Folder.Input(2, 32, 32), "p", Options() with { Height = 30 })).ParamName);
        Assert.Equal("Steps", Assert.Throws<ArgumentOutOfRangeException>(() => pipe.Interpolate(Folder.Input(2, 32, 32), "p", Options() with { Steps = 1001 })).ParamName);
        Assert.Equal("Eta", Assert.Throws<ArgumentOutOfRangeException>(() => pipe.Interpolate(Folder.Input(2, 32, 32), "p", Options() with { Eta = 2 })).ParamName);
    }

    [Fact]
    public void A_base_UNet_checkpoint_does_not_load_as_the_interpolation_UNet()
    {
        // The base folder's weights have 4 input channels and the rotary temporal attention: a strict load must refuse them.
        Assert.ThrowsAny<Exception>(() => LaVieInterpolationPipeline.FromPretrained(_folder.Base.Path));
    }

    public sealed class Folder : IDisposable
    {
        public TinyLaVie Model { get; } = new(seed: 4321, interpolationUNet: true);

        public TinyLaVie Base { get; } = new();

        public LaVieInterpolationPipeline Load() => LaVieInterpolationPipeline.FromPretrained(Model.Path);

        public LaVieInterpolationPipeline Load(TinyPromptEncoder encoder) =>
            LaVieInterpolationPipeline.FromPretrained(Model.Path, new LaVieInterpolationLoadOptions { PromptEncoder = encoder });

        /// <summary>A moving gradient video (deterministic).</summary>
        public static Video Input(int frames, int height, int width)
        {
            var rgb = new byte[frames * height * width * 3];
            for (int f = 0; f < frames; f++)
            {
                for (int y = 0; y < height; y++)
                {
                    for (int x = 0; x < width; x++)
                    {
                        int i = (((f * height) + y) * width + x) * 3;
                        rgb[i] = (byte)((x * 255 / width + f * 40) % 256);
                        rgb[i + 1] = (byte)(y * 255 / height);
                        rgb[i + 2] = (byte)(f * 60 % 256);
                    }
                }
            }

            return new Video(rgb, frames, height, width);
        }

        public void Dispose()
        {
            Model.Dispose();
            Base.Dispose();
        }
    }

    private sealed class SyncProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }

    private sealed class SpyDenoiser(IVideoDenoiser inner) : IVideoDenoiser
    {
        public List<long> Batches { get; } = [];

        public List<long> Timesteps { get; } = [];

        public Tensor? ConcatLatents { get; private set; }

        public int InChannels => inner.InChannels;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
        {
            Batches.Add(latents.shape[0]);
            Timesteps.Add(timestep.ndim == 0 ? timestep.to(ScalarType.Int64).item<long>() : timestep[0].to(ScalarType.Int64).item<long>());
            if (ConcatLatents is null && conditioning.ConcatLatents is { } c)
            {
                ConcatLatents = c.clone().DetachFromDisposeScope();
            }

            return inner.Predict(latents, timestep, conditioning);
        }
    }
}
