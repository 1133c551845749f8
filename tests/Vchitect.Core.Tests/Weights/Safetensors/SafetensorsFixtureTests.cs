using System.Buffers.Binary;
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Weights.Safetensors;

/// <summary>Files written by Python's safetensors, checked against bytes decoded by hand from the raw file.</summary>
public sealed class SafetensorsFixtureTests
{
    private static readonly string StateDict = Fixtures.Path("checkpoints/state_dict.safetensors");
    private static readonly string Rng = Fixtures.Path("rng.safetensors");

    [Fact]
    public void State_dict_fixture_lists_its_eleven_tensors_in_offset_order_with_dtypes_and_shapes()
    {
        using var file = SafetensorsFile.Open(StateDict);
        string[] expected =
        [
            "bf16.weight BF16 [3, 5]", "conv.bias F32 [8]", "conv.weight F32 [8, 3, 3, 3]", "empty F32 [0, 4]",
            "half.weight F16 [5, 7]", "ids I64 [2, 5]", "mask BOOL [3]", "norm.num_batches_tracked I64 []",
            "proj.rows F32 [3, 4]", "proj.weight_t F32 [4, 6]", "scalar_f32 F32 []",
        ];
        Assert.Equal(expected, file.Keys.Select(k => file.GetInfo(k).ToString()));
        Assert.Equal("checkpoint", file.Metadata["component"]);
        Assert.Equal(1235, file.DataLength);
        Assert.True(file.IsMemoryMapped);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void State_dict_fixture_values_equal_the_bytes_decoded_by_hand(bool memoryMapped)
    {
        byte[] raw = File.ReadAllBytes(StateDict);
        int data = 8 + checked((int)BinaryPrimitives.ReadUInt64LittleEndian(raw));
        ReadOnlySpan<byte> At(int begin, int end) => raw.AsSpan(data + begin, end - begin);

        using var scope = NewDisposeScope();
        using var file = SafetensorsFile.Open(StateDict, new SafetensorsReadOptions { UseMemoryMapping = memoryMapped });

        // conv.bias: F32 [8] at [30, 62].
        float[] bias = Enumerable.Range(0, 8).Select(i => BitConverter.ToSingle(At(30 + 4 * i, 34 + 4 * i))).ToArray();
        Assert.Equal(bias, file.ReadTensor("conv.bias").data<float>().ToArray());

        // conv.weight: F32 [8,3,3,3] at [62, 926]; check the first and last element and the [7,2,2,1] one.
        Tensor weight = file.ReadTensor("conv.weight");
        Assert.Equal(BitConverter.ToSingle(At(62, 66)), weight[0, 0, 0, 0].item<float>());
        Assert.Equal(BitConverter.ToSingle(At(922, 926)), weight[7, 2, 2, 2].item<float>());
        Assert.Equal(BitConverter.ToSingle(At(62 + 4 * 214, 66 + 4 * 214)), weight[7, 2, 2, 1].item<float>());

        // bf16.weight: BF16 [3,5] at [0, 30]; a bfloat16 is the top half of a float32.
        float[] bf16 = Enumerable.Range(0, 15)
            .Select(i => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(At(2 * i, 2 * i + 2)) << 16)).ToArray();
        Assert.Equal(bf16, file.ReadTensor("bf16.weight", ScalarType.Float32).data<float>().ToArray());

        // half.weight: F16 [5,7] at [926, 996].
        float[] half = Enumerable.Range(0, 35).Select(i => (float)BitConverter.ToHalf(At(926 + 2 * i, 928 + 2 * i))).ToArray();
        Assert.Equal(half, file.ReadTensor("half.weight", ScalarType.Float32).data<float>().ToArray());

        // ids: I64 [2,5] at [996, 1076]; mask: BOOL [3] at [1076, 1079]; num_batches_tracked: I64 [] at [1079, 1087].
        long[] ids = Enumerable.Range(0, 10).Select(i => BitConverter.ToInt64(At(996 + 8 * i, 1004 + 8 * i))).ToArray();
        Assert.Equal(ids, file.ReadTensor("ids").data<long>().ToArray());
        Assert.Equal(At(1076, 1079).ToArray().Select(b => b == 1), file.ReadTensor("mask").data<bool>().ToArray());
        Tensor tracked = file.ReadTensor("norm.num_batches_tracked");
        Assert.Equal(0, tracked.dim());
        Assert.Equal(BitConverter.ToInt64(At(1079, 1087)), tracked.item<long>());

        // scalar_f32: F32 [] at [1231, 1235]; empty: F32 [0, 4].
        Assert.Equal(BitConverter.ToSingle(At(1231, 1235)), file.ReadTensor("scalar_f32").item<float>());
        Assert.Equal([0L, 4L], file.ReadTensor("empty").shape);
    }

    [Fact]
    public void Rng_fixture_has_its_metadata_and_values_equal_to_bytes_decoded_by_hand()
    {
        byte[] raw = File.ReadAllBytes(Rng);
        int data = 8 + checked((int)BinaryPrimitives.ReadUInt64LittleEndian(raw));

        using var scope = NewDisposeScope();
        using var file = SafetensorsFile.Open(Rng);
        Assert.Equal("rng", file.Metadata["component"]);
        Assert.Contains("\"seeds\"", file.Metadata["config"]);
        Assert.Equal(15, file.Keys.Count);

        // out.seed0.gen_randperm_10: I64 [10] at [148, 228]; a permutation of 0..9.
        long[] perm = file.ReadTensor("out.seed0.gen_randperm_10").data<long>().ToArray();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => BitConverter.ToInt64(raw, data + 148 + 8 * i)), perm);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), perm.Order());

        // out.seed42.randn_1x4x16x40x64: F32 [4,2,40,64] at [164564, 246484]; check the last element.
        Tensor big = file.ReadTensor("out.seed42.randn_1x4x16x40x64");
        Assert.Equal([4L, 2L, 40L, 64L], big.shape);
        Assert.Equal(BitConverter.ToSingle(raw, data + 246484 - 4), big[3, 1, 39, 63].item<float>());

        // out.seed0.gen_rand_4x4: uniform [0, 1).
        Tensor uniform = file.ReadTensor("out.seed0.gen_rand_4x4");
        Assert.Equal(BitConverter.ToSingle(raw, data), uniform[0, 0].item<float>());
        Assert.True(uniform.ge(0).all().item<bool>() && uniform.lt(1).all().item<bool>());
    }
}
