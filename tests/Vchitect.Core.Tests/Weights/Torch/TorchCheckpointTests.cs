using System.Numerics;
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Weights.Torch;

public sealed class TorchCheckpointTests
{
    private static string Checkpoint(string name) => Fixtures.Path(Path.Combine("checkpoints", name));

    public static TheoryData<string, string?> StateDictSources => new()
    {
        { "state_dict.pt", null },
        { "state_dict_zip64.pt", null },
        { "legacy_format.pt", null },
        { "wrapped.pt", "ema" },
        { "wrapped.pt", "model" },
    };

    [Theory]
    [MemberData(nameof(StateDictSources))]
    public void Gives_exactly_the_tensors_of_the_safetensors_twin(string file, string? unwrap)
    {
        var options = new TorchCheckpointOptions { Unwrap = unwrap is null ? [] : [unwrap] };
        using var twin = SafetensorsFile.Open(Checkpoint("state_dict.safetensors"));
        using var checkpoint = TorchCheckpoint.Open(Checkpoint(file), options);
        Assert.Equal(twin.Keys.Order(StringComparer.Ordinal), checkpoint.Keys.Order(StringComparer.Ordinal));
        foreach (string key in checkpoint.Keys)
        {
            using Tensor want = twin.ReadTensor(key);
            TensorInfo info = checkpoint.GetInfo(key);
            Assert.Equal(twin.GetInfo(key).DType, info.DType);
            Assert.Equal(want.shape, info.ShapeArray());

            using Tensor got = checkpoint.ReadTensor(key);
            TensorAssert.Equal(want, got, key);
            Assert.True(got.is_contiguous(), key);
            // Bitwise: compare the raw bytes too (Equal on floats would accept -0 == 0, and NaN never equals).
            Assert.Equal(want.bytes.ToArray(), got.bytes.ToArray());
        }
    }

    [Fact]
    public void Keys_follow_the_order_of_the_pickle()
    {
        using var checkpoint = TorchCheckpoint.Open(Checkpoint("state_dict.pt"));
        Assert.Equal(
            ["conv.weight", "conv.bias", "proj.weight_t", "proj.rows", "half.weight", "bf16.weight",
             "norm.num_batches_tracked", "ids", "mask", "scalar_f32", "empty"],
            checkpoint.Keys);
        Assert.False(checkpoint.IsLegacyFormat);
    }

    [Fact]
    public void Views_that_share_one_storage_are_described_and_read_as_independent_tensors()
    {
        using var checkpoint = TorchCheckpoint.Open(Checkpoint("state_dict.pt"));
        TensorReference transposed = checkpoint.GetReference("proj.weight_t");
        TensorReference rows = checkpoint.GetReference("proj.rows");
        Assert.Equal(transposed.Storage, rows.Storage);
        Assert.Equal([1L, 4L], transposed.Stride);
        Assert.Equal(8, rows.StorageOffset);
        Assert.Equal(24, rows.Storage.ElementCount);

        using Tensor t = checkpoint.ReadTensor("proj.weight_t");
        using Tensor r = checkpoint.ReadTensor("proj.rows");
        // proj.rows is storage[8:20] viewed as 3x4; proj.weight_t is the storage viewed as (6,4) transposed.
        using Tensor rowsFromT = t.t().contiguous().flatten().narrow(0, 8, 12).reshape(3, 4);
        TensorAssert.Equal(rowsFromT, r);

        // Each result owns its memory: writing one does not change the other or a fresh read.
        r.fill_(42f);
        using Tensor again = checkpoint.ReadTensor("proj.weight_t");
        TensorAssert.Equal(t, again);
        using Tensor rowsAgain = checkpoint.ReadTensor("proj.rows");
        TensorAssert.Equal(rowsFromT, rowsAgain);
    }

    [Fact]
    public void ReadTensor_converts_dtype_on_request_and_reports_unknown_keys()
    {
        using var checkpoint = TorchCheckpoint.Open(Checkpoint("state_dict.pt"));
        using Tensor half = checkpoint.ReadTensor("half.weight");
        using Tensor asFloat = checkpoint.ReadTensor("half.weight", ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, asFloat.dtype);
        TensorAssert.Equal(half.to(ScalarType.Float32), asFloat);

        Assert.True(checkpoint.Contains("conv.bias"));
        Assert.False(checkpoint.Contains("nope"));
        var e = Assert.Throws<KeyNotFoundException>(() => checkpoint.ReadTensor("nope"));
        Assert.Contains("nope", e.Message);
        Assert.Contains("state_dict.pt", e.Message);
    }

