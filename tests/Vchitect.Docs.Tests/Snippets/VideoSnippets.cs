// <snippet>
using Vchitect.Core.Media;
using static TorchSharp.torch;
// </snippet>
using Xunit;

namespace Vchitect.Docs.Tests.Snippets;

/// <summary>docs/video.md, run in a temporary working folder.</summary>
public sealed class VideoSnippets
{
    [Fact]
    public void Save_and_load_example_runs()
    {
        using var cwd = TemporaryWorkingDirectory.Create();
        // <snippet>
        using var frames = rand(16, 64, 96, 3);                // (F, H, W, 3), floats in [0, 1]
        Video video = Video.FromTensor(frames, fps: 8);
        video.SaveGif("clip.gif");                             // animated, loops forever, delay round(100/fps) cs
        video.SavePngFrames("clip-frames");                    // clip-frames/frame_0000.png ...
        video.SaveMp4("clip.mp4");                             // H.264 through ffmpeg (needs ffmpeg on PATH)

        Video again = Video.Load("clip.mp4");                  // any video ffmpeg reads, or a GIF, or an image
        Video first = Video.LoadImage("clip-frames/frame_0000.png");
        using var tensor = first.ToFloatTensor();              // (1, H, W, 3) float32 in [0, 1]
        // </snippet>
        Assert.Equal(16, again.FrameCount);
        Assert.Equal((64, 96), (again.Height, again.Width));
        Assert.Equal(new long[] { 1, 64, 96, 3 }, tensor.shape);
        Assert.Equal(16, Directory.GetFiles("clip-frames", "*.png").Length);
        Assert.True(new FileInfo("clip.gif").Length > 0);
    }
}
