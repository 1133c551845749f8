using Vchitect.Core.Configuration;
using Vchitect.Core.Weights;
using Vchitect.Models.Autoencoders;
using Vchitect.TestUtilities;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.Autoencoders;

/// <summary>The tiny AutoencoderKL of vae_tiny.safetensors (block_out (32, 64), f = 2), with its reference weights.</summary>
internal static class TinyVae
{
    public const string FixtureName = "vae_tiny.safetensors";

    public static SafetensorsFile OpenFixture() => SafetensorsFile.Open(Fixtures.Path(FixtureName));

    public static AutoencoderKLConfig Config(SafetensorsFile file) =>
        ConfigFile.Parse(file.Metadata["config"], AutoencoderJsonContext.Default.AutoencoderKLConfig, FixtureName);

    /// <summary>The fixture's weights under their diffusers keys (the <c>weights.</c> prefix removed), read into memory.</summary>
    public static Dictionary<string, Tensor> Weights(SafetensorsFile file) =>
        file.Keys.Where(k => k.StartsWith("weights.", StringComparison.Ordinal))
            .ToDictionary(k => k["weights.".Length..], k => file.ReadTensor(k), StringComparer.Ordinal);

    /// <summary>Builds the tiny VAE and loads the reference weights strictly.</summary>
    public static AutoencoderKL Load(ScalarType? dtype = null)
    {
        using var file = OpenFixture();
        var vae = new AutoencoderKL(Config(file), dtype);
        using var source = new TensorDictionaryWeightSource(Weights(file), ownsTensors: true, description: FixtureName);
        vae.LoadWeights(source);
        return vae;
    }
}
