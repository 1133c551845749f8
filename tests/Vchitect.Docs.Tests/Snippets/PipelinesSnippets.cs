// <snippet>
using Vchitect.Core.Media;
using Vchitect.Models.Denoising;
using Vchitect.Pipelines;
using static TorchSharp.torch;
// </snippet>

namespace Vchitect.Docs.Tests.Snippets;

/// <summary>docs/pipelines.md: compiled, not run (they need real model folders).</summary>
public static class PipelinesSnippets
{
    public static void Generate()
    {
        // <snippet>
        using var lavie = LaVieVideoPipeline.FromPretrained("models/stable-diffusion-v1-4", device: CPU, dtype: ScalarType.Float32);
        Video video = lavie.Generate(
            "a teddy bear walking on the beach, sunset",
            new LaVieOptions { Frames = 16, Height = 320, Width = 512, Steps = 50, GuidanceScale = 7.5, Seed = 400 });
        video.SaveGif("teddy.gif");
        Console.WriteLine($"seed {video.Seed}, {video.FrameCount} frames at {video.Fps} fps");
        // </snippet>
    }

    public static void ProgressAndCancellation(LaVieVideoPipeline lavie)
    {
        // <snippet>
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var progress = new Progress<GenerationProgress>(p => Console.WriteLine($"{p.Phase} {p.Step}/{p.Total} after {p.Elapsed}"));
        IReadOnlyList<Video> videos = lavie.Generate(
            ["a red ball bouncing on grass", "a cat playing piano"],
            new LaVieOptions { Scheduler = LaVieScheduler.Ddim, Steps = 25, Seed = 7 },
            progress,
            cts.Token);
        // </snippet>
        _ = videos;
    }

    public static void StepCallback(LaVieVideoPipeline lavie)
    {
        // <snippet>
        Video early = lavie.Generate("a sailing boat", step =>
        {
            Console.WriteLine($"step {step.Index + 1}/{step.Total} at t = {step.Timestep}, |x| = {step.Latents.abs().mean().item<float>()}");
            return step.Index == 19 ? DenoisingStepResult.Stop : DenoisingStepResult.Continue;
        });
        // </snippet>
        _ = early;
    }

    public static void Upscale(LaVieVideoPipeline lavie)
    {
        // <snippet>
        using var vsr = LaVieUpscalePipeline.FromPretrained("models/stable-diffusion-x4-upscaler", device: CPU, dtype: ScalarType.Float32);
        Video small = lavie.Generate("a teddy bear walking on the beach, sunset", new LaVieOptions { Seed = 400 });
        Video large = vsr.Upscale(small, "a teddy bear walking on the beach, sunset", new LaVieUpscaleOptions { Steps = 50, Seed = 10 });
        large.SaveMp4("teddy-1280x2048.mp4");   // 16 frames, 4× the height and width
        // </snippet>
    }

    public static void Decorate(LaVieVideoPipeline lavie)
    {
        // <snippet>
        lavie.Denoiser = new ScaledDenoiser(lavie.Denoiser, 0.98);
        // </snippet>
    }
}

// <snippet>
/// <summary>A denoiser decorator: wraps any <see cref="IVideoDenoiser"/> and scales its prediction.</summary>
public sealed class ScaledDenoiser(IVideoDenoiser inner, double scale) : IVideoDenoiser
{
    public int InChannels => inner.InChannels;

    public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning) =>
        inner.Predict(latents, timestep, conditioning) * scale;
}
// </snippet>
