using Vchitect.Core.Configuration;
using Vchitect.Core.Models;
using Vchitect.Core.Weights;
using Vchitect.Evaluation.TinyWorld;
using Vchitect.Models.Autoencoders;
using Vchitect.Models.TextEncoders;
using Vchitect.Models.UNets;
using Vchitect.Schedulers;
using static TorchSharp.torch;

namespace Vchitect.Training;

/// <summary>
/// Writes trained tiny-world parts as a hub-style LaVie folder: <c>model_index.json</c>, <c>scheduler/</c> (LaVie's DDPM
/// config), <c>unet/</c>, <c>vae/</c> and <c>text_encoder/</c> (config.json + safetensors, float32) and <c>tokenizer/</c>
/// (<see cref="TinyWorldTokenizer.WriteFolder"/>). <c>LaVieVideoPipeline.FromPretrained(folder)</c> loads it.
/// </summary>
public static class TinyWorldModelWriter
{
    /// <summary>The model_index.json written.</summary>
    public const string ModelIndex = """
        {
          "_class_name": "LaVieVideoPipeline",
          "_diffusers_version": "0.25.0",
          "scheduler": ["diffusers", "DDPMScheduler"],
          "text_encoder": ["transformers", "CLIPTextModel"],
          "tokenizer": ["transformers", "CLIPTokenizer"],
          "unet": ["diffusers", "UNet3DConditionModel"],
          "vae": ["diffusers", "AutoencoderKL"]
        }
        """;

    /// <summary>
    /// Writes the folder (into a temporary sibling first, then moved into place; an existing folder is replaced).
    /// </summary>
    /// <param name="folder">The output folder.</param>
    /// <param name="vae">The VAE (its weights and config are written).</param>
    /// <param name="unet">The UNet (its config; its weights unless <paramref name="unetWeights"/> is given).</param>
    /// <param name="textEncoder">The text encoder (its config; its weights unless <paramref name="textEncoderWeights"/> is given).</param>
    /// <param name="unetWeights">The UNet state dict to write, e.g. <see cref="LaVieTrainer.EmaWeights"/>("unet"); null for the module's.</param>
    /// <param name="textEncoderWeights">The text encoder state dict to write; null for the module's.</param>
    /// <param name="vaeScalingFactor">The VAE scaling factor to record (e.g. <see cref="VaeTrainer.MeasureScalingFactor"/>); null keeps the config's.</param>
    /// <exception cref="ArgumentException">A given state dict lacks a key of its module or has a wrong shape.</exception>
    public static void Write(
        string folder,
        AutoencoderKL vae,
        UNet3DConditionModel unet,
        CLIPTextModel textEncoder,
        IReadOnlyDictionary<string, Tensor>? unetWeights = null,
        IReadOnlyDictionary<string, Tensor>? textEncoderWeights = null,
        double? vaeScalingFactor = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(vae);
        ArgumentNullException.ThrowIfNull(unet);
        ArgumentNullException.ThrowIfNull(textEncoder);
        string full = Path.GetFullPath(folder);
        string temp = full.TrimEnd(Path.DirectorySeparatorChar) + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            Directory.CreateDirectory(temp);
            File.WriteAllText(Path.Combine(temp, ModelFolder.IndexFileName), ModelIndex);
            Directory.CreateDirectory(Path.Combine(temp, "scheduler"));
            var scheduler = LaVieTrainingOptions.LaVieNoiseSchedule with { ClassName = DDPMScheduler.ClassName };
            File.WriteAllText(Path.Combine(temp, "scheduler", "scheduler_config.json"), ConfigFile.ToJson(scheduler, SchedulerJsonContext.Default.DDPMSchedulerConfig));

            var vaeConfig = vae.Config with { ClassName = "AutoencoderKL" };
            if (vaeScalingFactor is double s)
            {
                vaeConfig = vaeConfig with { ScalingFactor = s };
            }

            WriteComponent(temp, "vae", ConfigFile.ToJson(vaeConfig, AutoencoderJsonContext.Default.AutoencoderKLConfig), "diffusion_pytorch_model.safetensors", vae, null);
            WriteComponent(temp, "unet", ConfigFile.ToJson(unet.Config with { ClassName = "UNet3DConditionModel" }, UNet3DConditionJsonContext.Default.UNet3DConditionConfig),
                "diffusion_pytorch_model.safetensors", unet, unetWeights);
            WriteComponent(temp, "text_encoder", ConfigFile.ToJson(textEncoder.Config, CLIPTextConfig.JsonTypeInfo), "model.safetensors", textEncoder, textEncoderWeights);
            TinyWorldTokenizer.WriteFolder(Path.Combine(temp, "tokenizer"), textEncoder.Config.MaxPositionEmbeddings);

            if (Directory.Exists(full))
            {
                Directory.Delete(full, recursive: true);
            }

            string? parent = Path.GetDirectoryName(full);
            if (!string.IsNullOrEmpty(parent))
            {
                Directory.CreateDirectory(parent);
            }

            Directory.Move(temp, full);
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    private static void WriteComponent(string root, string name, string configJson, string weightsFile, nn.Module module, IReadOnlyDictionary<string, Tensor>? weights)
    {
        string dir = Path.Combine(root, name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), configJson);
        using var scope = NewDisposeScope();
        var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, t) in module.state_dict())
        {
            Tensor source = t;
            if (weights is not null)
            {
                if (!weights.TryGetValue(key, out var w))
                {
                    throw new ArgumentException($"The {name} weights have no tensor \"{key}\".", nameof(weights));
                }

                if (!w.shape.SequenceEqual(t.shape))
                {
                    throw new ArgumentException(
                        $"The {name} weight \"{key}\" has shape [{string.Join(", ", w.shape)}]; the module's is [{string.Join(", ", t.shape)}].", nameof(weights));
                }

                source = w;
            }

            tensors[key] = source.detach().to_type(ScalarType.Float32).cpu().contiguous();
        }

        SafetensorsWriter.Write(Path.Combine(dir, weightsFile), tensors);
    }
}
