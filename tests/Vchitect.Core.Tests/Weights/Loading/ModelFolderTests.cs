using Vchitect.Core.Configuration;
using Vchitect.Core.Models;
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;

namespace Vchitect.Core.Tests.Weights.Loading;

/// <summary>
/// Hub-style folders written to a temp dir. Weights are copies of the PyTorch checkpoint fixture (safetensors files
/// are only named here, to check the lookup order).
/// </summary>
public sealed class ModelFolderTests : IDisposable
{
    private const string ModelIndexJson = """
        {
          "_class_name": "StableDiffusionPipeline",
          "_diffusers_version": "0.21.0",
          "_name_or_path": "some/where",
          "feature_extractor": ["transformers", "CLIPImageProcessor"],
          "requires_safety_checker": false,
          "safety_checker": [null, null],
          "scheduler": ["diffusers", "DDIMScheduler"],
          "text_encoder": ["transformers", "CLIPTextModel"],
          "tokenizer": ["transformers", "CLIPTokenizer"],
          "unet": ["diffusers", "UNet2DConditionModel"],
          "vae": ["diffusers", "AutoencoderKL"]
        }
        """;

    private static readonly string Checkpoint = Fixtures.Path("checkpoints/state_dict.pt");

    private readonly string _root = Directory.CreateTempSubdirectory("vchitect-hub-").FullName;

    public ModelFolderTests()
    {
        Write("model_index.json", ModelIndexJson);
        Write("unet/config.json", """{"_class_name": "UNet2DConditionModel", "in_channels": 4}""");
        File.Copy(Checkpoint, Path.Combine(_root, "unet/diffusion_pytorch_model.bin"));
        File.Copy(Checkpoint, Path.Combine(_root, "unet/diffusion_pytorch_model.fp16.bin"));
        Write("scheduler/scheduler_config.json", """{"_class_name": "DDIMScheduler"}""");
        Write("vae/config.json", "{}");
        Directory.CreateDirectory(Path.Combine(_root, "tokenizer"));

        // text_encoder: a 2-shard set, transformers' names.
        using var whole = TorchCheckpoint.Open(Checkpoint);
        Keys = whole.Keys.ToArray();
        Write("text_encoder/config.json", "{}");
        File.Copy(Checkpoint, Path.Combine(_root, "text_encoder/pytorch_model-00001-of-00002.bin"));
        File.Copy(Checkpoint, Path.Combine(_root, "text_encoder/pytorch_model-00002-of-00002.bin"));
        WriteIndex("text_encoder/pytorch_model.bin.index.json", Keys.Select((k, i) => (k, i % 2 == 0 ? "pytorch_model-00001-of-00002.bin" : "pytorch_model-00002-of-00002.bin")));
    }

