using System.Diagnostics;
using TorchSharp;
using Vchitect.Core.Configuration;
using Vchitect.Core.Weights;
using Vchitect.Models.TextEncoders;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.TextEncoders;

public sealed class CLIPTextModelTests(ITestOutputHelper output)
{
    private static CLIPTextConfig Tiny(int eos) => new()
    {
        VocabSize = 1000, HiddenSize = 32, IntermediateSize = 37, NumHiddenLayers = 2, NumAttentionHeads = 4,
        MaxPositionEmbeddings = 16, HiddenAct = "quick_gelu", ProjectionDim = 32, BosTokenId = 0, PadTokenId = 1, EosTokenId = eos,
    };

    [Theory]
    [InlineData("legacy_eos2", 2)]
    [InlineData("eos_id", 999)]
    public void Matches_the_transformers_fixture(string name, int eos)
    {
        using var scope = NewDisposeScope();
        using var file = SafetensorsFile.Open(Fixtures.Path("clip_text_tiny.safetensors"));
        using var model = new CLIPTextModel(Tiny(eos));
        var weights = file.Keys.Where(k => k.StartsWith("weights.", StringComparison.Ordinal))
            .ToDictionary(k => k["weights.".Length..], k => file.ReadTensor(k));
        using (var source = new TensorDictionaryWeightSource(weights))
        {
            model.LoadWeights(source);
        }

        using var noGrad = no_grad();
        using var result = model.forward(new CLIPTextInput(file.ReadTensor("in.input_ids"), OutputHiddenStates: true));
        foreach (var (key, actual) in new[]
        {
            ("last_hidden_state", result.LastHiddenState),
            ("pooler_output", result.PoolerOutput),
            ("hidden_states_penultimate", result.HiddenStates![^2]),
        })
        {
            var expected = file.ReadTensor($"out.{name}.{key}");
            output.WriteLine($"{name}.{key}: max abs error {(expected - actual).abs().max().item<float>():G3}");
            TensorAssert.Close(expected, actual, 1e-4, what: $"{name}.{key}");
        }

        Assert.Equal(3, result.HiddenStates!.Count);
    }

    [Fact]
    public void Real_size_ViT_L14_keys_and_shapes_equal_the_manifest()
    {
        var watch = Stopwatch.StartNew();
        using var model = new CLIPTextModel(CLIPTextConfig.ClipVitL14, device: new Device("meta"));
        output.WriteLine($"built on meta in {watch.ElapsedMilliseconds} ms");
        var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        string diff = Manifests.Compare(Manifests.Shapes("manifest_clip_vit_l14_text.json"), actual);
        Assert.True(diff.Length == 0, diff);
        Assert.Equal(123_060_480L, model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void OpenCLIP_H14_preset_builds_with_23_layers()
    {
        var config = CLIPTextConfig.OpenClipVitH14;
        Assert.Equal(1024, config.HiddenSize);
        Assert.Equal(23, config.NumHiddenLayers);
        Assert.Equal("gelu", config.HiddenAct);
        using var model = new CLIPTextModel(config, device: new Device("meta"));
        Assert.Contains("encoder.layers.22.mlp.fc2.weight", model.state_dict().Keys);
        Assert.DoesNotContain("encoder.layers.23.mlp.fc2.weight", model.state_dict().Keys);
    }

    [Fact]
    public void Pooling_follows_the_legacy_or_the_eos_rule()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        // Row 0: the eos id (5) comes before the largest id (9); the two rules pick different positions.
        var ids = tensor(new long[] { 0, 3, 5, 9, 5, 5, 0, 4, 9, 5, 7, 7 }, [2, 6]);
        foreach (var (eos, expected) in new[] { (2, new long[] { 3, 2 }), (5, new long[] { 2, 3 }) })
        {
            using var model = new CLIPTextModel(Tiny(eos) with { VocabSize = 10 });
            using var noGrad = no_grad();
            using var result = model.forward(new CLIPTextInput(ids));
            for (int b = 0; b < 2; b++)
            {
                TensorAssert.Equal(result.LastHiddenState[b, expected[b]], result.PoolerOutput[b], $"eos {eos} row {b}");
            }
        }
    }

    [Fact]
    public void Padding_mask_leaves_unpadded_positions_unchanged()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var model = new CLIPTextModel(Tiny(999));
        var ids = randint(2, 990, [2, 8]);
        var mask = tensor(new long[] { 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 }, [2, 8]);
        using var noGrad = no_grad();
        using var plain = model.forward(new CLIPTextInput(ids));
        using var masked = model.forward(new CLIPTextInput(ids, mask));
        using var ones = model.forward(new CLIPTextInput(ids, ones_like(mask)));
        TensorAssert.Close(plain.LastHiddenState, ones.LastHiddenState, 1e-6, what: "all-ones mask");
        TensorAssert.Close(plain.LastHiddenState[0, ..5], masked.LastHiddenState[0, ..5], 1e-6, what: "unpadded positions");
        Assert.False(masked.LastHiddenState.isnan().any().item<bool>());
    }

    [Fact]
    public void Loads_old_checkpoint_keys_with_text_model_prefix_and_position_ids()
    {
        using var scope = NewDisposeScope();
        using var reference = new CLIPTextModel(Tiny(2));
        var sd = reference.state_dict().ToDictionary(kv => "text_model." + kv.Key, kv => kv.Value);
        sd["text_model.embeddings.position_ids"] = arange(16L).unsqueeze(0);
        using var model = new CLIPTextModel(Tiny(2));
        using var source = new TensorDictionaryWeightSource(sd);
        var report = model.LoadWeights(source);
        Assert.Equal(reference.state_dict().Count, report.Loaded.Count);
        Assert.Single(report.Skipped);
        var ids = randint(0, 1000, [1, 16]);
        using var noGrad = no_grad();
        using var a = reference.forward(new CLIPTextInput(ids));
        using var b = model.forward(new CLIPTextInput(ids));
        TensorAssert.Equal(a.LastHiddenState, b.LastHiddenState);
    }

