// <snippet>
using Vchitect.Core.Media;
using Vchitect.Models.Blocks;
using Vchitect.Models.Denoising;
using Vchitect.Pipelines;
using Vchitect.Pipelines.Plugins;
using static TorchSharp.torch;
// </snippet>
using Xunit;

namespace Vchitect.Docs.Tests.Snippets;

/// <summary>docs/freenoise.md: the pipeline examples compile (they need a model folder); the noise example runs.</summary>
public sealed class FreeNoiseSnippets
{
    internal static void Generate()
    {
        // <snippet>
        using var lavie = LaVieVideoPipeline.FromPretrained("models/lavie");
        lavie.Use(new FreeNoise());                                   // window 16, stride 4, pyramid, shuffle_context
        Video video = lavie.Generate("a red ball bouncing on grass", new LaVieOptions { Frames = 64, Seed = 7 });
        video.SaveGif("ball-64.gif");
        // </snippet>
    }

    internal static void Configure(LaVieVideoPipeline lavie)
    {
        // <snippet>
        lavie.Use(new FreeNoise(new FreeNoiseOptions
        {
            WindowSize = 16,                                // the model's training length
            Stride = 4,
            Weighting = WindowWeighting.Pyramid,            // or Flat, DelayedReverseSawtooth
            Tail = WindowTail.ExtraWindow,                  // or ExtraWindowDiffusers, Uncovered (FreeNoise-LaVie)
            Noise = NoiseRescheduling.ShuffleContext,       // or RepeatContext, Random
            ShuffleSeed = 1234,                             // null: drawn from the generation's seeded generator
        }));
        // </snippet>
    }

    internal static void MultiPrompt(LaVieVideoPipeline lavie)
    {
        // <snippet>
        using var encoder = ClipPromptEncoder.FromPretrained("models/lavie");
        lavie.Use(new FreeNoise(
            new FreeNoiseOptions { FramePrompts = new Dictionary<int, string> { [0] = "a cat sitting on a sofa", [40] = "a cat jumping off a sofa" } },
            encoder));
        Video story = lavie.Generate("a cat", new LaVieOptions { Frames = 64, Seed = 7 });
        // </snippet>
        _ = story;
    }

    internal static void ModelSwitch(LaVieVideoPipeline lavie, Tensor latents, Tensor t, VideoConditioning cond)
    {
        // <snippet>
        var unet = lavie.Denoiser.Find<UNet3DDenoiser>()!.Model;
        unet.TemporalWindowing = new TemporalWindowing { WindowSize = 16, Stride = 4 };
        try
        {
            using var noise = lavie.Denoiser.Predict(latents, t, cond);
        }
        finally
        {
            unet.TemporalWindowing = null;
        }
        // </snippet>
    }

    [Fact]
    public void Rescheduled_noise_copies_the_first_window()
    {
        using var scope = NewDisposeScope();
        // <snippet>
        using var generator = new Generator(7);
        var noise = randn([1, 4, 24, 40, 64], generator: generator);  // B, C, F, h, w
        var shuffles = FreeNoise.DrawShuffles(frames: 24, windowSize: 16, stride: 4, generator);
        var rescheduled = FreeNoise.RescheduleNoise(noise, 16, 4, shuffles);
        // frames 16..19 are frames 0..3 in shuffled order, frames 20..23 are frames 4..7 shuffled
        Console.WriteLine(string.Join(" | ", shuffles.Select(s => string.Join(",", s))));
        // </snippet>
        Assert.Equal(2, shuffles.Count);
        for (int j = 0; j < 4; j++)
        {
            Assert.True(rescheduled.narrow(2, 16 + j, 1).equal(noise.narrow(2, (int)shuffles[0][j], 1)).all().item<bool>());
            Assert.InRange(shuffles[1][j], 4, 7);
        }
    }
}
