using TorchSharp;
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Weights.Loading;

public sealed class ModuleWeightsTests : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public static TheoryData<string> Devices()
    {
        var devices = new TheoryData<string> { "cpu" };
        if (cuda.is_available())
        {
            devices.Add("cuda");
        }

        return devices;
    }

    public void Dispose()
    {
        foreach (var item in _owned)
        {
            item.Dispose();
        }
    }

    private T Own<T>(T item)
        where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    private Dictionary<string, Tensor> StateDict(long seed, ScalarType dtype = ScalarType.Float32)
    {
        var sd = TinyNet.RandomStateDict(seed, dtype);
        foreach (var t in sd.Values)
        {
            Own(t);
        }

        return sd;
    }

    private TensorDictionaryWeightSource Source(Dictionary<string, Tensor> sd) => Own(new TensorDictionaryWeightSource(sd));

    private static void AssertModuleHolds(TinyNet model, IReadOnlyDictionary<string, Tensor> expected, IEnumerable<string>? only = null)
    {
        var actual = model.state_dict();
        foreach (string key in only ?? expected.Keys)
        {
            using var e = expected[key].to(actual[key].dtype, actual[key].device);
            TensorAssert.Equal(e, actual[key], key);
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void Exact_load_copies_every_tensor_in_place(string deviceName)
    {
        var device = torch.device(deviceName);
        var sd = StateDict(1);
        using var model = new TinyNet(device);
        var parametersBefore = model.parameters().ToList();

        var report = ModuleWeights.Load(model, Source(sd));

        Assert.True(report.IsComplete);
        Assert.Equal(TinyNet.KeyCount, report.Loaded.Count);
        Assert.Equal(model.state_dict().Keys, report.Loaded);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.Empty(report.ShapeMismatches);
        AssertModuleHolds(model, sd);
        var parametersAfter = model.parameters().ToList();
        Assert.Equal(parametersBefore.Count, parametersAfter.Count);
        Assert.All(parametersBefore.Zip(parametersAfter), p => Assert.Same(p.First, p.Second));
        Assert.All(parametersAfter, p => Assert.True(p.requires_grad));
        Assert.All(model.state_dict().Values, t => Assert.Equal(device.type, t.device_type));
        Assert.Equal(101L, model.state_dict()["norm.num_batches_tracked"].item<long>());
    }

    [Fact]
    public void Strict_failure_lists_every_missing_unexpected_and_mismatched_key_and_changes_nothing()
    {
        var sd = StateDict(2);
        sd.Remove("blocks.1.bias");
        sd.Remove("norm.running_var");
        sd.Remove("proj_out.weight");
        sd["blocks.2.weight"] = Own(torch.zeros(4, 4));
        sd["text_proj.bias"] = Own(torch.zeros(3));
        sd["conv_in.weight"] = Own(torch.zeros(4, 3, 1, 1));
        sd["blocks.0.bias"] = Own(torch.zeros(9));
        using var model = new TinyNet();
        var before = model.Snapshot();
        foreach (var t in before.Values)
        {
            Own(t);
        }

        var counting = Own(new CountingSource(Source(sd)));
        var e = Assert.Throws<StateDictMismatchException>(() => ModuleWeights.Load(model, counting, new WeightLoadOptions { DType = ScalarType.Float16 }));

        var report = e.Report!;
        // state_dict order: every parameter, then every buffer.
        Assert.Equal(["blocks.1.bias", "proj_out.weight", "norm.running_var"], report.Missing);
        Assert.Equal(["blocks.2.weight", "text_proj.bias"], report.Unexpected);
        Assert.Equal(["conv_in.weight", "blocks.0.bias"], report.ShapeMismatches.Select(m => m.Key));
        Assert.Equal([4L, 3, 3, 3], report.ShapeMismatches[0].ModuleShape);
        Assert.Equal([4L, 3, 1, 1], report.ShapeMismatches[0].SourceShape);
        Assert.Empty(report.Loaded);

        Assert.Contains("3 missing, 2 unexpected, 2 shape mismatches", e.Message, StringComparison.Ordinal);
        Assert.Contains("Missing (3", e.Message, StringComparison.Ordinal);
        Assert.Contains("Unexpected (2", e.Message, StringComparison.Ordinal);
        Assert.Contains("Shape mismatches (2", e.Message, StringComparison.Ordinal);
        foreach (string key in report.Missing.Concat(report.Unexpected))
        {
            Assert.Contains("\n  " + key, e.Message, StringComparison.Ordinal);
        }

        Assert.Contains("conv_in.weight: module [4, 3, 3, 3], weights [4, 3, 1, 1]", e.Message, StringComparison.Ordinal);
        Assert.Contains("blocks.0.bias: module [8], weights [9]", e.Message, StringComparison.Ordinal);
        Assert.Contains(counting.Description, e.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(TinyNet), e.Message, StringComparison.Ordinal);

        // Checked from headers only, and the module is untouched: same values, same dtype.
        Assert.Equal(0, counting.Reads);
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        AssertModuleHolds(model, before);
    }

    [Fact]
    public void Non_strict_load_fills_what_matches_and_reports_the_rest()
    {
        var sd = StateDict(3);
        sd.Remove("blocks.1.weight");
        sd["extra.weight"] = Own(torch.ones(2));
        using var model = new TinyNet();
        var before = model.Snapshot();
        foreach (var t in before.Values)
        {
            Own(t);
        }

        var report = ModuleWeights.Load(model, Source(sd), new WeightLoadOptions { Strict = false });

        Assert.False(report.IsComplete);
        Assert.Equal(TinyNet.KeyCount - 1, report.Loaded.Count);
        Assert.Equal(["blocks.1.weight"], report.Missing);
        Assert.Equal(["extra.weight"], report.Unexpected);
        AssertModuleHolds(model, sd, report.Loaded);
        AssertModuleHolds(model, before, ["blocks.1.weight"]);
        Assert.Contains("1 missing", report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Shape_mismatches_fail_a_non_strict_load_unless_skipped()
    {
        var sd = StateDict(4);
        sd["proj_out.weight"] = Own(torch.zeros(3, 4));
        using var model = new TinyNet();

        var e = Assert.Throws<StateDictMismatchException>(() => ModuleWeights.Load(model, Source(sd), new WeightLoadOptions { Strict = false }));
        Assert.Single(e.Report!.ShapeMismatches);

        var report = ModuleWeights.Load(model, Source(sd), new WeightLoadOptions { SkipShapeMismatches = true });
        Assert.Equal(TinyNet.KeyCount - 1, report.Loaded.Count);
        Assert.Equal("proj_out.weight", Assert.Single(report.ShapeMismatches).Key);
        Assert.DoesNotContain("proj_out.weight", report.Loaded);
    }

    [Fact]
    public void Prefix_and_key_map_rename_checkpoint_keys_and_drop_others()
    {
        var sd = StateDict(5);
        // As an original-repo checkpoint might store it: a wrapper prefix, "layers" for "blocks", plus other parts.
        var stored = sd.ToDictionary(
            kv => "model.diffusion_model." + kv.Key.Replace("blocks.", "layers.", StringComparison.Ordinal),
            kv => kv.Value,
            StringComparer.Ordinal);
        stored["first_stage_model.decoder.weight"] = Own(torch.zeros(1));
        stored["model.diffusion_model.ema_decay"] = Own(torch.zeros(1));
        using var model = new TinyNet();

        var report = ModuleWeights.Load(model, Source(stored), new WeightLoadOptions
        {
            StripPrefix = "model.diffusion_model.",
            KeyMap = key => key == "ema_decay" ? null : key.Replace("layers.", "blocks.", StringComparison.Ordinal),
        });

        Assert.True(report.IsComplete);
        Assert.Equal(["first_stage_model.decoder.weight", "model.diffusion_model.ema_decay"], report.Skipped.Order(StringComparer.Ordinal));
        AssertModuleHolds(model, sd);
    }

    [Fact]
    public void AddPrefix_puts_bare_keys_under_a_submodule_and_mismatches_name_the_stored_key()
    {
        var sd = StateDict(6);
        var linearOnly = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["weight"] = sd["blocks.1.weight"],
            ["bias"] = Own(torch.zeros(5)),
        };
        using var model = new TinyNet();

        var report = ModuleWeights.Load(model, Source(linearOnly), new WeightLoadOptions { AddPrefix = "blocks.1.", Strict = false, SkipShapeMismatches = true });

        Assert.Equal(["blocks.1.weight"], report.Loaded);
        var mismatch = Assert.Single(report.ShapeMismatches);
        Assert.Equal("blocks.1.bias", mismatch.Key);
        Assert.Equal("bias", mismatch.SourceKey);
        Assert.Contains("(stored as 'bias')", mismatch.ToString(), StringComparison.Ordinal);
        AssertModuleHolds(model, sd, ["blocks.1.weight"]);
    }

    [Fact]
    public void Two_checkpoint_keys_mapping_to_one_module_key_is_refused()
    {
        var sd = StateDict(7);
        sd["proj_out.weight_copy"] = Own(torch.zeros(2, 4));
        using var model = new TinyNet();

        var e = Assert.Throws<ArgumentException>(() => ModuleWeights.Load(model, Source(sd), new WeightLoadOptions
        {
            KeyMap = key => key.Replace("_copy", string.Empty, StringComparison.Ordinal),
        }));

        Assert.Contains("'proj_out.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'proj_out.weight_copy'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Float32_file_loads_into_a_float16_module_and_back()
    {
        var sd32 = StateDict(8);
        using var model16 = new TinyNet();
        model16.to(ScalarType.Float16);

        ModuleWeights.Load(model16, Source(sd32));

        Assert.All(model16.parameters(), p => Assert.Equal(ScalarType.Float16, p.dtype));
        AssertModuleHolds(model16, sd32);

        // f16 file into an f32 module: exact, since every f16 value is an f32 value.
        var sd16 = model16.Snapshot();
        foreach (var t in sd16.Values)
        {
            Own(t);
        }

        using var model32 = new TinyNet();
        ModuleWeights.Load(model32, Source(sd16));
        Assert.All(model32.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        AssertModuleHolds(model32, sd16);
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void DType_and_Device_options_convert_the_module_and_read_straight_into_the_target(string deviceName)
    {
        var device = torch.device(deviceName);
        var sd = StateDict(9);
        using var model = new TinyNet();
        var counting = Own(new CountingSource(Source(sd)));

        var report = ModuleWeights.Load(model, counting, new WeightLoadOptions { DType = ScalarType.BFloat16, Device = device });

        Assert.True(report.IsComplete);
        var state = model.state_dict();
        Assert.Equal(ScalarType.Int64, state["norm.num_batches_tracked"].dtype);
        Assert.All(state.Where(kv => kv.Key != "norm.num_batches_tracked"), kv => Assert.Equal(ScalarType.BFloat16, kv.Value.dtype));
        Assert.All(state.Values, t => Assert.Equal(device.type, t.device_type));
        AssertModuleHolds(model, sd);
        Assert.Equal(TinyNet.KeyCount, counting.Reads);
        Assert.All(counting.Requests, r => Assert.Equal(device.type, r.Device!.type));
        Assert.Equal(ScalarType.BFloat16, counting.Requests.Single(r => r.Key == "conv_in.weight").DType);
        Assert.Equal(ScalarType.Int64, counting.Requests.Single(r => r.Key == "norm.num_batches_tracked").DType);
    }

    [Fact]
    public void A_non_floating_DType_is_refused()
    {
        using var model = new TinyNet();
        Assert.Throws<ArgumentException>(() => ModuleWeights.Load(model, Source(StateDict(10)), new WeightLoadOptions { DType = ScalarType.Int32 }));
    }

    [Fact]
    public void Ignore_patterns_accept_known_differences_in_strict_mode()
    {
        var sd = StateDict(11);
        sd.Remove("norm.num_batches_tracked");
        sd.Remove("blocks.0.bias");
        sd["transformer.rotary_emb.freqs"] = Own(torch.zeros(4));
        sd["pos_embed.rotary_emb.freqs"] = Own(torch.zeros(4));
        using var model = new TinyNet();

        var report = ModuleWeights.Load(model, Source(sd), new WeightLoadOptions
        {
            IgnoreMissing = ["*.num_batches_tracked", "blocks.?.bias"],
            IgnoreUnexpected = ["*.rotary_emb.freqs"],
        });

        Assert.True(report.IsComplete);
        Assert.Equal(TinyNet.KeyCount - 2, report.Loaded.Count);
        Assert.Equal(
            ["blocks.0.bias", "norm.num_batches_tracked", "pos_embed.rotary_emb.freqs", "transformer.rotary_emb.freqs"],
            report.Ignored.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Loading_leaks_no_tensor_and_reads_each_key_once()
    {
        var sd = StateDict(12);
        using var model = new TinyNet();
        var counting = Own(new CountingSource(Source(sd)));
        ModuleWeights.Load(model, counting); // warm-up: lazy native state

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        int readsBefore = counting.Reads;
        ModuleWeights.Load(model, counting);
        ModuleWeights.Load(model, counting, new WeightLoadOptions { DType = ScalarType.Float16 });
        ModuleWeights.Load(model, counting, new WeightLoadOptions { DType = ScalarType.Float32 });
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        Assert.Equal(before, after);
        Assert.Equal(3 * TinyNet.KeyCount, counting.Reads - readsBefore);
        Assert.Equal(0, counting.LiveReads);
    }

    [Fact]
    public void Parameters_converted_inside_a_caller_scope_outlive_it()
    {
        var sd = StateDict(13);
        using var model = new TinyNet();
        using (NewDisposeScope())
        {
            ModuleWeights.Load(model, Source(sd), new WeightLoadOptions { DType = ScalarType.Float64 });
        }

        Assert.All(model.state_dict().Values, t => Assert.False(t.IsInvalid));
        using var input = torch.ones(1, 3, 4, 4, ScalarType.Float64);
        model.eval();
        using var output = model.forward(input);
        Assert.Equal([1L, 2], output.shape);
        AssertModuleHolds(model, sd);
    }

    [Fact]
    public void A_module_on_the_meta_device_is_refused()
    {
        using var model = new TinyNet(META);
        var e = Assert.Throws<NotSupportedException>(() => ModuleWeights.Load(model, Source(StateDict(14))));
        Assert.Contains("meta", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_source_whose_data_disagrees_with_its_header_is_reported()
    {
        var sd = StateDict(15);
        using var model = new TinyNet();
        using var lying = new LyingSource(Source(sd), "blocks.0.weight");

        var e = Assert.Throws<WeightsFormatException>(() => ModuleWeights.Load(model, lying));
        Assert.Equal("blocks.0.weight", e.Entry);
    }

    /// <summary>Counts reads and records what was asked for.</summary>
    private sealed class CountingSource(IWeightSource inner) : IWeightSource
    {
        private readonly List<Tensor> _returned = [];

        public int Reads { get; private set; }

        public List<(string Key, ScalarType? DType, Device? Device)> Requests { get; } = [];

        public int LiveReads => _returned.Count(t => !t.IsInvalid);

        public string Description => "counting(" + inner.Description + ")";

        public IReadOnlyList<string> Keys => inner.Keys;

        public bool Contains(string key) => inner.Contains(key);

        public TensorInfo GetInfo(string key) => inner.GetInfo(key);

        public Tensor ReadTensor(string key, ScalarType? dtype = null, Device? device = null)
        {
            Reads++;
            Requests.Add((key, dtype, device));
            var t = inner.ReadTensor(key, dtype, device);
            _returned.Add(t);
            return t;
        }

        public void Dispose()
        {
        }
    }

    /// <summary>Announces the true shape of every tensor but returns one flattened.</summary>
    private sealed class LyingSource(IWeightSource inner, string liar) : IWeightSource
    {
        public string Description => inner.Description;

        public IReadOnlyList<string> Keys => inner.Keys;

        public bool Contains(string key) => inner.Contains(key);

        public TensorInfo GetInfo(string key) => inner.GetInfo(key);

        public Tensor ReadTensor(string key, ScalarType? dtype = null, Device? device = null)
        {
            var t = inner.ReadTensor(key, dtype, device);
            if (key != liar)
            {
                return t;
            }

            using (t)
            {
                return t.flatten();
            }
        }

        public void Dispose()
        {
        }
    }
}
