using Vchitect.Models.Blocks;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.Blocks;

/// <summary>
/// CPU bfloat16 convolutions with few output channels (libtorch 2.10 gets them wrong on some CPUs, see Blocks/Conv2dMath.cs):
/// the models' convolutions must follow float32 at bfloat16's precision for every output width.
/// </summary>
public sealed class BFloat16ConvolutionTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(32)]
    public void Inflated_conv_in_bfloat16_follows_float32(int outChannels)
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var a = new InflatedConv(32, outChannels, 3, padding: 1);
        using var b = new InflatedConv(32, outChannels, 3, padding: 1, dtype: ScalarType.BFloat16);
        b.load_state_dict(a.state_dict());
        using var noGrad = no_grad();
        using var g = new Generator(10);
        var x = randn([1, 32, 2, 8, 8], generator: g);
        var ya = a.forward(x);
        var yb = b.forward(x.to(ScalarType.BFloat16));
        Assert.Equal(ScalarType.BFloat16, yb.dtype);
        double rel = ((ya - yb.to(ScalarType.Float32)).abs().mean() / ya.abs().mean()).item<float>();
        Assert.True(rel < 0.01, $"{outChannels} outputs: mean relative error {rel:F4}");
    }
}