    private string[] Keys { get; }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Write(string relative, string text)
    {
        string path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private string WriteIndex(string relative, IEnumerable<(string Key, string Shard)> map)
    {
        var weightMap = map.ToDictionary(e => e.Key, e => e.Shard);
        string json = System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["metadata"] = new Dictionary<string, long> { ["total_size"] = 1234 },
            ["weight_map"] = weightMap,
        });
        return Write(relative, json);
    }

    [Fact]
    public void Reads_model_index_into_typed_components()
    {
        var folder = ModelFolder.Open(_root);

        Assert.Equal(Path.GetFullPath(_root), folder.Path);
        Assert.Equal("StableDiffusionPipeline", folder.Index.ClassName);
        Assert.Equal("0.21.0", folder.Index.DiffusersVersion);
        Assert.Equal(new ModelComponentType("diffusers", "UNet2DConditionModel"), folder.Index.Components["unet"]);
        Assert.Equal(new ModelComponentType("transformers", "CLIPTextModel"), folder.GetComponentType("text_encoder"));
        Assert.Null(folder.Index.Components["safety_checker"]);
        Assert.Equal(
            ["feature_extractor", "safety_checker", "scheduler", "text_encoder", "tokenizer", "unet", "vae"],
            folder.Index.Components.Keys);
        Assert.False(folder.Index.OtherKeys["requires_safety_checker"].GetBoolean());
        Assert.Equal("some/where", folder.Index.OtherKeys["_name_or_path"].GetString());
        Assert.True(folder.HasComponent("unet"));
        Assert.False(folder.HasComponent("safety_checker"));
        Assert.False(folder.HasComponent("controlnet"));
    }

    [Fact]
    public void Component_folders_and_config_files_are_found()
    {
        var folder = ModelFolder.Open(_root);

        Assert.Equal(Path.Combine(folder.Path, "unet"), folder.GetComponentPath("unet"));
        Assert.Equal(Path.Combine(folder.Path, "unet", "config.json"), folder.GetConfigPath("unet"));
        Assert.Equal(Path.Combine(folder.Path, "scheduler", "scheduler_config.json"), folder.GetConfigPath("scheduler"));
        var config = folder.ReadConfig("unet", Configuration.TestConfigJsonContext.Default.TinyUNetConfig);
        Assert.Equal("UNet2DConditionModel", config.ClassName);
    }

    [Fact]
    public void Missing_folders_files_and_components_are_named_with_what_was_looked_for()
    {
        string nowhere = Path.Combine(_root, "nowhere");
        Assert.Contains(nowhere, Assert.Throws<DirectoryNotFoundException>(() => ModelFolder.Open(nowhere)).Message, StringComparison.Ordinal);
        var noIndex = Assert.Throws<FileNotFoundException>(() => ModelFolder.Open(Path.Combine(_root, "unet")));
        Assert.Equal(Path.Combine(_root, "unet", "model_index.json"), noIndex.FileName);

        var folder = ModelFolder.Open(_root);
        var notListed = Assert.Throws<KeyNotFoundException>(() => folder.GetComponentPath("controlnet"));
        Assert.Contains("'controlnet'", notListed.Message, StringComparison.Ordinal);
        Assert.Contains("unet, vae", notListed.Message, StringComparison.Ordinal);
        Assert.Contains("[null, null]", Assert.Throws<KeyNotFoundException>(() => folder.OpenWeights("safety_checker")).Message, StringComparison.Ordinal);

        var noFolder = Assert.Throws<DirectoryNotFoundException>(() => folder.GetConfigPath("feature_extractor"));
        Assert.Contains(Path.Combine(folder.Path, "feature_extractor"), noFolder.Message, StringComparison.Ordinal);

        var noConfig = Assert.Throws<FileNotFoundException>(() => folder.GetConfigPath("tokenizer"));
        foreach (string name in ModelFolder.ConfigFileNames)
        {
            Assert.Contains(Path.Combine(folder.Path, "tokenizer", name), noConfig.Message, StringComparison.Ordinal);
        }

        var noWeights = Assert.Throws<FileNotFoundException>(() => folder.OpenWeights("vae"));
        foreach (string name in ModelFolder.WeightFileNames())
        {
            Assert.Contains(Path.Combine(folder.Path, "vae", name), noWeights.Message, StringComparison.Ordinal);
        }

        var noVariant = Assert.Throws<FileNotFoundException>(() => folder.OpenWeights("text_encoder", "fp16"));
        Assert.Contains("pytorch_model.fp16.bin", noVariant.Message, StringComparison.Ordinal);
        Assert.Contains("pytorch_model.bin.index.fp16.json", noVariant.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => folder.FindWeights("unet", "../fp16"));
    }

    [Fact]
    public void Weight_files_are_chosen_in_diffusers_order()
    {
        var folder = ModelFolder.Open(_root);
        string vae = folder.GetComponentPath("vae");
        string[] order =
        [
            "pytorch_model.bin.index.json",
            "diffusion_pytorch_model.bin.index.json",
            "pytorch_model.bin",
            "diffusion_pytorch_model.bin",
            "model.safetensors.index.json",
            "diffusion_pytorch_model.safetensors.index.json",
            "model.safetensors",
            "diffusion_pytorch_model.safetensors",
        ];

        // Adding each better candidate in turn makes it the one found.
        foreach (string name in order)
        {
            File.WriteAllText(Path.Combine(vae, name), "{}");
            Assert.Equal(Path.Combine(vae, name), folder.FindWeights("vae"));
        }

        Assert.Equal(order.Reverse(), ModelFolder.WeightFileNames());
        File.WriteAllText(Path.Combine(vae, "diffusion_pytorch_model.safetensors.index.fp16.json"), "{}");
        Assert.Equal(Path.Combine(vae, "diffusion_pytorch_model.safetensors.index.fp16.json"), folder.FindWeights("vae", "fp16"));
    }

    [Fact]
    public void Opens_single_file_weights_and_variants()
    {
        var folder = ModelFolder.Open(_root);
        using var whole = TorchCheckpoint.Open(Checkpoint);

        using (var unet = folder.OpenWeights("unet"))
        {
            Assert.IsType<TorchCheckpoint>(unet);
            Assert.Contains(Path.Combine("unet", "diffusion_pytorch_model.bin"), unet.Description, StringComparison.Ordinal);
            Assert.Equal(whole.Keys, unet.Keys);
        }

        using var fp16 = folder.OpenWeights("unet", "fp16");
        Assert.Contains("diffusion_pytorch_model.fp16.bin", fp16.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sharded_set_reads_as_one_source()
    {
        var folder = ModelFolder.Open(_root);
        using var whole = TorchCheckpoint.Open(Checkpoint);

        using var source = folder.OpenWeights("text_encoder");

        var sharded = Assert.IsType<ShardedWeightSource>(source);
        Assert.Equal(Keys, sharded.Keys);
        Assert.Equal(["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"], sharded.ShardFiles);
        Assert.Equal(1234, sharded.Metadata["total_size"].GetInt64());
        Assert.Equal("pytorch_model-00002-of-00002.bin", sharded.GetShardFile(Keys[1]));
        foreach (string key in Keys)
        {
            Assert.True(sharded.Contains(key));
            Assert.Equal(whole.GetInfo(key), sharded.GetInfo(key));
            using var expected = whole.ReadTensor(key);
            using var actual = sharded.ReadTensor(key);
            TensorAssert.Equal(expected, actual, key);
        }

        Assert.False(sharded.Contains("nope"));
        Assert.Contains("'nope'", Assert.Throws<KeyNotFoundException>(() => sharded.GetInfo("nope")).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../pytorch_model-00001-of-00002.bin")]
    [InlineData("sub/pytorch_model-00001-of-00002.bin")]
    [InlineData("sub\\pytorch_model-00001-of-00002.bin")]
    [InlineData("/etc/passwd")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("C:evil.bin")]
    [InlineData("other.bin.index.json")]
    public void Shard_names_that_leave_the_folder_are_refused(string shard)
    {
        string index = WriteIndex("text_encoder/bad.bin.index.json", [(Keys[0], "pytorch_model-00001-of-00002.bin"), (Keys[1], shard)]);

        var e = Assert.Throws<WeightsFormatException>(() => WeightFiles.Open(index));

        Assert.Equal(index, e.FilePath);
        Assert.Equal(Keys[1], e.Entry);
        Assert.Contains($"'{shard}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_shard_is_named_when_the_index_is_opened()
    {
        string index = WriteIndex("text_encoder/gone.bin.index.json", [(Keys[0], "pytorch_model-00001-of-00002.bin"), (Keys[1], "pytorch_model-00009-of-00009.bin")]);

        var e = Assert.Throws<FileNotFoundException>(() => WeightFiles.Open(index));

        Assert.Equal(Path.Combine(_root, "text_encoder", "pytorch_model-00009-of-00009.bin"), e.FileName);
        Assert.Contains("pytorch_model-00009-of-00009.bin", e.Message, StringComparison.Ordinal);
        Assert.Contains(index, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_its_shard_does_not_hold_is_reported_when_the_shard_opens()
    {
        string index = WriteIndex("text_encoder/liar.bin.index.json", [(Keys[0], "pytorch_model-00001-of-00002.bin"), ("ghost.weight", "pytorch_model-00001-of-00002.bin")]);
        using var source = WeightFiles.Open(index);

        var e = Assert.Throws<WeightsFormatException>(() => source.GetInfo(Keys[0]));

        Assert.Equal("ghost.weight", e.Entry);
        Assert.Contains("pytorch_model-00001-of-00002.bin", e.Message, StringComparison.Ordinal);
        Assert.Contains(index, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[1, 2]")]
    [InlineData("""{"metadata": {}}""")]
    [InlineData("""{"weight_map": []}""")]
    [InlineData("""{"weight_map": {"a": 3}}""")]
    [InlineData("""{"weight_map": {"a": "x.bin", """)]
    public void Malformed_indexes_name_the_file(string json)
    {
        string index = Write("text_encoder/broken.safetensors.index.json", json);
        var e = Assert.Throws<WeightsFormatException>(() => WeightFiles.Open(index));
        Assert.Equal(index, e.FilePath);
    }

    [Fact]
    public void WeightFiles_dispatches_by_name_and_refuses_unknown_or_missing_files()
    {
        using (var pt = WeightFiles.Open(Checkpoint))
        {
            Assert.IsType<TorchCheckpoint>(pt);
        }

        string odd = Write("weights.npz", "x");
        var e = Assert.Throws<NotSupportedException>(() => WeightFiles.Open(odd));
        Assert.Contains(odd, e.Message, StringComparison.Ordinal);
        Assert.Contains(".safetensors", e.Message, StringComparison.Ordinal);

        string missing = Path.Combine(_root, "missing.safetensors");
        Assert.Equal(missing, Assert.Throws<FileNotFoundException>(() => WeightFiles.Open(missing)).FileName);
    }

    [Theory]
    [InlineData("""{"unet": ["diffusers"]}""", "unet")]
    [InlineData("""{"unet": ["diffusers", 3]}""", "unet")]
    [InlineData("""{"unet": [null, "UNet"]}""", "unet")]
    [InlineData("""{"_class_name": 1}""", "_class_name")]
    [InlineData("[]", null)]
    [InlineData("{", null)]
    public void Malformed_model_index_names_the_file_and_key(string json, string? field)
    {
        var e = Assert.Throws<ConfigException>(() => ModelIndex.Parse(json, "x/model_index.json"));
        Assert.Equal(field, e.Field);
        Assert.StartsWith("x/model_index.json", e.Message, StringComparison.Ordinal);
    }
}