    [Fact]
    public void Zero_d_and_empty_tensors_keep_their_shapes()
    {
        using var checkpoint = TorchCheckpoint.Open(Checkpoint("state_dict.pt"));
        using Tensor scalar = checkpoint.ReadTensor("scalar_f32");
        Assert.Empty(scalar.shape);
        using Tensor steps = checkpoint.ReadTensor("norm.num_batches_tracked");
        Assert.Equal(ScalarType.Int64, steps.dtype);
        Assert.Empty(steps.shape);
        using Tensor empty = checkpoint.ReadTensor("empty");
        Assert.Equal([0L, 4L], empty.shape);
        Assert.Equal(0, checkpoint.GetInfo("empty").ByteLength);
    }

    [Fact]
    public void Legacy_format_is_read_with_the_same_tensors()
    {
        using var checkpoint = TorchCheckpoint.Open(Checkpoint("legacy_format.pt"));
        Assert.True(checkpoint.IsLegacyFormat);
        using var zip = TorchCheckpoint.Open(Checkpoint("state_dict.pt"));
        Assert.Equal(zip.Keys, checkpoint.Keys);
    }

    [Fact]
    public void Wrapped_checkpoint_without_unwrap_is_refused_listing_its_keys()
    {
        var e = Assert.Throws<WeightsFormatException>(() => TorchCheckpoint.Open(Checkpoint("wrapped.pt")));
        foreach (string key in new[] { "'ema'", "'model'", "'epoch'", "'step'", "'lr'", "'tags'", "'meta'", "Unwrap" })
        {
            Assert.Contains(key, e.Message);
        }
    }

    [Fact]
    public void Default_wrapper_keys_pick_the_first_that_holds_tensors()
    {
        using var checkpoint = TorchCheckpoint.Open(Checkpoint("wrapped.pt"), new TorchCheckpointOptions { Unwrap = TorchCheckpointOptions.DefaultWrapperKeys });
        Assert.Equal(11, checkpoint.Keys.Count);
        var root = Assert.IsAssignableFrom<IReadOnlyDictionary<object, object?>>(checkpoint.Root);
        Assert.Same(root["ema"], root["model"]); // the pickle shares one dict
    }

    [Fact]
    public void Unwrap_keys_that_do_not_hold_tensors_are_skipped_and_named_when_none_fits()
    {
        var e = Assert.Throws<WeightsFormatException>(() =>
            TorchCheckpoint.Open(Checkpoint("wrapped.pt"), new TorchCheckpointOptions { Unwrap = ["epoch", "meta", "state_dict"] }));
        Assert.Contains("epoch, meta, state_dict", e.Message);
    }

    [Fact]
    public void Flattening_nested_dicts_joins_keys_with_dots()
    {
        // {'unet': <state_dict.pt's OrderedDict>, 'vae': <another copy>}: the OrderedDict pickle body inlined twice.
        Dictionary<string, byte[]> entries = MaliciousCheckpointTests.StateDictEntries("archive");
        byte[] body = entries["archive/data.pkl"][2..^1];
        entries["archive/data.pkl"] =
        [
            0x80, 0x02, 0x7d, 0x28,
            0x8c, 0x04, .. "unet"u8, .. body,
            0x8c, 0x03, .. "vae"u8, .. body,
            0x75, 0x2e,
        ];
        byte[] zip = MaliciousCheckpointTests.MakeZip(entries);

        var e = Assert.Throws<WeightsFormatException>(() => TorchCheckpoint.Open(new MemoryStream(zip), "nested.pt", null));
        Assert.Contains("'unet' is dict(11 items), not a tensor", e.Message);

        using var checkpoint = TorchCheckpoint.Open(new MemoryStream(zip), "nested.pt", new TorchCheckpointOptions { FlattenNestedDicts = true });
        Assert.Equal(22, checkpoint.Keys.Count);
        Assert.Equal("unet.conv.weight", checkpoint.Keys[0]);
        Assert.Equal("vae.empty", checkpoint.Keys[^1]);
        using var a = checkpoint.ReadTensor("unet.proj.rows");
        using var b = checkpoint.ReadTensor("vae.proj.rows");
        TensorAssert.Equal(a, b);
    }

