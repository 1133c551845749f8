using Vchitect.Core.Media;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Media;

public sealed class VideoTests
{
    [Fact]
    public void Constructor_copies_pixels_and_exposes_dimensions()
    {
        byte[] rgb = Enumerable.Range(0, 2 * 3 * 4 * 3).Select(i => (byte)i).ToArray();
        var video = new Video(rgb, 2, 3, 4, fps: 12, seed: 42);
        rgb[0] = 99;

        Assert.Equal((2, 3, 4, 12.0, 42L), (video.FrameCount, video.Height, video.Width, video.Fps, video.Seed!.Value));
        Assert.Equal(0, video.Pixels.Span[0]);
        Assert.Equal(36, video.FrameByteCount);
        Assert.Equal(36, video.GetFramePixels(1).Span[0]);
        Assert.Equal(((byte)(36 + 15), (byte)(36 + 16), (byte)(36 + 17)), video.GetPixel(1, 1, 1));
        Assert.Equal(TimeSpan.FromSeconds(2 / 12.0), video.Duration);
    }

    [Fact]
    public void Default_fps_is_8_and_seed_is_null()
    {
        var video = new Video(new byte[3], 1, 1, 1);
        Assert.Equal(8, video.Fps);
        Assert.Null(video.Seed);
    }

    [Theory]
    [InlineData(0, 1, 1, 8.0, "frameCount")]
    [InlineData(1, 0, 1, 8.0, "height")]
    [InlineData(1, 1, -1, 8.0, "width")]
    [InlineData(1, 1, 1, 0.0, "fps")]
    [InlineData(1, 1, 1, double.NaN, "fps")]
    [InlineData(1, 1, 1, double.PositiveInfinity, "fps")]
    public void Constructor_rejects_bad_dimensions_naming_the_argument(int f, int h, int w, double fps, string name)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new Video(new byte[3], f, h, w, fps));
        Assert.Equal(name, e.ParamName);
    }

    [Fact]
    public void Constructor_rejects_wrong_byte_count()
    {
        var e = Assert.Throws<ArgumentException>(() => new Video(new byte[10], 1, 2, 2));
        Assert.Equal("rgb", e.ParamName);
        Assert.Contains("12", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_rejects_sizes_that_do_not_fit_an_array()
    {
        Assert.Throws<ArgumentException>(() => new Video(new byte[3], 100_000, 100_000, 100_000));
    }

    [Fact]
    public void Frame_gives_a_single_frame_copy_with_fps_and_seed()
    {
        var video = MediaTestData.Gradient(3, 5, 7, fps: 10).WithFps(10);
        var one = new Video(video.Pixels.Span, 3, 5, 7, 10, seed: 5).Frame(2);
        Assert.Equal((1, 5, 7, 10.0, 5L), (one.FrameCount, one.Height, one.Width, one.Fps, one.Seed!.Value));
        Assert.True(one.Pixels.Span.SequenceEqual(video.GetFramePixels(2).Span));
        Assert.Throws<ArgumentOutOfRangeException>(() => video.Frame(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => video.GetFramePixels(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => video.GetPixel(0, 5, 0));
    }

    [Fact]
    public void Uint8_tensor_round_trips_exactly_and_ToTensor_is_a_copy()
    {
        using var scope = NewDisposeScope();
        var source = randint(0, 256, [3, 4, 5, 3], dtype: ScalarType.Byte, generator: new TorchSharp.torch.Generator(1));
        var video = Video.FromTensor(source, fps: 24, seed: 9);
        Assert.Equal((3, 4, 5, 24.0, 9L), (video.FrameCount, video.Height, video.Width, video.Fps, video.Seed!.Value));
        var back = video.ToTensor();
        Assert.Equal(ScalarType.Byte, back.dtype);
        Assert.True(source.eq(back).all().item<bool>());

        back.fill_(0);
        Assert.True(source.eq(video.ToTensor()).all().item<bool>());
    }

    [Fact]
    public void Float_tensor_is_clamped_and_rounded_like_numpy_to_pil()
    {
        using var scope = NewDisposeScope();
        // clamp to [0, 1], then (x*255).round(): 0.5 → 127.5 → 128 (half to even), out of range clamps.
        float[] values = [-0.5f, 0f, 0.3f / 255, 0.7f / 255, 0.5f, 1f, 2f, 100f / 255 + 0.001f, 0.999f];
        var t = tensor(values.Concat(new float[] { 0, 0, 0 }).ToArray(), [1, 1, 4, 3]);
        var video = Video.FromTensor(t);
        byte[] expected = [0, 0, 0, 1, 128, 255, 255, 100, 255, 0, 0, 0];
        Assert.Equal(expected, video.Pixels.ToArray());

        var f = video.ToFloatTensor();
        Assert.Equal(ScalarType.Float32, f.dtype);
        Assert.Equal(128 / 255f, f[0, 0, 1, 1].item<float>(), 6);
    }

    [Fact]
    public void Half_and_double_tensors_are_accepted()
    {
        using var scope = NewDisposeScope();
        var t = full([2, 2, 2, 3], 0.5, dtype: ScalarType.Float64);
        Assert.All(Video.FromTensor(t).Pixels.ToArray(), b => Assert.Equal(128, b));
        Assert.All(Video.FromTensor(t.to(ScalarType.Float16)).Pixels.ToArray(), b => Assert.Equal(128, b));
    }

    [Fact]
    public void FromTensor_rejects_bad_tensors_with_clear_messages()
    {
        using var scope = NewDisposeScope();
        var channelFirst = Assert.Throws<ArgumentException>(() => Video.FromTensor(zeros(2, 3, 8, 8)));
        Assert.Contains("permute(0, 2, 3, 1)", channelFirst.Message, StringComparison.Ordinal);
        Assert.Equal("frames", channelFirst.ParamName);
        Assert.Throws<ArgumentException>(() => Video.FromTensor(zeros(8, 8, 3)));
        Assert.Throws<ArgumentException>(() => Video.FromTensor(zeros(0, 8, 8, 3)));
        Assert.Throws<ArgumentException>(() => Video.FromTensor(zeros([1, 2, 2, 3], dtype: ScalarType.Int32)));
        var nan = Assert.Throws<ArgumentException>(() => Video.FromTensor(full([1, 2, 2, 3], double.NaN)));
        Assert.Contains("NaN", nan.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Video.FromTensor(zeros(1, 2, 2, 3), fps: -1));
    }

    [Fact]
    public void FromTensor_leaves_no_live_tensors_behind()
    {
        using var input = rand(2, 4, 4, 3);
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        _ = Video.FromTensor(input);
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
