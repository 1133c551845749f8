using Vchitect.Core;
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;
using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests;

public sealed class RandomGeneratorTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(42)]
    [InlineData(2024)]
    public void Draws_equal_pytorch_cpu_generator_for_the_seed(long seed)
    {
        // rng.safetensors: g = torch.Generator().manual_seed(s); randn(3,7); rand(4,4); randperm(10), in that order (PyTorch CPU).
        using var fixture = SafetensorsFile.Open(Fixtures.Path("rng.safetensors"));
        using var scope = NewDisposeScope();
        using var gen = new RandomGenerator(seed);
        TensorAssert.Equal(fixture.ReadTensor($"out.seed{seed}.gen_randn_3x7"), gen.Randn([3, 7]), "randn");
        TensorAssert.Equal(fixture.ReadTensor($"out.seed{seed}.gen_rand_4x4"), gen.Rand([4, 4]), "rand");
        TensorAssert.Equal(fixture.ReadTensor($"out.seed{seed}.gen_randperm_10"), gen.Randperm(10), "randperm");
    }

    [Fact]
    public void Large_latent_draw_equals_pytorch_for_seed_0()
    {
        // torch.manual_seed(0); torch.randn(1,4,16,40,64): a LaVie-sized latent; the file keeps [0, :, :2].
        using var fixture = SafetensorsFile.Open(Fixtures.Path("rng.safetensors"));
        using var scope = NewDisposeScope();
        using var gen = new RandomGenerator(0);
        var latents = gen.Randn([1, 4, 16, 40, 64]);
        TensorAssert.Equal(fixture.ReadTensor("out.seed0.randn_1x4x16x40x64"), latents[0, TensorIndex.Colon, TensorIndex.Slice(0, 2)].contiguous());
    }

    [Fact]
    public void Same_seed_gives_same_noise_and_the_stream_advances()
    {
        using var scope = NewDisposeScope();
        using var a = new RandomGenerator(7);
        using var b = new RandomGenerator(7);
        var first = a.Randn([2, 3]);
        TensorAssert.Equal(first, b.Randn([2, 3]));
        Assert.False(first.eq(a.Randn([2, 3])).all().item<bool>());
    }

    [Fact]
    public void Half_precision_draw_is_made_in_that_dtype()
    {
        using var scope = NewDisposeScope();
        using var gen = new RandomGenerator(1);
        var x = gen.Randn([4, 4], ScalarType.Float16);
        Assert.Equal(ScalarType.Float16, x.dtype);
        Assert.Equal(DeviceType.CPU, x.device_type);
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_their_names()
    {
        using var gen = new RandomGenerator(0);
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => gen.Randn([2, -1]));
        Assert.Contains("negative", e1.Message, StringComparison.Ordinal);
        var e2 = Assert.Throws<ArgumentException>(() => gen.Randn([2], ScalarType.Int64));
        Assert.Contains("Int64", e2.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => gen.Randperm(-1));
    }

    [Fact]
    public void New_seed_is_non_negative_and_json_safe()
    {
        for (int i = 0; i < 100; i++)
        {
            long s = RandomGenerator.NewSeed();
            Assert.InRange(s, 0, 1L << 53);
        }
    }
}
