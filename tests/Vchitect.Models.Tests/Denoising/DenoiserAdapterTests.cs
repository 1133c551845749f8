using Vchitect.Models.Denoising;
using Vchitect.Models.Tests.UNets;
using Vchitect.TestUtilities;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.Denoising;

/// <summary>The denoiser adapters and the conditioning record they read.</summary>
[Collection(UNetTorchState.Name)]
public sealed class DenoiserAdapterTests
{
    [Fact]
    public void UNet_denoiser_concatenates_ConcatLatents_as_SEINE_does()
    {
        // SEINE's reference concatenates [x, mask, masked latents] on channels; the adapter must give the same output.
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel(fileName: UNetFixtures.SeineFile);
        using var file = UNetFixtures.Open(UNetFixtures.SeineFile);
        using var mode = inference_mode();
        var denoiser = new UNet3DDenoiser(model);
        var conditioning = new VideoConditioning(file.ReadTensor("in.encoder_hidden_states"))
        {
            ConcatLatents = cat([file.ReadTensor("in.mask"), file.ReadTensor("in.masked_video_latents")], 1),
        };
        var actual = denoiser.Predict(file.ReadTensor("in.x"), file.ReadTensor("in.timestep"), conditioning);
        TensorAssert.Close(file.ReadTensor("out.sample"), actual, 1e-4, what: "SEINE output through the adapter");
        Assert.Equal(9, denoiser.InChannels);
    }

    [Fact]
    public void UNet_denoiser_names_the_channel_mismatch()
    {
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel(fileName: UNetFixtures.SeineFile);
        using var file = UNetFixtures.Open(UNetFixtures.SeineFile);
        var denoiser = new UNet3DDenoiser(model);
        var ex = Assert.Throws<ArgumentException>(() =>
            denoiser.Predict(file.ReadTensor("in.x"), file.ReadTensor("in.timestep"), new VideoConditioning(file.ReadTensor("in.encoder_hidden_states"))));
        Assert.Contains("9 input channels", ex.Message, StringComparison.Ordinal);
        Assert.Contains("no ConcatLatents", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Concat_stacks_every_field_and_refuses_a_one_sided_field()
    {
        using var scope = NewDisposeScope();
        var a = new VideoConditioning(zeros(1, 3, 8)) { ConcatLatents = zeros([1, 4, 2, 2, 2]), ClassLabels = tensor(new long[] { 5 }) };
        var b = new VideoConditioning(ones(2, 3, 8)) { ConcatLatents = ones([2, 4, 2, 2, 2]), ClassLabels = tensor(new long[] { 7, 9 }) };
        var c = VideoConditioning.Concat(a, b);
        Assert.Equal(3, c.BatchSize);
        Assert.Equal([3L, 4, 2, 2, 2], c.ConcatLatents!.shape);
        Assert.Equal([5L, 7, 9], c.ClassLabels!.data<long>().ToArray());
        Assert.Null(c.LowResVideo);
        Assert.Equal(0f, c.ConcatLatents[0].sum().item<float>());
        Assert.Equal(32f, c.ConcatLatents[1].sum().item<float>());

        var ex = Assert.Throws<ArgumentException>(() => VideoConditioning.Concat(a, b with { ClassLabels = null }));
        Assert.Contains("ClassLabels", ex.Message, StringComparison.Ordinal);
    }
}
