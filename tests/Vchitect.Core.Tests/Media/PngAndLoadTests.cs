using System.Diagnostics;
using SkiaSharp;
using Vchitect.Core.Media;
using Xunit;
using Xunit.Abstractions;

namespace Vchitect.Core.Tests.Media;

public sealed class PngAndLoadTests(ITestOutputHelper output)
{
    [Fact]
    public void Png_frames_round_trip_exactly()
    {
        using var dir = new TempFolder();
        var video = MediaTestData.Gradient(3, 17, 33);
        var paths = video.SavePngFrames(dir.Path);
        Assert.Equal(["frame_0000.png", "frame_0001.png", "frame_0002.png"], paths.Select(Path.GetFileName));
        Assert.Equal(3, dir.Entries().Length); // no temporary files left

        var folder = Video.LoadFrames(dir.Path);
        Assert.Equal((3, 17, 33, 8.0), (folder.FrameCount, folder.Height, folder.Width, folder.Fps));
        Assert.True(folder.Pixels.Span.SequenceEqual(video.Pixels.Span));

        var one = Video.LoadImage(paths[1]);
        Assert.True(one.Pixels.Span.SequenceEqual(video.GetFramePixels(1).Span));
        var viaLoad = Video.Load(paths[2], new VideoLoadOptions { Fps = 12 });
        Assert.Equal((1, 12.0), (viaLoad.FrameCount, viaLoad.Fps));
        Assert.True(viaLoad.Pixels.Span.SequenceEqual(video.GetFramePixels(2).Span));
    }

    [Fact]
    public void Png_frame_names_use_the_prefix_and_widen_past_9999()
    {
        using var dir = new TempFolder();
        var video = new Video(new byte[10_001 * 3], 10_001, 1, 1);
        var paths = video.SavePngFrames(dir.Path, "f");
        Assert.Equal("f00000.png", Path.GetFileName(paths[0]));
        Assert.Equal("f10000.png", Path.GetFileName(paths[^1]));
        Assert.Throws<ArgumentException>(() => video.SavePngFrames(dir.Path, "a/b"));
    }

    [Fact]
    public void Png_save_cancelled_before_start_writes_nothing()
    {
        using var dir = new TempFolder();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => MediaTestData.Gradient(2, 4, 4).SavePngFrames(dir.Path, cancellationToken: cts.Token));
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public void Load_frames_rejects_mixed_sizes_unless_resized()
    {
        using var dir = new TempFolder();
        MediaTestData.Gradient(1, 8, 8).SavePngFrames(dir.Path, "a");
        MediaTestData.Gradient(1, 6, 10).SavePngFrames(dir.Path, "b");
        var e = Assert.Throws<InvalidDataException>(() => Video.LoadFrames(dir.Path));
        Assert.Contains("b0000.png", e.Message, StringComparison.Ordinal);
        var resized = Video.LoadFrames(dir.Path, options: new VideoLoadOptions { Width = 5, Height = 4 });
        Assert.Equal((2, 4, 5), (resized.FrameCount, resized.Height, resized.Width));
    }

