using Vchitect.Core.Weights;
using Vchitect.Models.Blocks;
using Vchitect.Models.Tests.UNets;
using Vchitect.Models.UNets;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.Blocks;

/// <summary>
/// FreeNoise's window fusion of LaVie's temporal attention (<see cref="TemporalWindowing"/>) against the FreeNoise-LaVie
/// fixture (arthur-qiu/FreeNoise-LaVie@d0a63d4, <c>BasicTransformerBlock</c> with <c>local_window</c>), plus properties.
/// </summary>
[Collection(UNetTorchState.Name)]
public sealed class FreeNoiseWindowingTests(ITestOutputHelper output)
{
    private const string LaVieFile = "freenoise_lavie.safetensors";

    // The reference: no tail window (frames 20-21 of F=22 come out as 0), pyramid weights, window 16, stride 4.
    private static readonly TemporalWindowing Reference = new() { WindowSize = 16, Stride = 4, Weighting = WindowWeighting.Pyramid, Tail = WindowTail.Uncovered };

    [Theory]
    [InlineData(24)]
    [InlineData(22)]
    [InlineData(16)]
    public void Lavie_block_windowed_and_full_match_the_reference(int frames)
    {
        using var scope = NewDisposeScope();
        using var file = UNetFixtures.Open(LaVieFile);
        using var block = LoadBlock(file);
        using var mode = inference_mode();
        var x = file.ReadTensor($"in.F{frames}.hidden_states");
        var text = file.ReadTensor($"in.F{frames}.encoder_hidden_states");

        var full = block.forward(x, text, frames);
        block.TemporalWindowing = Reference;
        var windowed = block.forward(x, text, frames);
        block.TemporalWindowing = null;
        var again = block.forward(x, text, frames);

        output.WriteLine($"F={frames}: full {MaxAbs(file.ReadTensor($"out.F{frames}.full"), full):G3}, windowed {MaxAbs(file.ReadTensor($"out.F{frames}.windowed"), windowed):G3}");
        TensorAssert.Close(file.ReadTensor($"out.F{frames}.full"), full, 1e-4, what: $"F{frames}.full");
        TensorAssert.Close(file.ReadTensor($"out.F{frames}.windowed"), windowed, 1e-4, what: $"F{frames}.windowed");
        TensorAssert.Equal(full, again, "switching the windowing off restores the plain block");
        if (frames > 16)
        {
            // Independent of the tolerance: windowing changes the result when F exceeds the window.
            Assert.True(MaxAbs(full, windowed) > 1e-2, $"F={frames}: windowed equals full");
        }
    }

    [Theory]
    [InlineData(24)]
    [InlineData(22)]
    [InlineData(16)]
    public void Views_match_get_views(int frames)
    {
        using var file = UNetFixtures.Open(LaVieFile);
        using var views = file.ReadTensor($"out.F{frames}.views");
        var expected = views.data<long>().ToArray();
        var actual = Reference.RegularWindows(frames).SelectMany(w => new long[] { w.Start, w.End }).ToArray();
        Assert.Equal(expected, actual);
        Assert.Equal(Reference.RegularWindows(frames), Reference.Windows(frames)); // no tail window in the reference mode
    }

    [Theory]
    [InlineData(16)]
    [InlineData(5)]
    public void Pyramid_weights_match_generate_weight_sequence(int length)
    {
        using var file = UNetFixtures.Open(LaVieFile);
        using var expected = file.ReadTensor($"out.weight_sequence{length}");
        Assert.Equal(expected.data<float>().ToArray(), TemporalWindowing.Weights(length, WindowWeighting.Pyramid).Select(w => (float)w).ToArray());
    }

