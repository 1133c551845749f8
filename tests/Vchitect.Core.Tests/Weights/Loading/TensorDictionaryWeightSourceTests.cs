using TorchSharp;
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Weights.Loading;

public sealed class TensorDictionaryWeightSourceTests
{
    [Fact]
    public void Describes_keys_in_order_with_dtype_and_shape()
    {
        using var a = torch.zeros(2, 3);
        using var b = torch.ones(new long[] { 4 }, ScalarType.Int64);
        using var c = torch.tensor(1.5, ScalarType.Float16);
        var dict = new Dictionary<string, Tensor> { ["b"] = b, ["a"] = a, ["c"] = c };
        using var source = new TensorDictionaryWeightSource(dict, description: "test dict");

        Assert.Equal(["b", "a", "c"], source.Keys);
        Assert.Equal("test dict", source.Description);
        Assert.True(source.Contains("a"));
        Assert.False(source.Contains("z"));
        Assert.Equal(new TensorInfo("a", WeightDType.F32, [2, 3]), source.GetInfo("a"));
        Assert.NotEqual(new TensorInfo("a", WeightDType.F32, [3, 2]), source.GetInfo("a"));
        Assert.Equal(WeightDType.I64, source.GetInfo("b").DType);
        Assert.Empty(source.GetInfo("c").Shape);
        var e = Assert.Throws<KeyNotFoundException>(() => source.GetInfo("z"));
        Assert.Contains("test dict", e.Message, StringComparison.Ordinal);
        Assert.Contains("'z'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reads_are_independent_converted_copies()
    {
        using var a = torch.arange(6, ScalarType.Float32).reshape(2, 3);
        using var source = new TensorDictionaryWeightSource(new Dictionary<string, Tensor> { ["a"] = a });

        using (var read = source.ReadTensor("a"))
        {
            TensorAssert.Equal(a, read);
            read.add_(1);
        }

        using var half = source.ReadTensor("a", ScalarType.Float16, CPU);
        Assert.Equal(ScalarType.Float16, half.dtype);
        Assert.Equal(DeviceType.CPU, half.device_type);
        using var expected = torch.arange(6, ScalarType.Float32).reshape(2, 3);
        TensorAssert.Equal(expected, a, "the source is unchanged by edits to what it returned");
        Assert.False(a.IsInvalid);
    }

    [Fact]
    public void Parameters_read_as_plain_tensors()
    {
        using var linear = nn.Linear(2, 2);
        using var source = new TensorDictionaryWeightSource(linear.state_dict());
        using var weight = source.ReadTensor("weight");
        Assert.False(weight.requires_grad);
    }

    [Fact]
    public void Disposes_the_tensors_only_when_it_owns_them()
    {
        var kept = torch.zeros(2);
        new TensorDictionaryWeightSource(new Dictionary<string, Tensor> { ["k"] = kept }).Dispose();
        Assert.False(kept.IsInvalid);
        kept.Dispose();

        var owned = torch.zeros(2);
        var source = new TensorDictionaryWeightSource(new Dictionary<string, Tensor> { ["o"] = owned }, ownsTensors: true);
        source.Dispose();
        source.Dispose();
        Assert.True(owned.IsInvalid);
        Assert.Throws<ObjectDisposedException>(() => source.ReadTensor("o"));
    }
}