    [Fact]
    public void Jpeg_and_webp_with_alpha_load_as_rgb()
    {
        using var dir = new TempFolder();
        var info = new SKImageInfo(4, 2, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        bitmap.Erase(new SKColor(200, 100, 50, 128)); // half transparent
        using (var s = File.Create(dir.File("a.webp")))
        {
            Assert.True(bitmap.Encode(s, SKEncodedImageFormat.Webp, 100));
        }

        using (var s = File.Create(dir.File("a.png")))
        {
            Assert.True(bitmap.Encode(s, SKEncodedImageFormat.Png, 100));
        }

        using (var s = File.Create(dir.File("a.jpg")))
        {
            Assert.True(bitmap.Encode(s, SKEncodedImageFormat.Jpeg, 95));
        }

        var png = Video.LoadImage(dir.File("a.png"));
        Assert.Equal(((byte)100, (byte)50, (byte)25), png.GetPixel(0, 1, 3)); // composited on black: c · 128/255
        Assert.Equal((1, 2, 4), (Video.Load(dir.File("a.webp")).FrameCount, Video.Load(dir.File("a.webp")).Height, Video.Load(dir.File("a.webp")).Width));
        Assert.Equal(4, Video.LoadImage(dir.File("a.jpg")).Width);
    }

    [Fact]
    public void Missing_files_and_directories_are_reported()
    {
        Assert.Throws<FileNotFoundException>(() => Video.Load("/nonexistent/x.gif"));
        Assert.Throws<FileNotFoundException>(() => Video.LoadImage("/nonexistent/x.png"));
        Assert.Throws<DirectoryNotFoundException>(() => Video.LoadFrames("/nonexistent"));
        using var dir = new TempFolder();
        Assert.Throws<ArgumentException>(() => Video.Load(dir.Path));
        Assert.Throws<InvalidDataException>(() => Video.LoadFrames(dir.Path));
    }

    [Fact]
    public void Images_beyond_the_size_limits_are_refused_before_decoding()
    {
        using var dir = new TempFolder();
        MediaTestData.Gradient(1, 40, 50).SavePngFrames(dir.Path);
        string png = dir.File("frame_0000.png");
        var e = Assert.Throws<InvalidDataException>(() => Video.LoadImage(png, new VideoLoadOptions { MaxDimension = 45 }));
        Assert.Contains(png, e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => Video.LoadImage(png, new VideoLoadOptions { MaxPixelsPerFrame = 1999 }));
        Assert.Throws<InvalidDataException>(() => Video.LoadImage(png, new VideoLoadOptions { MaxTotalBytes = 5999 }));
        Assert.Equal(50, Video.LoadImage(png, new VideoLoadOptions { MaxTotalBytes = 6000 }).Width);
    }

    [Fact]
    public void A_png_declaring_a_huge_size_is_refused_without_allocating()
    {
        using var dir = new TempFolder();
        MediaTestData.Gradient(1, 2, 2).SavePngFrames(dir.Path);
        byte[] bytes = File.ReadAllBytes(dir.File("frame_0000.png"));
        // IHDR width/height at bytes 16..23 → 100000 × 100000 (CRC now wrong too).
        bytes[16] = 0; bytes[17] = 1; bytes[18] = 0x86; bytes[19] = 0xA0;
        bytes[20] = 0; bytes[21] = 1; bytes[22] = 0x86; bytes[23] = 0xA0;
        File.WriteAllBytes(dir.File("huge.png"), bytes);
        Assert.Throws<InvalidDataException>(() => Video.Load(dir.File("huge.png")));
    }

    [Fact]
    public void Mutated_gif_and_png_files_load_or_throw_InvalidDataException()
    {
        using var dir = new TempFolder();
        var video = MediaTestData.PaletteNoise(3, 12, 10, 40, 1);
        video.SaveGif(dir.File("base.gif"));
        video.Frame(0).SavePngFrames(dir.Path, "base");
        var sources = new[] { File.ReadAllBytes(dir.File("base.gif")), File.ReadAllBytes(dir.File("base0000.png")) };
        var random = new Random(12345);
        var stopwatch = Stopwatch.StartNew();
        int loaded = 0, rejected = 0;
        string target = dir.File("fuzz.bin");
        for (int iteration = 0; iteration < 400; iteration++)
        {
            byte[] bytes = (byte[])sources[iteration % 2].Clone();
            int kind = random.Next(4);
            if (kind == 3)
            {
                Array.Resize(ref bytes, random.Next(6, bytes.Length)); // truncation
            }
            else
            {
                int edits = 1 + random.Next(kind == 0 ? 1 : 8);
                for (int k = 0; k < edits; k++)
                {
                    // Keep the 6-byte signature so the file stays on the SkiaSharp path (no ffmpeg process per case).
                    int at = random.Next(6, bytes.Length);
                    bytes[at] = kind == 2 ? (byte)0xFF : (byte)random.Next(256);
                }
            }

            File.WriteAllBytes(target, bytes);
            try
            {
                Video v = Video.Load(target, new VideoLoadOptions { MaxTotalBytes = 1 << 24 });
                Assert.True(v.FrameCount >= 1 && v.Width >= 1 && v.Height >= 1);
                loaded++;
            }
            catch (InvalidDataException e)
            {
                Assert.Contains(target, e.Message, StringComparison.Ordinal);
                rejected++;
            }
        }

        output.WriteLine($"400 mutations: {loaded} loaded, {rejected} rejected, {stopwatch.ElapsedMilliseconds} ms");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"fuzzing took {stopwatch.Elapsed}");
        Assert.True(rejected > 0);
    }
}
