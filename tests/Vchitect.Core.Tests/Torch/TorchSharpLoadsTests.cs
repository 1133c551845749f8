using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Torch;

/// <summary>Proves the native TorchSharp backend loads on this machine (see buildTransitive/Vchitect.Core.targets).</summary>
public sealed class TorchSharpLoadsTests
{
    [Fact]
    public void Matmul_gives_the_exact_product_of_small_integer_matrices()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var b = tensor(new float[] { 7, 8, 9, 10, 11, 12 }, 3, 2);
        using var c = matmul(a, b);
        Assert.Equal(new float[] { 58, 64, 139, 154 }, c.data<float>().ToArray());
    }

    [Fact]
    public void Scaled_dot_product_attention_equals_softmax_attention_written_out()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(0);
        var q = randn(new long[] { 2, 3, 5, 8 }, generator: gen);
        var k = randn(new long[] { 2, 3, 7, 8 }, generator: gen);
        var v = randn(new long[] { 2, 3, 7, 4 }, generator: gen);
        var fused = nn.functional.scaled_dot_product_attention(q, k, v);
        var manual = softmax(matmul(q, k.transpose(-1, -2)) / Math.Sqrt(8), -1).matmul(v);
        Assert.Equal(new long[] { 2, 3, 5, 4 }, fused.shape);
        double maxAbs = (fused - manual).abs().max().item<float>();
        Assert.True(maxAbs < 1e-5, $"max abs diff {maxAbs}");
    }
}