    [Fact]
    public void Flattening_refuses_a_dict_met_twice()
    {
        // wrapped.pt without its plain values: {'ema': sd, 'model': sd} shares one dict, which is not flattened twice.
        var e = Assert.Throws<WeightsFormatException>(() =>
            TorchCheckpoint.Open(Checkpoint("wrapped.pt"), new TorchCheckpointOptions { FlattenNestedDicts = true }));
        Assert.Contains("'epoch' is 3, not a tensor", e.Message);
        Assert.Contains("'model' is a dict already met elsewhere", e.Message);
    }

    [Fact]
    public void Plain_values_of_a_training_checkpoint_are_readable()
    {
        var root = Assert.IsAssignableFrom<IReadOnlyDictionary<object, object?>>(TorchCheckpoint.ReadObject(Checkpoint("wrapped.pt")));
        Assert.Equal(3L, root["epoch"]);
        Assert.Equal(1200L, root["step"]);
        Assert.Equal(1e-4, root["lr"]);
        Assert.Equal(["a", "b"], Assert.IsAssignableFrom<IReadOnlyList<object?>>(root["tags"]));
        var meta = Assert.IsAssignableFrom<IReadOnlyDictionary<object, object?>>(root["meta"]);
        Assert.Equal("tiny", meta["name"]);
        var ema = Assert.IsAssignableFrom<IReadOnlyDictionary<object, object?>>(root["ema"]);
        var conv = Assert.IsType<TensorReference>(ema["conv.weight"]);
        Assert.Equal(WeightDType.F32, conv.DType);
        Assert.Equal([8L, 3L, 3L, 3L], conv.Shape);
        Assert.Equal([27L, 9L, 3L, 1L], conv.Stride);
        Assert.False(conv.RequiresGrad);
        Assert.Equal("cpu", conv.Storage.Location);
    }

    [Fact]
    public void Legacy_header_values_read_as_plain_values()
    {
        // The legacy stream's first pickle is the 80-bit magic number: a BigInteger.
        using var stream = File.OpenRead(Checkpoint("legacy_format.pt"));
        object? magic = new RestrictedUnpickler(stream, stream.Length, "legacy_format.pt", "magic").Load();
        Assert.Equal(BigInteger.Parse("119547037146038801333356"), magic);
    }

    [Fact]
    public void Files_that_are_not_checkpoints_are_refused_clearly()
    {
        string dir = Directory.CreateTempSubdirectory("vchitect-ckpt-").FullName;
        try
        {
            string text = Path.Combine(dir, "notes.pt");
            File.WriteAllText(text, "hello");
            Assert.Contains("not a PyTorch checkpoint", Assert.Throws<WeightsFormatException>(() => TorchCheckpoint.Open(text)).Message);

            string plainPickle = Path.Combine(dir, "plain.pkl");
            File.WriteAllBytes(plainPickle, [0x80, 0x02, 0x7d, 0x2e]); // {} with no torch magic number
            Assert.Contains("not a torch.save file", Assert.Throws<WeightsFormatException>(() => TorchCheckpoint.Open(plainPickle)).Message);

            string empty = Path.Combine(dir, "empty.pt");
            File.WriteAllBytes(empty, []);
            Assert.Throws<WeightsFormatException>(() => TorchCheckpoint.Open(empty));

            Assert.Throws<FileNotFoundException>(() => TorchCheckpoint.Open(Path.Combine(dir, "missing.pt")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Is_an_IWeightSource_whose_Description_is_the_path()
    {
        using var checkpoint = TorchCheckpoint.Open(Checkpoint("state_dict.pt"));
        Assert.IsAssignableFrom<IWeightSource>(checkpoint);
        Assert.EndsWith("state_dict.pt", checkpoint.Description);
        Assert.Equal("conv.weight F32 [8, 3, 3, 3]", checkpoint.GetInfo("conv.weight").ToString());
    }
}