    [Fact]
    public void FromPretrained_reads_a_pipeline_folder_with_old_keys()
    {
        string root = Path.Combine(Path.GetTempPath(), "clip-te-" + Guid.NewGuid().ToString("N"));
        string folder = Path.Combine(root, "text_encoder");
        Directory.CreateDirectory(folder);
        try
        {
            using var scope = NewDisposeScope();
            using var reference = new CLIPTextModel(Tiny(2));
            var sd = reference.state_dict().ToDictionary(kv => "text_model." + kv.Key, kv => kv.Value);
            SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), sd);
            File.WriteAllText(Path.Combine(folder, "config.json"), ConfigFile.ToJson(Tiny(2) with { ModelType = "clip_text_model" }, CLIPTextConfig.JsonTypeInfo));
            using var model = CLIPTextModel.FromPretrained(root);
            Assert.Equal(2, model.Config.EosTokenId);
            var ids = randint(0, 1000, [2, 16]);
            using var noGrad = no_grad();
            using var a = reference.forward(new CLIPTextInput(ids));
            using var b = model.forward(new CLIPTextInput(ids));
            TensorAssert.Equal(a.PoolerOutput, b.PoolerOutput);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Model_built_inside_a_scope_outlives_it()
    {
        CLIPTextModel model;
        using (NewDisposeScope())
        {
            model = new CLIPTextModel(Tiny(2));
        }

        using (model)
        using (var ids = randint(0, 1000, [1, 16]))
        using (no_grad())
        using (var result = model.forward(new CLIPTextInput(ids)))
        {
            Assert.Equal([1L, 16L, 32L], result.LastHiddenState.shape);
            Assert.False(result.LastHiddenState.isnan().any().item<bool>());
        }
    }

    [Fact]
    public void Forward_leaks_no_tensor_and_rejects_bad_input()
    {
        using var model = new CLIPTextModel(Tiny(2));
        using var ids = randint(0, 1000, [2, 16]);
        using (no_grad())
        {
            model.forward(new CLIPTextInput(ids, OutputHiddenStates: true)).Dispose(); // warm-up
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            model.forward(new CLIPTextInput(ids, OutputHiddenStates: true)).Dispose();
            using (var mask = ones_like(ids))
            {
                model.forward(new CLIPTextInput(ids, mask)).Dispose();
            }

            Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }

        using var tooLong = zeros([1, 17], ScalarType.Int64);
        var e = Assert.Throws<ArgumentException>(() => model.forward(new CLIPTextInput(tooLong)));
        Assert.Contains("max_position_embeddings", e.Message, StringComparison.Ordinal);
        using var floats = zeros([1, 4]);
        Assert.Throws<ArgumentException>(() => model.forward(new CLIPTextInput(floats)));
    }
}

public sealed class CLIPTextConfigTests
{
    [Fact]
    public void Reads_a_transformers_config_without_unknown_keys()
    {
        const string json = """
            {"_name_or_path": "openai/clip-vit-large-patch14", "architectures": ["CLIPTextModel"], "attention_dropout": 0.0,
             "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "hidden_act": "quick_gelu", "hidden_size": 768,
             "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
             "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 12, "num_hidden_layers": 12,
             "pad_token_id": 1, "projection_dim": 768, "torch_dtype": "float32", "transformers_version": "4.22.0.dev0", "vocab_size": 49408}
            """;
        var config = CLIPTextConfig.Parse(json);
        Assert.Empty(config.UnknownKeys);
        Assert.True(config.UsesLegacyPooling);
        Assert.Equal(64, config.HeadDim);
        Assert.True(ConfigFile.JsonEquals(config with { ExtensionData = null, TransformersVersion = null }, CLIPTextConfig.ClipVitL14 with { ExtensionData = null }, CLIPTextConfig.JsonTypeInfo));
    }

    [Fact]
    public void Defaults_are_transformers_defaults()
    {
        var config = CLIPTextConfig.Parse("{}");
        Assert.Equal(49408, config.VocabSize);
        Assert.Equal(512, config.HiddenSize);
        Assert.Equal(49407, config.EosTokenId);
        Assert.Equal("quick_gelu", config.HiddenAct);
        Assert.False(config.UsesLegacyPooling);
    }

    [Theory]
    [InlineData("""{"hidden_size": 30, "num_attention_heads": 4}""", "num_attention_heads")]
    [InlineData("""{"num_hidden_layers": 0}""", "num_hidden_layers")]
    [InlineData("""{"layer_norm_eps": -1}""", "layer_norm_eps")]
    [InlineData("""{"vocab_size": "many"}""", "vocab_size")]
    public void Bad_config_names_the_field(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => CLIPTextConfig.Parse(json, "text_encoder/config.json"));
        Assert.Equal(field, e.Field);
        Assert.Contains("text_encoder/config.json", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_activation_is_not_supported()
    {
        var e = Assert.Throws<NotSupportedException>(() => CLIPTextConfig.Parse("""{"hidden_act": "swish"}"""));
        Assert.Contains("hidden_act", e.Message, StringComparison.Ordinal);
    }
}
