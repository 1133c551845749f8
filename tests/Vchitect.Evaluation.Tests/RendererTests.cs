using Vchitect.Core.Media;
using Vchitect.Evaluation.TinyWorld;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Evaluation.Tests;

public sealed class RendererTests
{
    private static readonly TinyWorldRenderer Renderer = new();

    [Fact]
    public void Defaults_are_16_frames_of_64_by_64()
    {
        Video video = Renderer.Render(TinyWorldCaption.All[0], seed: 5);
        Assert.Equal(16, video.FrameCount);
        Assert.Equal(64, video.Height);
        Assert.Equal(64, video.Width);
        Assert.Equal(5, video.Seed);
        Assert.Equal(8, video.Fps);
    }

    [Fact]
    public void Same_caption_and_seed_give_the_same_bytes_and_another_seed_does_not()
    {
        TinyWorldCaption caption = TinyWorldCaption.Parse("a yellow triangle moving down on a gray background");
        byte[] a = Renderer.Render(caption, 42).Pixels.ToArray();
        byte[] b = new TinyWorldRenderer().Render(caption, 42).Pixels.ToArray();
        byte[] c = Renderer.Render(caption, 43).Pixels.ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);

        // Pinned: these bytes must never change, or every dataset and every stored measurement silently changes with them.
        Assert.Equal(11079905467565292381UL, Hash(a));
        Assert.Equal(2475892617834648039UL, Hash(Renderer.Render(TinyWorldCaption.All[0], 0).Pixels.ToArray()));
    }

    [Fact]
    public void Every_layout_stays_inside_the_frame_and_moves_clearly_in_its_direction()
    {
        TinyWorldRenderOptions o = Renderer.Options;
        foreach (TinyWorldCaption caption in TinyWorldCaption.All)
        {
            for (long seed = 0; seed < 20; seed++)
            {
                TinyWorldLayout l = Renderer.Layout(caption, seed);
                Assert.InRange(l.ObjectSize, o.MinObjectSize, o.MaxObjectSize);
                Assert.InRange(l.Travel, Math.Max(12, o.MinTravel), o.MaxTravel);
                foreach ((double x, double y) in new[] { (l.StartX, l.StartY), (l.EndX, l.EndY) })
                {
                    Assert.InRange(x - (l.ObjectSize / 2), o.Margin - 1e-9, o.Size - o.Margin - l.ObjectSize + 1e-9);
                    Assert.InRange(y - (l.ObjectSize / 2), o.Margin - 1e-9, o.Size - o.Margin - l.ObjectSize + 1e-9);
                }

                double dx = l.EndX - l.StartX, dy = l.EndY - l.StartY;
                switch (caption.Motion)
                {
                    case TinyWorldMotion.Left: Assert.True(dx < 0 && dy == 0); break;
                    case TinyWorldMotion.Right: Assert.True(dx > 0 && dy == 0); break;
                    case TinyWorldMotion.Up: Assert.True(dy < 0 && dx == 0); break;
                    default: Assert.True(dy > 0 && dx == 0); break;
                }
            }
        }
    }

    [Fact]
    public void Pixels_are_the_palette_colour_inside_and_the_background_at_the_border()
    {
        foreach (TinyWorldCaption caption in TinyWorldCaption.All)
        {
            Video video = Renderer.Render(caption, 3);
            TinyWorldLayout l = Renderer.Layout(caption, 3);
            Rgb fg = TinyWorldPalette.Of(caption.Colour), bg = TinyWorldPalette.Of(caption.Background);
            for (int f = 0; f < video.FrameCount; f += 5)
            {
                (double cx, double cy) = l.CentreAt(f, video.FrameCount);
                // A point two thirds of the way down the box, on the centre line, is well inside all three shapes.
                int px = (int)Math.Floor(cx), py = (int)Math.Floor(cy + (l.ObjectSize / 6));
                Assert.Equal((fg.R, fg.G, fg.B), video.GetPixel(f, py, px));
                Assert.Equal((bg.R, bg.G, bg.B), video.GetPixel(f, 0, 0));
                Assert.Equal((bg.R, bg.G, bg.B), video.GetPixel(f, 63, 63));
            }
        }
    }

    [Fact]
    public void Shapes_cover_their_expected_share_of_the_box()
    {
        // Object pixels weighted by coverage (the blend factor) ≈ the shape's area: π/4 s², s², s²/2.
        var big = new TinyWorldRenderer(new TinyWorldRenderOptions { MinObjectSize = 40, MaxObjectSize = 40, MinTravel = 10, MaxTravel = 10, Size = 64, Margin = 1 });
        foreach ((TinyWorldShape shape, double share) in new[] { (TinyWorldShape.Circle, Math.PI / 4), (TinyWorldShape.Square, 1.0), (TinyWorldShape.Triangle, 0.5) })
        {
            var caption = new TinyWorldCaption(TinyWorldColour.White, shape, TinyWorldMotion.Right, TinyWorldBackground.Black);
            Video frame = big.RenderFrame(caption, 0, 0);
            double covered = 0;
            for (int y = 0; y < 64; y++)
            {
                for (int x = 0; x < 64; x++)
                {
                    covered += frame.GetPixel(0, y, x).R / 245.0;
                }
            }

            Assert.InRange(covered / (40.0 * 40.0), share - 0.01, share + 0.01);
        }
    }

    [Fact]
    public void RenderFrame_is_that_frame_of_the_clip()
    {
        TinyWorldCaption caption = TinyWorldCaption.Parse("a purple circle moving up on a black background");
        Video clip = Renderer.Render(caption, 9);
        for (int f = 0; f < clip.FrameCount; f += 3)
        {
            Assert.Equal(clip.GetFramePixels(f).ToArray(), Renderer.RenderFrame(caption, 9, f).Pixels.ToArray());
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => Renderer.RenderFrame(caption, 9, 16));
    }

    [Fact]
    public void Tensor_form_is_channel_first_in_minus_one_to_one_and_converts_back_exactly()
    {
        using var scope = NewDisposeScope();
        TinyWorldCaption caption = TinyWorldCaption.Parse("a white square moving left on a gray background");
        Video video = Renderer.Render(caption, 1);
        Tensor t = Renderer.RenderTensor(caption, 1);
        Assert.Equal(new long[] { 3, 16, 64, 64 }, t.shape);
        Assert.Equal(ScalarType.Float32, t.dtype);
        Assert.True(t.min().item<float>() >= -1f && t.max().item<float>() <= 1f);
        Assert.Equal(245 / 127.5 - 1, t[0, 0].max().item<float>(), 5); // white's red channel
        Assert.Equal(video.Pixels.ToArray(), TinyWorldRenderer.ToVideo(t).Pixels.ToArray());
        Assert.Equal(video.GetFramePixels(4).ToArray(), TinyWorldRenderer.ToVideo(t[.., 4]).Pixels.ToArray());
        Assert.Throws<ArgumentException>(() => TinyWorldRenderer.ToVideo(zeros(16, 3, 64, 64)));
        Assert.Throws<ArgumentException>(() => TinyWorldRenderer.ToVideo(zeros(new long[] { 3, 2, 4, 4 }, ScalarType.Byte)));
    }

    [Theory]
    [InlineData(nameof(TinyWorldRenderOptions.Frames))]
    [InlineData(nameof(TinyWorldRenderOptions.Size))]
    [InlineData(nameof(TinyWorldRenderOptions.MaxObjectSize))]
    [InlineData(nameof(TinyWorldRenderOptions.Supersampling))]
    public void Bad_options_are_rejected_by_name(string option)
    {
        TinyWorldRenderOptions bad = option switch
        {
            nameof(TinyWorldRenderOptions.Frames) => new() { Frames = 1 },
            nameof(TinyWorldRenderOptions.Size) => new() { Size = 40 },
            nameof(TinyWorldRenderOptions.MaxObjectSize) => new() { MaxObjectSize = 10 },
            _ => new() { Supersampling = 0 },
        };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TinyWorldRenderer(bad));
        Assert.Equal(option, e.ParamName);
        Assert.Contains("TinyWorldRenderOptions." + option, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Longer_clips_keep_the_travel_and_stay_inside()
    {
        var renderer = new TinyWorldRenderer(new TinyWorldRenderOptions { Frames = 32 });
        TinyWorldCaption caption = TinyWorldCaption.Parse("a green circle moving right on a black background");
        var evaluator = new TinyWorldEvaluator();
        TinyWorldObservation o = evaluator.Observe(renderer.Render(caption, 4));
        Assert.Equal(TinyWorldMotion.Right, o.Motion);
        Assert.InRange(o.DisplacementX, 14, 28);
    }

    private static ulong Hash(byte[] bytes)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in bytes)
        {
            h = (h ^ b) * 1099511628211UL;
        }

        return h;
    }
}
