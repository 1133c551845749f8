using Vchitect.Core.Models;
using Vchitect.Core.Weights;
using Vchitect.Models.Autoencoders;
using Vchitect.TestUtilities;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.Autoencoders;

public sealed class AutoencoderKLFromPretrainedTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "vchitect-vae-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Loads_a_hub_style_folder_with_old_attention_names_in_bfloat16()
    {
        using var file = TinyVae.OpenFixture();
        Directory.CreateDirectory(Path.Combine(_folder, "vae"));
        File.WriteAllText(Path.Combine(_folder, ModelFolder.IndexFileName), """{"_class_name": "StableDiffusionPipeline", "vae": ["diffusers", "AutoencoderKL"]}""");
        File.WriteAllText(Path.Combine(_folder, "vae", "config.json"), file.Metadata["config"]);
        var weights = TinyVae.Weights(file);
        try
        {
            var old = weights.ToDictionary(kv => kv.Key.Replace(".to_out.0.", ".proj_attn.", StringComparison.Ordinal).Replace(".to_q.", ".query.", StringComparison.Ordinal), kv => kv.Value);
            SafetensorsWriter.Write(Path.Combine(_folder, "vae", "diffusion_pytorch_model.safetensors"), old);
        }
        finally
        {
            foreach (var t in weights.Values)
            {
                t.Dispose();
            }
        }

        using var vae = AutoencoderKL.FromPretrained(ModelFolder.Open(_folder), dtype: ScalarType.BFloat16);
        Assert.Equal(2, vae.SpatialScaleFactor);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var decoded = vae.Decode(file.ReadTensor("in.latents", ScalarType.BFloat16));
        Assert.Equal(ScalarType.BFloat16, decoded.dtype);
        TensorAssert.Close(file.ReadTensor("out.decoded"), decoded, 0.1, what: "bf16 decoded");
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
