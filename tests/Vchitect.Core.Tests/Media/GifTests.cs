using System.Diagnostics;
using Vchitect.Core.Media;
using Xunit;
using Xunit.Abstractions;

namespace Vchitect.Core.Tests.Media;

public sealed class GifTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 5, 3)]
    [InlineData(17, 33, 4)]
    [InlineData(512, 320, 2)]
    public void Few_colour_frames_decode_exactly_with_SKCodec(int height, int width, int frames)
    {
        using var dir = new TempFolder();
        var video = MediaTestData.PaletteNoise(frames, height, width, colors: 200, seed: height + width, fps: 10);
        string path = dir.File("v.gif");
        video.SaveGif(path);

        var decoded = MediaTestData.DecodeWithSkia(path);
        Assert.Equal((width, height), (decoded.Width, decoded.Height));
        Assert.Equal(frames, decoded.Frames.Count);
        Assert.Equal(-1, decoded.RepetitionCount); // NETSCAPE2.0 loop count 0 = forever
        for (int f = 0; f < frames; f++)
        {
            Assert.Equal(100, decoded.Info[f].Duration); // 10 fps → 10 cs
            Assert.True(decoded.Frames[f].AsSpan().SequenceEqual(video.GetFramePixels(f).Span), $"frame {f} differs");
        }
    }

    [Fact]
    public void Single_colour_and_two_colour_frames_are_exact()
    {
        using var dir = new TempFolder();
        byte[] rgb = new byte[2 * 4 * 3 * 3];
        for (int i = 36; i < rgb.Length; i += 6)
        {
            rgb[i] = 255;
        }

        var video = new Video(rgb, 2, 4, 3);
        video.SaveGif(dir.File("a.gif"));
        var decoded = MediaTestData.DecodeWithSkia(dir.File("a.gif"));
        Assert.Equal(rgb[..36], decoded.Frames[0]);
        Assert.Equal(rgb[36..], decoded.Frames[1]);
    }

    [Theory]
    [InlineData(8.0, 130)]   // 12.5 cs rounds to 13
    [InlineData(25.0, 40)]
    [InlineData(60.0, 20)]   // 1.67 cs → at least 2 cs
    [InlineData(1000.0, 20)]
    [InlineData(0.5, 2000)]
    public void Frame_delay_is_round_100_over_fps_centiseconds_at_least_2(double fps, int expectedMs)
    {
        using var dir = new TempFolder();
        MediaTestData.PaletteNoise(2, 2, 2, 4, 1, fps).SaveGif(dir.File("d.gif"));
        var decoded = MediaTestData.DecodeWithSkia(dir.File("d.gif"));
        Assert.All(decoded.Info, i => Assert.Equal(expectedMs, i.Duration));
    }

    [Theory]
    [InlineData(0, -1)]
    [InlineData(3, 3)]
    [InlineData(65535, 65535)]
    [InlineData(null, 0)]
    public void Loop_count_is_written_as_NETSCAPE2_0(int? loop, int expectedRepetitions)
    {
        using var dir = new TempFolder();
        MediaTestData.PaletteNoise(2, 3, 3, 4, 1).SaveGif(dir.File("l.gif"), new GifOptions { LoopCount = loop });
        Assert.Equal(expectedRepetitions, MediaTestData.DecodeWithSkia(dir.File("l.gif")).RepetitionCount);
    }

    [Fact]
    public void Lzw_stress_256_colour_noise_with_many_table_resets_is_exact()
    {
        using var dir = new TempFolder();
        // Uniform noise over 256 colours barely compresses, so the 4096-entry table fills (and is cleared) every few
        // thousand pixels; 65536 pixels per frame cross the 12-bit limit many times.
        var video = MediaTestData.PaletteNoise(2, 256, 256, colors: 256, seed: 3);
        var stopwatch = Stopwatch.StartNew();
        video.SaveGif(dir.File("n.gif"));
        output.WriteLine($"256×256×2 noise: {new FileInfo(dir.File("n.gif")).Length} bytes in {stopwatch.ElapsedMilliseconds} ms");
        var decoded = MediaTestData.DecodeWithSkia(dir.File("n.gif"));
        for (int f = 0; f < 2; f++)
        {
            Assert.True(decoded.Frames[f].AsSpan().SequenceEqual(video.GetFramePixels(f).Span), $"frame {f} differs");
        }
    }

    [Fact]
    public void Lzw_handles_long_runs_and_repeats_exactly()
    {
        using var dir = new TempFolder();
        // A 300×200 frame of long runs (codes grow to 12 bits through long strings) beside a frame of a short period.
        byte[] rgb = new byte[2 * 200 * 300 * 3];
        for (int p = 0; p < 200 * 300; p++)
        {
            byte v = (byte)(p / 5000 * 20);
            rgb[(p * 3) + 1] = v;
            rgb[(200 * 300 * 3) + (p * 3)] = (byte)((p % 7) * 30);
        }

        var video = new Video(rgb, 2, 200, 300);
        video.SaveGif(dir.File("r.gif"));
        var decoded = MediaTestData.DecodeWithSkia(dir.File("r.gif"));
        for (int f = 0; f < 2; f++)
        {
            Assert.True(decoded.Frames[f].AsSpan().SequenceEqual(video.GetFramePixels(f).Span), $"frame {f} differs");
        }
    }

    [Theory]
    [InlineData(GifPalette.PerFrame, GifDithering.None, 12, 3.5)]       // measured 8, 2.87
    [InlineData(GifPalette.Global, GifDithering.None, 24, 6.0)]         // measured 17, 5.20
    [InlineData(GifPalette.PerFrame, GifDithering.FloydSteinberg, 24, 4.5)] // measured 15, 3.53
    [InlineData(GifPalette.PerFrame, GifDithering.Ordered, 24, 5.5)]       // measured 15, 4.16
    public void Smooth_gradient_is_quantised_with_small_error(GifPalette palette, GifDithering dithering, int maxAllowed, double meanAllowed)
    {
        using var dir = new TempFolder();
        var video = MediaTestData.Gradient(3, 96, 128);
        var stopwatch = Stopwatch.StartNew();
        video.SaveGif(dir.File("g.gif"), new GifOptions { Palette = palette, Dithering = dithering });
        long ms = stopwatch.ElapsedMilliseconds;
        var decoded = MediaTestData.DecodeWithSkia(dir.File("g.gif"));
        Assert.Equal(3, decoded.Frames.Count);
        int max = 0;
        double mean = 0;
        for (int f = 0; f < 3; f++)
        {
            var (m, a) = MediaTestData.Error(video.GetFramePixels(f).Span, decoded.Frames[f]);
            max = Math.Max(max, m);
            mean += a / 3;
        }

        output.WriteLine($"{palette}/{dithering}: max abs error {max}/255, mean {mean:F3}/255, encode {ms} ms, {new FileInfo(dir.File("g.gif")).Length} bytes");
        Assert.True(max <= maxAllowed, $"max error {max}");
        Assert.True(mean <= meanAllowed, $"mean error {mean:F3}");
    }

    [Fact]
    public void Large_gradient_320x512_encodes_quickly_with_small_error()
    {
        using var dir = new TempFolder();
        var video = MediaTestData.Gradient(2, 320, 512);
        var stopwatch = Stopwatch.StartNew();
        video.SaveGif(dir.File("big.gif"));
        long ms = stopwatch.ElapsedMilliseconds;
        var decoded = MediaTestData.DecodeWithSkia(dir.File("big.gif"));
        Assert.Equal((512, 320, 2), (decoded.Width, decoded.Height, decoded.Frames.Count));
        var (max, mean) = MediaTestData.Error(video.Pixels.Span, decoded.Frames.SelectMany(b => b).ToArray());
        output.WriteLine($"320×512×2 gradient: max abs error {max}/255, mean {mean:F3}/255, encode {ms} ms");
        Assert.True(max <= 28 && mean <= 4, $"max {max}, mean {mean:F3}"); // measured 20, 3.39
    }

    [Fact]
    public void Loading_own_gif_back_gives_frames_and_fps()
    {
        using var dir = new TempFolder();
        var video = MediaTestData.PaletteNoise(3, 9, 11, 50, 7, fps: 20);
        video.SaveGif(dir.File("x.gif"));
        var loaded = Video.Load(dir.File("x.gif"));
        Assert.Equal((3, 9, 11), (loaded.FrameCount, loaded.Height, loaded.Width));
        Assert.Equal(20, loaded.Fps, 6);
        Assert.True(loaded.Pixels.Span.SequenceEqual(video.Pixels.Span));
        var first = Video.LoadImage(dir.File("x.gif"));
        Assert.True(first.Pixels.Span.SequenceEqual(video.GetFramePixels(0).Span));
    }

    [Fact]
    public void Cancellation_leaves_no_file_and_keeps_an_existing_one()
    {
        using var dir = new TempFolder();
        string path = dir.File("c.gif");
        File.WriteAllText(path, "old");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => MediaTestData.Gradient(2, 8, 8).SaveGif(path, cancellationToken: cts.Token));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal(["c.gif"], dir.Entries());
    }

    [Fact]
    public void Cancellation_mid_way_leaves_no_file()
    {
        using var dir = new TempFolder();
        var video = MediaTestData.Gradient(64, 256, 256); // well over 100 ms of encoding
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(30));
        Assert.ThrowsAny<OperationCanceledException>(() => video.SaveGif(dir.File("m.gif"), cancellationToken: cts.Token));
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public void Bad_options_are_rejected_naming_the_option()
    {
        var video = MediaTestData.Gradient(1, 2, 2);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => video.SaveGif("x.gif", new GifOptions { LoopCount = 70000 }));
        Assert.Equal("LoopCount", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => video.SaveGif("x.gif", new GifOptions { Dithering = (GifDithering)9 }));
        Assert.False(File.Exists("x.gif"));
    }
}
