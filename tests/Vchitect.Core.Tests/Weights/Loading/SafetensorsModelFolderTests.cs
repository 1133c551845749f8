using TorchSharp;
using Vchitect.Core.Models;
using Vchitect.Core.Weights;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Weights.Loading;

/// <summary>
/// A hub-style folder written with the library's own safetensors writer (a single file and a 2-shard set), loaded back
/// into modules by name: the path a real diffusers folder takes.
/// </summary>
public sealed class SafetensorsModelFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vchitect-hub-st-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Single_file_and_sharded_safetensors_components_load_into_modules_exactly()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var unetSource = new TinyNet();
        using var encoderSource = new TinyNet();
        File.WriteAllText(Path.Combine(_root, "model_index.json"), """
            { "_class_name": "TinyPipeline", "unet": ["diffusers", "TinyNet"], "text_encoder": ["transformers", "TinyNet"] }
            """);

        // unet/: one file, diffusers' name.
        Directory.CreateDirectory(Path.Combine(_root, "unet"));
        SafetensorsWriter.Write(Path.Combine(_root, "unet", "diffusion_pytorch_model.safetensors"), unetSource.state_dict());

        // text_encoder/: two shards and transformers' index.
        Directory.CreateDirectory(Path.Combine(_root, "text_encoder"));
        var all = encoderSource.state_dict().ToArray();
        var first = all.Where((_, i) => i % 2 == 0).ToArray();
        var second = all.Where((_, i) => i % 2 == 1).ToArray();
        SafetensorsWriter.Write(Path.Combine(_root, "text_encoder", "model-00001-of-00002.safetensors"), first);
        SafetensorsWriter.Write(Path.Combine(_root, "text_encoder", "model-00002-of-00002.safetensors"), second);
        string weightMap = string.Join(",\n", first.Select(kv => $"\"{kv.Key}\": \"model-00001-of-00002.safetensors\"")
            .Concat(second.Select(kv => $"\"{kv.Key}\": \"model-00002-of-00002.safetensors\"")));
        File.WriteAllText(Path.Combine(_root, "text_encoder", "model.safetensors.index.json"),
            $"{{ \"metadata\": {{ \"total_size\": 0 }}, \"weight_map\": {{ {weightMap} }} }}");

        var folder = ModelFolder.Open(_root);
        Assert.Equal("TinyPipeline", folder.Index.ClassName);

        using var unet = new TinyNet();
        using (var weights = folder.OpenWeights("unet"))
        {
            Assert.IsType<SafetensorsFile>(weights);
            var report = ModuleWeights.Load(unet, weights);
            Assert.Equal(TinyNet.KeyCount, report.Loaded.Count);
        }

        using var encoder = new TinyNet();
        using (var weights = folder.OpenWeights("text_encoder"))
        {
            Assert.IsType<ShardedWeightSource>(weights);
            var report = ModuleWeights.Load(encoder, weights);
            Assert.Equal(TinyNet.KeyCount, report.Loaded.Count);
        }

        foreach (var (source, copy) in new[] { (unetSource, unet), (encoderSource, encoder) })
        {
            var expected = source.state_dict();
            foreach (var (key, value) in copy.state_dict())
            {
                Assert.True(value.eq(expected[key]).all().item<bool>(), key);
            }
        }
    }
}
