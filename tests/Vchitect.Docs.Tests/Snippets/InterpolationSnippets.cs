using Vchitect.Core.Media;
using Vchitect.Pipelines;

namespace Vchitect.Docs.Tests.Snippets;

/// <summary>docs/pipelines.md, LaVie interpolation: compiled, not run (it needs a real model folder).</summary>
public static class InterpolationSnippets
{
    public static void Interpolate(Video video)
    {
        // <snippet>
        using var interpolation = LaVieInterpolationPipeline.FromPretrained("models/stable-diffusion-v1-4");
        Video smooth = interpolation.Interpolate(video, "a teddy bear walking on the beach, sunset", new LaVieInterpolationOptions { Seed = 3418 });
        smooth.SaveGif("teddy-61.gif");   // 61 frames at 24 fps
        // </snippet>
    }
}