    [Fact]
    public void Weight_schemes_have_the_published_shapes()
    {
        Assert.Equal([1.0, 2, 3, 4, 4, 3, 2, 1], TemporalWindowing.Weights(8, WindowWeighting.Pyramid));
        Assert.Equal([1.0, 2, 3, 4, 3, 2, 1], TemporalWindowing.Weights(7, WindowWeighting.Pyramid));
        Assert.Equal([1.0, 1, 1, 1, 1], TemporalWindowing.Weights(5, WindowWeighting.Flat));
        Assert.Equal([0.01, 0.01, 0.01, 4, 4, 3, 2, 1], TemporalWindowing.Weights(8, WindowWeighting.DelayedReverseSawtooth));
        Assert.Equal([0.01, 0.01, 0.01, 4, 3, 2, 1], TemporalWindowing.Weights(7, WindowWeighting.DelayedReverseSawtooth));
    }

    [Theory]
    [InlineData(16, 16)]
    [InlineData(24, 16)]
    [InlineData(16, 13)]
    public void A_window_covering_every_frame_equals_the_plain_block_exactly(int windowSize, int frames)
    {
        using var scope = NewDisposeScope();
        using var file = UNetFixtures.Open(LaVieFile);
        using var block = LoadBlock(file);
        using var mode = inference_mode();
        var x = file.ReadTensor("in.F16.hidden_states").narrow(0, 0, frames);
        var text = file.ReadTensor("in.F16.encoder_hidden_states").narrow(0, 0, frames);
        var plain = block.forward(x, text, frames);
        block.TemporalWindowing = new TemporalWindowing { WindowSize = windowSize, Stride = 4 };
        var windowed = block.forward(x, text, frames);
        TensorAssert.Equal(plain, windowed, $"window {windowSize} over {frames} frames");
    }

    [Fact]
    public void Tail_window_covers_the_last_frames_and_diffusers_mode_keeps_its_count_quirk()
    {
        // op(window) = window + position inside the window, so out_f = x_f + Σ w_j·j / Σ w_j over the windows covering f.
        using var scope = NewDisposeScope();
        var x = zeros(1, 14, 1);
        static Tensor Op(Tensor w) => w + arange(w.shape[1], ScalarType.Float32).reshape(1, -1, 1);
        var pyramid = TemporalWindowing.Weights(8, WindowWeighting.Pyramid);
        var windowing = new TemporalWindowing { WindowSize = 8, Stride = 4 };
        Assert.Equal([(0, 8), (4, 12), (6, 14)], windowing.Windows(14));

        var extra = windowing.Fuse(x, Op).flatten().data<float>().ToArray();
        var uncovered = (windowing with { Tail = WindowTail.Uncovered }).Fuse(x, Op).flatten().data<float>().ToArray();
        var diffusers = (windowing with { Tail = WindowTail.ExtraWindowDiffusers }).Fuse(x, Op).flatten().data<float>().ToArray();

        // Frame 5: windows (0,8) at j=5 and (4,12) at j=1, and (6,14) does not cover it.
        double frame5 = ((pyramid[5] * 5) + (pyramid[1] * 1)) / (pyramid[5] + pyramid[1]);
        // Frame 7 with the extra window: (0,8) j=7, (4,12) j=3, (6,14) j=1.
        double frame7 = ((pyramid[7] * 7) + (pyramid[3] * 3) + (pyramid[1] * 1)) / (pyramid[7] + pyramid[3] + pyramid[1]);
        Assert.Equal(frame5, extra[5], 5);
        Assert.Equal(frame7, extra[7], 5);
        Assert.Equal(7.0, extra[13], 5); // only the extra window covers 13, at j = 7
        Assert.Equal(0.0, uncovered[12]); // get_views: nobody covers 12 and 13
        Assert.Equal(0.0, uncovered[13]);
        Assert.Equal(frame5, uncovered[5], 5);

        // diffusers: the extra window adds only frames 12 and 13, with value w_j·j and count w[6] for both.
        double frame7Diffusers = ((pyramid[7] * 7) + (pyramid[3] * 3)) / (pyramid[7] + pyramid[3]);
        Assert.Equal(frame7Diffusers, diffusers[7], 5);
        Assert.Equal(pyramid[6] * 6 / pyramid[6], diffusers[12], 5);
        Assert.Equal(pyramid[7] * 7 / pyramid[6], diffusers[13], 5);
    }

