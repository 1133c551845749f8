using Vchitect.Evaluation.TinyWorld;
using Vchitect.Models.Autoencoders;
using Vchitect.Models.TextEncoders;
using Vchitect.Models.UNets;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Training.Tests;

/// <summary>Tests that seed torch's global generator or count live tensors run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TrainingTorchState
{
    public const string Name = "training-torch-global-state";
}

/// <summary>
/// A tiny tiny-world LaVie for tests: 4 frames of 32×32, VAE (32, 32, 32) → 8×8 latents, UNet (32, 32), text 1 × 32.
/// Weights come from torch's global generator seeded with <c>seed</c>, so two instances with the same seed are equal.
/// </summary>
public sealed class TinyParts : IDisposable
{
    public static readonly TinyWorldModelConfigs Configs =
        TinyWorldModelConfigs.Create(vaeChannels: [32, 32, 32], unetChannels: [32, 32], heads: [1, 1], textWidth: 32, textLayers: 1, sampleSize: 32);

    public static readonly TinyWorldRenderOptions Render = new()
    {
        Frames = 4, Size = 32, MinObjectSize = 8, MaxObjectSize = 12, MinTravel = 4, MaxTravel = 8, Margin = 2, Supersampling = 2,
    };

    private static readonly Lazy<string> TokenizerFolder = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), "vchitect-training-tokenizer-" + Guid.NewGuid().ToString("N"));
        TinyWorldTokenizer.WriteFolder(dir);
        return dir;
    });

    public TinyParts(long seed = 1)
    {
        manual_seed(seed);
        Vae = new AutoencoderKL(Configs.Vae);
        UNet = new UNet3DConditionModel(Configs.UNet);
        Text = new CLIPTextModel(Configs.TextEncoder);
        Tokenizer = CLIPTokenizer.FromFolder(TokenizerFolder.Value);
    }

    public AutoencoderKL Vae { get; }

    public UNet3DConditionModel UNet { get; }

    public CLIPTextModel Text { get; }

    public CLIPTokenizer Tokenizer { get; }

    public static TinyWorldDataset Dataset(long seed = 3) => new(seed, renderer: new TinyWorldRenderer(Render));

    public LaVieTrainer LaVie(LaVieTrainingOptions options, TinyWorldDataset? dataset = null) =>
        new(UNet, Text, Tokenizer, Vae, dataset ?? Dataset(), options);

    /// <summary>Every parameter and buffer of the UNet and the text encoder, by name.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> Weights() =>
        UNet.state_dict().Select(kv => ("unet." + kv.Key, kv.Value)).Concat(Text.state_dict().Select(kv => ("text." + kv.Key, kv.Value)));

    public void Dispose()
    {
        Vae.Dispose();
        UNet.Dispose();
        Text.Dispose();
    }
}
