using Vchitect.Core.Media;
using Xunit;
using Xunit.Abstractions;

namespace Vchitect.Core.Tests.Media;

/// <summary>
/// MP4 save and ffmpeg-based load. CI installs ffmpeg, so these fail (with <see cref="FfmpegNotFoundException"/>'s install
/// hint) rather than skip when it is missing.
/// </summary>
public sealed class Mp4Tests(ITestOutputHelper output)
{
    [Fact]
    public void Mp4_round_trip_keeps_frames_size_fps_and_pixels_close()
    {
        using var dir = new TempFolder();
        var video = MediaTestData.Gradient(10, 64, 96, fps: 12);
        string path = dir.File("v.mp4");
        video.SaveMp4(path);
        Assert.Equal(["v.mp4"], dir.Entries());

        var loaded = Video.Load(path);
        Assert.Equal((10, 64, 96), (loaded.FrameCount, loaded.Height, loaded.Width));
        Assert.Equal(12, loaded.Fps, 3);
        Assert.Null(loaded.Seed);
        var (max, mean) = MediaTestData.Error(video.Pixels.Span, loaded.Pixels.Span);
        output.WriteLine($"MP4 crf 18 gradient: max abs error {max}/255, mean {mean:F3}/255");
        Assert.True(mean < 8, $"mean abs error {mean:F3}");
    }

    [Fact]
    public void Odd_sizes_are_padded_to_even()
    {
        using var dir = new TempFolder();
        var video = MediaTestData.Gradient(3, 17, 33, fps: 8);
        video.SaveMp4(dir.File("odd.mp4"), new Mp4Options { Preset = "ultrafast" });
        var loaded = Video.Load(dir.File("odd.mp4"));
        Assert.Equal((3, 18, 34), (loaded.FrameCount, loaded.Height, loaded.Width));
        Assert.Equal(8, loaded.Fps, 3);
    }

    [Fact]
    public void Load_options_limit_frames_and_resize()
    {
        using var dir = new TempFolder();
        MediaTestData.Gradient(6, 32, 32).SaveMp4(dir.File("v.mp4"), new Mp4Options { Preset = "ultrafast" });
        var loaded = Video.Load(dir.File("v.mp4"), new VideoLoadOptions { MaxFrames = 4, Width = 16, Height = 8, Fps = 30 });
        Assert.Equal((4, 8, 16, 30.0), (loaded.FrameCount, loaded.Height, loaded.Width, loaded.Fps));
        var e = Assert.Throws<InvalidDataException>(() => Video.Load(dir.File("v.mp4"), new VideoLoadOptions { MaxTotalBytes = 32 * 32 * 3 * 5 }));
        Assert.Contains("MaxTotalBytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_ffmpeg_gives_a_clear_exception_and_no_file()
    {
        using var dir = new TempFolder();
        var video = MediaTestData.Gradient(2, 4, 4);
        var e = Assert.Throws<FfmpegNotFoundException>(() => video.SaveMp4(dir.File("x.mp4"), new Mp4Options { FfmpegPath = "/nonexistent/ffmpeg" }));
        Assert.IsAssignableFrom<InvalidOperationException>(e);
        Assert.Contains("apt-get install ffmpeg", e.Message, StringComparison.Ordinal);
        Assert.Contains("SaveGif", e.Message, StringComparison.Ordinal);
        Assert.Empty(dir.Entries());

        File.WriteAllBytes(dir.File("v.avi"), [1, 2, 3, 4]);
        Assert.Throws<FfmpegNotFoundException>(() => Video.Load(dir.File("v.avi"), new VideoLoadOptions { FfmpegPath = "/nonexistent/ffmpeg" }));
    }

    [Fact]
    public void Ffmpeg_failure_reports_its_stderr()
    {
        using var dir = new TempFolder();
        var video = MediaTestData.Gradient(2, 4, 4);
        // A real ffmpeg refusing to write: the target folder exists as a file, so the temporary output cannot be created.
        string blocked = dir.File("blocked");
        File.WriteAllText(blocked, string.Empty);
        var e = Assert.ThrowsAny<Exception>(() => video.SaveMp4(Path.Combine(blocked, "x.mp4")));
        Assert.True(e is IOException, e.ToString());

        // A stand-in "ffmpeg" that fails and says why (a shell script: not on Windows).
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string fake = dir.File("fake-ffmpeg");
        File.WriteAllText(fake, "#!/bin/sh\necho 'Unknown encoder libx264 (fake)' >&2\nexit 3\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
        var failure = Assert.Throws<FfmpegException>(() => video.SaveMp4(dir.File("y.mp4"), new Mp4Options { FfmpegPath = fake }));
        Assert.Equal(3, failure.ExitCode);
        Assert.Contains("Unknown encoder libx264 (fake)", failure.Message, StringComparison.Ordinal);
        Assert.Equal(["blocked", "fake-ffmpeg"], dir.Entries().Order());
    }

    [Fact]
    public void Cancellation_kills_ffmpeg_and_leaves_no_file()
    {
        using var dir = new TempFolder();
        var video = MediaTestData.Gradient(120, 240, 320);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));
        Assert.ThrowsAny<OperationCanceledException>(() => video.SaveMp4(dir.File("c.mp4"), new Mp4Options { Preset = "veryslow" }, cts.Token));
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public void Timeout_kills_ffmpeg_and_leaves_no_file()
    {
        using var dir = new TempFolder();
        var video = MediaTestData.Gradient(120, 240, 320);
        Assert.Throws<TimeoutException>(() => video.SaveMp4(dir.File("t.mp4"), new Mp4Options { Preset = "veryslow", Timeout = TimeSpan.FromMilliseconds(150) }));
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public void Garbage_that_is_not_an_image_goes_to_ffmpeg_and_is_rejected()
    {
        using var dir = new TempFolder();
        string path = dir.File("junk.mp4");
        File.WriteAllBytes(path, Enumerable.Range(0, 5000).Select(i => (byte)(i * 7919 % 251)).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => Video.Load(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        output.WriteLine(e.Message);
    }

    [Fact]
    public void Ffmpegs_own_gif_decoder_reads_our_gifs_exactly()
    {
        // A second, independent GIF decoder: LZW code growth and table resets must agree with it too.
        using var dir = new TempFolder();
        var noise = MediaTestData.PaletteNoise(3, 128, 96, colors: 256, seed: 11, fps: 10);
        noise.SaveGif(dir.File("noise.gif"));
        var decoded = Video.DecodeWithFfmpeg(dir.File("noise.gif"), new VideoLoadOptions(), CancellationToken.None);
        Assert.Equal((3, 128, 96), (decoded.FrameCount, decoded.Height, decoded.Width));
        var (maxError, meanError) = MediaTestData.Error(noise.Pixels.Span, decoded.Pixels.Span);
        Assert.True(maxError == 0, $"max {maxError} mean {meanError}");

        var few = MediaTestData.PaletteNoise(2, 5, 3, colors: 3, seed: 2);
        few.SaveGif(dir.File("few.gif"), new GifOptions { Palette = GifPalette.Global });
        var fewDecoded = Video.DecodeWithFfmpeg(dir.File("few.gif"), new VideoLoadOptions(), CancellationToken.None);
        Assert.Equal(2, fewDecoded.FrameCount); // no constant-rate duplication
        Assert.Equal(1000 / 130.0, fewDecoded.Fps, 3); // 8 fps → 13 cs; ffprobe has no average rate for this GIF
        Assert.True(fewDecoded.Pixels.Span.SequenceEqual(few.Pixels.Span));
    }
}