    [Fact]
    public void Invalid_windowing_is_rejected_with_the_option_named()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TemporalWindowing { WindowSize = 4, Stride = 5 }.Validate());
        Assert.Contains("Stride", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new TemporalWindowing { WindowSize = 0 }.Validate());
        Assert.Contains("WindowSize", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unet_windowing_reaches_every_transformer_block_and_switches_off()
    {
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel();
        var blocks = model.modules().OfType<BasicTransformerBlock>().ToArray();
        Assert.NotEmpty(blocks);
        var windowing = new TemporalWindowing { WindowSize = 4, Stride = 2 };
        model.TemporalWindowing = windowing;
        Assert.All(blocks, b => Assert.Same(windowing, b.TemporalWindowing));
        model.TemporalWindowing = null;
        Assert.All(blocks, b => Assert.Null(b.TemporalWindowing));
    }

    [Fact]
    public void Unet_with_a_window_longer_than_the_clip_equals_the_plain_unet_and_a_short_window_changes_it()
    {
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel();
        using var mode = inference_mode();
        using var gen = new TorchSharp.torch.Generator(5);
        var sample = randn([1, 4, 8, 8, 8], generator: gen);
        var text = randn([1, 7, 32], generator: gen);
        var t = tensor(500L);
        var plain = model.forward(new UNet3DConditionInput(sample, t, text)).Sample;
        model.TemporalWindowing = new TemporalWindowing { WindowSize = 8, Stride = 2 };
        var covering = model.forward(new UNet3DConditionInput(sample, t, text)).Sample;
        model.TemporalWindowing = new TemporalWindowing { WindowSize = 4, Stride = 2 };
        var windowed = model.forward(new UNet3DConditionInput(sample, t, text)).Sample;
        model.TemporalWindowing = null;
        TensorAssert.Equal(plain, covering, "window 8 over 8 frames");
        Assert.True(MaxAbs(plain, windowed) > 1e-4, "window 4 over 8 frames changes the prediction");
        Assert.True(windowed.isfinite().all().item<bool>());
    }

    [Fact]
    public void Unet_takes_text_per_frame_and_the_same_text_on_every_frame_equals_the_broadcast()
    {
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel();
        using var mode = inference_mode();
        using var gen = new TorchSharp.torch.Generator(9);
        var sample = randn([2, 4, 5, 8, 8], generator: gen);
        var text = randn([2, 7, 32], generator: gen);
        var t = tensor(new long[] { 999, 10 });
        var broadcast = model.forward(new UNet3DConditionInput(sample, t, text)).Sample;
        var perFrame = model.forward(new UNet3DConditionInput(sample, t, text.unsqueeze(1).expand(-1, 5, -1, -1))).Sample;
        TensorAssert.Equal(broadcast, perFrame, "the same text on every frame");

        // Another text on the last frame only changes the prediction (most at that frame).
        var other = text.unsqueeze(1).expand(-1, 5, -1, -1).clone();
        other[TensorIndex.Colon, 4] = randn([2, 7, 32], generator: gen);
        var changed = model.forward(new UNet3DConditionInput(sample, t, other)).Sample;
        double last = MaxAbs(broadcast.select(2, 4), changed.select(2, 4));
        Assert.True(last > 1e-3, $"last frame changed by {last}");

        var e = Assert.Throws<ArgumentException>(() => model.forward(new UNet3DConditionInput(sample, t, text.unsqueeze(1).expand(-1, 4, -1, -1))));
        Assert.Contains("per frame", e.Message, StringComparison.Ordinal);
    }

    private static BasicTransformerBlock LoadBlock(SafetensorsFile file)
    {
        // config: dim 64, 2 heads × 32, cross 32 (BasicTransformerBlock(**config, rotary_emb=RotaryEmbedding(32)))
        var block = new BasicTransformerBlock(64, 2, 32, 32);
        ModuleWeights.Load(block, file, new WeightLoadOptions { StripPrefix = "weights.", Strict = true });
        block.eval();
        return block;
    }

    private static double MaxAbs(Tensor a, Tensor b) => (a - b).abs().max().item<float>();
}
