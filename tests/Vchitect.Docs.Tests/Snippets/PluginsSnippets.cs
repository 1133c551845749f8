// <snippet>
using Vchitect.Core.Media;
using Vchitect.Models.Denoising;
using Vchitect.Models.UNets;
using Vchitect.Pipelines;
using Vchitect.Pipelines.Plugins;
using static TorchSharp.torch;
// </snippet>

namespace Vchitect.Docs.Tests.Snippets;

/// <summary>docs/plugins.md: compiled, not run (they need real model folders).</summary>
public static class PluginsSnippets
{
    public static void Compose(LaVieVideoPipeline lavie)
    {
        // <snippet>
        lavie.Use(new FreeInit()).Use(new FreeU(FreeUOptions.SD14));
        Video video = lavie.Generate("a red ball bouncing on grass", new LaVieOptions { Steps = 50, Seed = 7 });
        // </snippet>
        _ = video;
    }

    public static void UseFreeU(LaVieVideoPipeline lavie)
    {
        // <snippet>
        lavie.Use(new FreeU(FreeUOptions.SD14));
        Video withFreeU = lavie.Generate("a teddy bear walking on the beach", new LaVieOptions { Seed = 400 });
        // </snippet>
        _ = withFreeU;
    }

    public static void OfficialFreeU(LaVieVideoPipeline lavie)
    {
        // <snippet>
        var official = new FreeU(FreeUOptions.SD14 with
        {
            Placement = FreeUPlacement.ByChannelCount,
            BackboneScaling = FreeUBackboneScaling.StructureAware,
        });
        // </snippet>
        lavie.Use(official);
    }

    public static void DecoderHook(LaVieVideoPipeline lavie)
    {
        // <snippet>
        UNet3DConditionModel unet = lavie.Denoiser.Find<UNet3DDenoiser>()!.Model;
        using (unet.AddDecoderSkipHook((site, features) =>
        {
            Console.WriteLine($"up_blocks.{site.UpBlockIndex} layer {site.LayerIndex}: h {features.Hidden.shape[1]} ch, skip {features.Skip.shape[1]} ch");
            return features;
        }))
        {
            lavie.Generate("a cat", new LaVieOptions { Steps = 1 });
        }
        // </snippet>
    }

    public static void UseFreeInit(LaVieVideoPipeline lavie)
    {
        // <snippet>
        lavie.Use(new FreeInit(new FreeInitOptions
        {
            Iterations = 3,
            Filter = FreeInitFilter.Butterworth,
            Order = 4,
            SpatialStopFrequency = 0.25,
            TemporalStopFrequency = 0.25,
        }));
        Video smoother = lavie.Generate("a red ball bouncing on grass", new LaVieOptions { Steps = 50, Seed = 7 });
        // </snippet>
        _ = smoother;
    }

    public static void IterationCallback(LaVieVideoPipeline lavie)
    {
        // <snippet>
        var passes = new List<float[]>();
        var freeInit = new FreeInit(new FreeInitOptions { Iterations = 4, FastSampling = true }, pass =>
        {
            Console.WriteLine($"pass {pass.Index + 1}/{pass.Count}: {pass.Steps} steps");
            passes.Add(pass.Latents.cpu().to(ScalarType.Float32).data<float>().ToArray());
        });
        lavie.Use(freeInit);
        // </snippet>
    }
}
