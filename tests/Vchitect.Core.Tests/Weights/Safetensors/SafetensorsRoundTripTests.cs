using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Weights.Safetensors;

public sealed class SafetensorsRoundTripTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    internal static readonly ScalarType[] DTypes =
    [
        ScalarType.Float64, ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Int64,
        ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool,
    ];

    public static TheoryData<ScalarType> AllDTypes => new(DTypes);

    /// <summary>Deterministic values that every dtype holds exactly (small integers and quarters).</summary>
    internal static Tensor Sample(ScalarType type, long[] shape, int salt = 0)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        using var scope = NewDisposeScope();
        Tensor steps = (arange(n, ScalarType.Float64) * 7 + salt).remainder(23);
        Tensor values = type switch
        {
            ScalarType.Bool => steps.remainder(2),
            ScalarType.Byte => steps * 11,
            ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 => (steps - 11) * 0.25,
            _ => steps - 11,
        };
        return values.reshape(shape).to(type).MoveToOuterDisposeScope();
    }

    [Theory]
    [MemberData(nameof(AllDTypes))]
    public void Every_dtype_round_trips_exactly_including_0d_and_empty(ScalarType type)
    {
        string path = _temp.File("t.safetensors");
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["matrix"] = Sample(type, [2, 3]),
            ["scalar"] = Sample(type, [], salt: 5),
            ["empty"] = Sample(type, [0, 4]),
            ["cube"] = Sample(type, [3, 1, 5], salt: 2),
        };
        SafetensorsWriter.Write(path, tensors);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["matrix", "scalar", "empty", "cube"], file.Keys);
        WeightDType expected = WeightDTypes.FromScalarType(type);
        foreach (var (name, tensor) in tensors)
        {
            TensorInfo info = file.GetInfo(name);
            Assert.Equal(expected, info.DType);
            Assert.Equal(tensor.shape, info.ShapeArray());
            SameTensor.Assert(tensor, file.ReadTensor(name), name);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Transposed_tensor_is_stored_in_logical_order(bool memoryMapped)
    {
        string path = _temp.File("t.safetensors");
        using var scope = NewDisposeScope();
        Tensor rows = arange(12, ScalarType.Float32).reshape(3, 4);
        Tensor transposed = rows.t();
        Assert.False(transposed.is_contiguous());
        Tensor narrowed = arange(40, ScalarType.Int64).reshape(5, 8).narrow(1, 1, 5);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["t"] = transposed, ["n"] = narrowed });

        using var file = SafetensorsFile.Open(path, new SafetensorsReadOptions { UseMemoryMapping = memoryMapped });
        Assert.Equal(memoryMapped, file.IsMemoryMapped);
        Tensor back = file.ReadTensor("t");
        Assert.Equal([4L, 3L], back.shape);
        Assert.Equal(new float[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, back.data<float>().ToArray());
        SameTensor.Assert(narrowed.contiguous(), file.ReadTensor("n"));
    }

    [Fact]
    public void Half_and_bfloat16_bit_patterns_survive_reading_and_writing_exactly()
    {
        // +0, -0, 1, max, min subnormal, +inf, -inf, a quiet NaN with payload, a signalling-NaN pattern, a plain value.
        ushort[] patterns = [0x0000, 0x8000, 0x3C00, 0x7BFF, 0x0001, 0x7C00, 0xFC00, 0x7E01, 0x7D55, 0x4248];
        byte[] data = new byte[patterns.Length * 2 * 2];
        for (int i = 0; i < patterns.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), patterns[i]);
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * (patterns.Length + i)), (ushort)(patterns[i] ^ 0x0F0F));
        }

        int n = patterns.Length;
        string header =
            $"{{\"h\":{{\"dtype\":\"F16\",\"shape\":[{n}],\"data_offsets\":[0,{2 * n}]}}," +
            $"\"b\":{{\"dtype\":\"BF16\",\"shape\":[{n}],\"data_offsets\":[{2 * n},{4 * n}]}}}}";
        string raw = _temp.File("raw.safetensors");
        File.WriteAllBytes(raw, RawSafetensors.Build(header, data));

        string copy = _temp.File("copy.safetensors");
        using var scope = NewDisposeScope();
        using (var file = SafetensorsFile.Open(raw))
        {
            Tensor h = file.ReadTensor("h");
            Tensor b = file.ReadTensor("b");
            Assert.Equal(ScalarType.Float16, h.dtype);
            Assert.Equal(ScalarType.BFloat16, b.dtype);
            Assert.Equal(data[..(2 * n)], h.bytes.ToArray());
            Assert.Equal(data[(2 * n)..], b.bytes.ToArray());
            SafetensorsWriter.Write(copy, [new("h", h), new("b", b)]);
        }

        byte[] written = File.ReadAllBytes(copy);
        Assert.Equal(data, written[RawSafetensors.Layout(written).DataStart..]);
    }

    [Fact]
    public void Header_is_a_space_padded_json_object_with_keys_in_the_given_order()
    {
        string path = _temp.File("t.safetensors");
        using var scope = NewDisposeScope();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" };
        SafetensorsWriter.Write(path,
            [new("z.last", ones(3)), new("a.first", zeros(2, 2, dtype: ScalarType.Int16)), new("m.mid", tensor(true))],
            metadata);

        byte[] bytes = File.ReadAllBytes(path);
        var (n, dataStart) = RawSafetensors.Layout(bytes);
        Assert.Equal(0, n % 8);
        Assert.Equal(12 + 8 + 1, bytes.Length - dataStart);
        string header = RawSafetensors.Header(bytes);
        Assert.StartsWith("{", header);
        Assert.Equal(header.TrimEnd(' ').Length, header.TrimEnd().Length);

        using var json = JsonDocument.Parse(header);
        var members = json.RootElement.EnumerateObject().ToArray();
        Assert.Equal(["__metadata__", "z.last", "a.first", "m.mid"], members.Select(m => m.Name));
        Assert.Equal("ünïcode \"quoted\"", members[0].Value.GetProperty("note").GetString());
        Assert.Equal("I16", members[2].Value.GetProperty("dtype").GetString());
        Assert.Equal([12L, 20L], members[2].Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(JsonValueKind.Array, members[3].Value.GetProperty("shape").ValueKind);
        Assert.Equal(0, members[3].Value.GetProperty("shape").GetArrayLength());

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(["z.last", "a.first", "m.mid"], file.Keys);
    }

    [Fact]
    public void Rewriting_the_python_fixture_gives_the_same_tensors_offsets_and_data_bytes()
    {
        string fixture = Fixtures.Path("checkpoints/state_dict.safetensors");
        string path = _temp.File("rewritten.safetensors");
        using var scope = NewDisposeScope();
        using (var source = SafetensorsFile.Open(fixture))
        {
            SafetensorsWriter.Write(path, source.Keys.Select(k => KeyValuePair.Create(k, source.ReadTensor(k))), source.Metadata);
        }

        byte[] expected = File.ReadAllBytes(fixture);
        byte[] actual = File.ReadAllBytes(path);
        Assert.Equal(expected[RawSafetensors.Layout(expected).DataStart..], actual[RawSafetensors.Layout(actual).DataStart..]);

        using var expectedJson = JsonDocument.Parse(RawSafetensors.Header(expected));
        using var actualJson = JsonDocument.Parse(RawSafetensors.Header(actual));
        foreach (JsonProperty member in expectedJson.RootElement.EnumerateObject())
        {
            Assert.True(JsonElement.DeepEquals(member.Value, actualJson.RootElement.GetProperty(member.Name)), member.Name);
        }

        Assert.Equal(expectedJson.RootElement.EnumerateObject().Count(), actualJson.RootElement.EnumerateObject().Count());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Tensors_larger_than_a_copy_block_are_read_and_written_in_blocks(bool memoryMapped)
    {
        string path = _temp.File("t.safetensors");
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["f64"] = Sample(ScalarType.Float64, [7, 3]),
            ["mask"] = Sample(ScalarType.Bool, [37]),
            ["bf16"] = Sample(ScalarType.BFloat16, [5, 5]).t(),
        };
        SafetensorsWriter.Write(path, tensors, metadata: null, blockBytes: 8);

        var options = new SafetensorsReadOptions { UseMemoryMapping = memoryMapped, CopyChunkBytes = 8 };
        using var file = SafetensorsFile.Open(path, options);
        foreach (var (name, tensor) in tensors)
        {
            SameTensor.Assert(tensor.contiguous(), file.ReadTensor(name), name);
        }
    }

    [Fact]
    public void ReadTensor_converts_the_dtype_and_places_the_tensor_on_each_available_device()
    {
        string path = _temp.File("t.safetensors");
        using var scope = NewDisposeScope();
        Tensor half = Sample(ScalarType.Float16, [4, 4]);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["h"] = half });
        using var file = SafetensorsFile.Open(path);

        var devices = new List<Device> { CPU };
        if (cuda.is_available())
        {
            devices.Add(CUDA);
        }

        foreach (Device device in devices)
        {
            Tensor f32 = file.ReadTensor("h", ScalarType.Float32, device);
            Assert.Equal(ScalarType.Float32, f32.dtype);
            Assert.Equal(device.type, f32.device_type);
            SameTensor.Assert(half.to(ScalarType.Float32), f32.cpu());

            Tensor moved = file.ReadTensor("h", device: device);
            Assert.Equal(ScalarType.Float16, moved.dtype);
            Assert.Equal(device.type, moved.device_type);
        }
    }

    [Fact]
    public void Tensors_read_do_not_alias_the_file_and_outlive_it()
    {
        string path = _temp.File("t.safetensors");
        using var scope = NewDisposeScope();
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["x"] = arange(6, ScalarType.Float32) });

        Tensor first;
        using (var file = SafetensorsFile.Open(path))
        {
            first = file.ReadTensor("x");
            first.add_(100);
            SameTensor.Assert(arange(6, ScalarType.Float32), file.ReadTensor("x"), "re-read after writing to the first copy");
        }

        File.Delete(path);
        Assert.Equal(new float[] { 100, 101, 102, 103, 104, 105 }, first.data<float>().ToArray());
    }

    [Fact]
    public void A_file_with_no_data_bytes_opens_and_reads()
    {
        string path = _temp.File("t.safetensors");
        using var scope = NewDisposeScope();
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["a"] = zeros(0), ["b"] = zeros(new long[] { 3, 0 }, ScalarType.Int8) });
        Assert.Equal(0, RawSafetensors.Layout(File.ReadAllBytes(path)).DataStart % 8);
        using (var file = SafetensorsFile.Open(path))
        {
            Assert.Equal(0, file.DataLength);
            Assert.Equal(["a", "b"], file.Keys);
            Assert.Equal([3L, 0L], file.ReadTensor("b").shape);
        }

        SafetensorsWriter.Write(path, new Dictionary<string, Tensor>(), new Dictionary<string, string> { ["only"] = "metadata" });
        using (var file = SafetensorsFile.Open(path))
        {
            Assert.Empty(file.Keys);
            Assert.Equal("metadata", file.Metadata["only"]);
        }

        File.WriteAllBytes(path, RawSafetensors.Build("{}"));
        using (var file = SafetensorsFile.Open(path))
        {
            Assert.Empty(file.Keys);
            Assert.Empty(file.Metadata);
        }
    }

    [Fact]
    public void Unknown_key_throws_KeyNotFoundException_naming_file_and_key_and_Contains_says_false()
    {
        using var file = SafetensorsFile.Open(Fixtures.Path("checkpoints/state_dict.safetensors"));
        Assert.False(file.Contains("nope"));
        Assert.True(file.Contains("conv.bias"));
        var ex = Assert.Throws<KeyNotFoundException>(() => file.ReadTensor("nope"));
        Assert.Contains("nope", ex.Message);
        Assert.Contains("state_dict.safetensors", ex.Message);
        Assert.Throws<KeyNotFoundException>(() => file.GetInfo("nope"));
    }

    [Fact]
    public void A_disposed_file_refuses_reads()
    {
        var file = SafetensorsFile.Open(Fixtures.Path("checkpoints/state_dict.safetensors"));
        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.ReadTensor("conv.bias"));
    }

    [Fact]
    public void Reading_and_writing_leave_no_live_tensors_behind()
    {
        string path = _temp.File("t.safetensors");
        using Tensor source = arange(24, ScalarType.Float32).reshape(2, 3, 4).permute(2, 0, 1);
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["p"] = source }, null, blockBytes: 8);
        using (var file = SafetensorsFile.Open(path, new SafetensorsReadOptions { CopyChunkBytes = 8 }))
        {
            using Tensor a = file.ReadTensor("p");
            using Tensor b = file.ReadTensor("p", ScalarType.Float64);
        }

        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.False(source.IsInvalid);
    }
}
