// <snippet>
using TorchSharp;
using Vchitect.Core.Weights;
using static TorchSharp.torch;
// </snippet>
using Xunit;

namespace Vchitect.Docs.Tests.Snippets;

/// <summary>docs/weights.md</summary>
public sealed class WeightsSnippets
{
    [Fact]
    public void Save_and_load_example_copies_the_weights()
    {
        using var cwd = TemporaryWorkingDirectory.Create();
        // <snippet>
        // Save a module's weights, then load them into a fresh module by name.
        using var model = nn.Linear(4, 2);
        SafetensorsWriter.Write("linear.safetensors", model.state_dict());
        using var copy = nn.Linear(4, 2);
        using (IWeightSource weights = WeightFiles.Open("linear.safetensors"))   // .safetensors, .bin/.pt/.pth/.ckpt, or a shard index
        {
            WeightLoadReport report = ModuleWeights.Load(copy, weights);         // strict by default
            Console.WriteLine(report.Describe());
        }

        // </snippet>
        using var x = randn(3, 4);
        using var y1 = model.forward(x);
        using var y2 = copy.forward(x);
        Assert.True(y1.eq(y2).all().item<bool>());
    }

    // Compiled, not run: the checkpoint and the folder are the user's.
    // <snippet>
    static void LoadLaVieCheckpoint(nn.Module unet)
    {
        var options = new TorchCheckpointOptions { Unwrap = TorchCheckpointOptions.DefaultWrapperKeys }; // {'ema': ...}, {'state_dict': ...}
        using var checkpoint = TorchCheckpoint.Open("lavie_base.pt", options);
        ModuleWeights.Load(unet, checkpoint, new WeightLoadOptions { IgnoreUnexpected = ["*.rotary_emb.freqs"] });
    }
    // </snippet>

    // <snippet>
    static void ShowFolder(string path)
    {
        var folder = Vchitect.Core.Models.ModelFolder.Open(path);                    // reads model_index.json
        foreach (var (name, type) in folder.Index.Components)
        {
            Console.WriteLine($"{name}: {type?.ClassName ?? "(none)"}");
        }

        using IWeightSource unet = folder.OpenWeights("unet");                        // .safetensors, sharded, or .bin
    }
    // </snippet>
}
