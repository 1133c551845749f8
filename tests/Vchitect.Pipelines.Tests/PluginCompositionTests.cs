using Vchitect.Core.Media;
using Vchitect.Pipelines;
using Vchitect.Pipelines.Plugins;
using Xunit;

namespace Vchitect.Pipelines.Tests;

/// <summary>FreeU, FreeInit and FreeNoise together on LaVie: every order runs, and FreeU's place in the stack does not matter.</summary>
[Collection(PipelineTorchState.Name)]
public sealed class PluginCompositionTests : IClassFixture<LaVieVideoPipelineTests.Folder>
{
    private readonly LaVieVideoPipelineTests.Folder _folder;

    public PluginCompositionTests(LaVieVideoPipelineTests.Folder folder) => _folder = folder;

    private static IPipelinePlugin Make(char name) => name switch
    {
        'U' => new FreeU(FreeUOptions.Video),
        'I' => new FreeInit(new FreeInitOptions { Iterations = 2 }),
        'N' => new FreeNoise(new FreeNoiseOptions { WindowSize = 8, Stride = 4 }),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Fact]
    public void All_six_orders_run_and_FreeU_commutes_with_both()
    {
        var options = TinyLaVie.Options(seed: 17) with { Frames = 12, Steps = 2 };
        var videos = new Dictionary<string, Video>();
        foreach (string order in new[] { "UIN", "UNI", "IUN", "INU", "NUI", "NIU" })
        {
            using var pipe = _folder.Model.Load();
            foreach (char c in order)
            {
                pipe.Use(Make(c));
            }

            videos[order] = pipe.Generate("a red ball", options);
            Assert.Equal((12, 32, 32), (videos[order].FrameCount, videos[order].Height, videos[order].Width));
        }

        // Use(a).Use(b): b is outermost. FreeU decorates the denoiser only, so wherever it sits, the result depends only on
        // whether FreeInit or FreeNoise is the outer sampler.
        static bool Same(Video a, Video b) => a.Pixels.Span.SequenceEqual(b.Pixels.Span);
        Assert.True(Same(videos["UIN"], videos["IUN"]) && Same(videos["IUN"], videos["INU"]), "FreeNoise outermost sampler: FreeU's place changed the video");
        Assert.True(Same(videos["UNI"], videos["NUI"]) && Same(videos["NUI"], videos["NIU"]), "FreeInit outermost sampler: FreeU's place changed the video");

        // FreeU does change the result, so the equalities above are not vacuous.
        using var withoutFreeU = _folder.Model.Load();
        withoutFreeU.Use(Make('I')).Use(Make('N'));
        Assert.False(Same(videos["IN" + "U"], withoutFreeU.Generate("a red ball", options)));
    }

    [Fact]
    public void FreeInit_and_FreeNoise_together_make_a_64_frame_video()
    {
        using var pipe = _folder.Model.Load();
        pipe.Use(new FreeInit(new FreeInitOptions { Iterations = 2 })).Use(new FreeNoise(new FreeNoiseOptions { WindowSize = 16, Stride = 4 }));
        var reports = new List<GenerationProgress>();
        var video = pipe.Generate("a red ball", TinyLaVie.Options(seed: 3) with { Frames = 64, Steps = 2 }, new SyncProgress(reports.Add));
        Assert.Equal((64, 32, 32), (video.FrameCount, video.Height, video.Width));
        Assert.Equal(4, reports.Count(r => r.Phase == GenerationPhase.Denoise)); // 2 FreeInit passes × 2 steps
    }

    private sealed class SyncProgress(Action<GenerationProgress> report) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) => report(value);
    }
}
