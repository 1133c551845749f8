using Vchitect.Core.Configuration;
using Vchitect.Core.Media;
using Vchitect.Core.Models;
using Vchitect.Core;
using Vchitect.Models.Autoencoders;
using Vchitect.Models.TextEncoders;
using Vchitect.Models.UNets.Vsr;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Tests;

/// <summary>
/// Writes a tiny random-weight stable-diffusion-x4-upscaler-style folder for <see cref="LaVieUpscalePipeline"/> with the
/// library's own SafetensorsWriter: model_index.json (max_noise_level 350), scheduler/ (the x4 DDIM config, scaled_linear
/// in the file, which LaVie turns linear), low_res_scheduler/ (the x4 DDPM config), unet/ (a two-level UNet3DVSRModel with
/// LaVie's temporal keys), vae/ (three levels: spatial factor 4, scaling factor 0.08333), a tiny CLIP text encoder and the
/// made-up tokenizer of <see cref="TinyLaVie"/>.
/// </summary>
public sealed class TinyLaVieVsr : IDisposable
{
    public const string UNetConfig = """
        {"_class_name": "UNet3DVSRModel", "attention_head_dim": 1, "block_out_channels": [32, 32], "cross_attention_dim": 32,
         "down_block_types": ["DownBlock3D", "CrossAttnDownBlock3D"], "up_block_types": ["CrossAttnUpBlock3D", "UpBlock3D"],
         "only_cross_attention": [true, true], "in_channels": 7, "out_channels": 4, "layers_per_block": 1, "norm_num_groups": 32,
         "num_class_embeds": 1000, "down_temporal_idx": [0, 1], "mid_temporal": true, "up_temporal_idx": [0, 1],
         "video_condition": false}
        """;

    /// <summary>The same UNet as the hub's 2-D x4 config would describe it: 2-D block names, no temporal keys.</summary>
    public const string UNet2DConfig = """
        {"_class_name": "UNet2DConditionModel", "attention_head_dim": 1, "block_out_channels": [32, 32], "cross_attention_dim": 32,
         "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"], "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
         "only_cross_attention": [true, true], "in_channels": 7, "out_channels": 4, "layers_per_block": 1, "norm_num_groups": 32,
         "num_class_embeds": 1000}
        """;

    // Three levels: the x4 VAE's scale factor 4, so 8×8 latents decode to 32×32 frames.
    public const string VaeConfig = """
        {"_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [32, 32, 32],
         "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
         "in_channels": 3, "latent_channels": 4, "layers_per_block": 1, "norm_num_groups": 32, "out_channels": 3, "sample_size": 32,
         "scaling_factor": 0.08333,
         "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}
        """;

    // stabilityai/stable-diffusion-x4-upscaler scheduler/ and low_res_scheduler/ configs.
    public const string SchedulerConfig = """
        {"_class_name": "DDIMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.02, "beta_schedule": "scaled_linear",
         "beta_start": 0.0001, "clip_sample": false, "num_train_timesteps": 1000, "prediction_type": "v_prediction",
         "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null}
        """;

    public const string LowResSchedulerConfig = """
        {"_class_name": "DDPMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.02, "beta_schedule": "scaled_linear",
         "beta_start": 0.0001, "clip_sample": true, "num_train_timesteps": 1000, "trained_betas": null, "variance_type": "fixed_small"}
        """;

    public const string ModelIndex = """
        {"_class_name": "StableDiffusionUpscalePipeline", "_diffusers_version": "0.8.0", "max_noise_level": 350,
         "low_res_scheduler": ["diffusers", "DDPMScheduler"], "scheduler": ["diffusers", "DDIMScheduler"],
         "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
         "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
        """;

    public TinyLaVieVsr(long seed = 4321, bool hubUNetConfig = false)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vchitect-lavie-vsr-" + Guid.NewGuid().ToString("N"));
        foreach (string sub in new[] { "scheduler", "low_res_scheduler", "unet", "vae", "text_encoder" })
        {
            Directory.CreateDirectory(System.IO.Path.Combine(Path, sub));
        }

        File.WriteAllText(System.IO.Path.Combine(Path, ModelFolder.IndexFileName), ModelIndex);
        File.WriteAllText(System.IO.Path.Combine(Path, "scheduler", "scheduler_config.json"), SchedulerConfig);
        File.WriteAllText(System.IO.Path.Combine(Path, "low_res_scheduler", "scheduler_config.json"), LowResSchedulerConfig);
        File.WriteAllText(System.IO.Path.Combine(Path, "unet", "config.json"), hubUNetConfig ? UNet2DConfig : UNetConfig);
        File.WriteAllText(System.IO.Path.Combine(Path, "vae", "config.json"), VaeConfig);
        using var scope = NewDisposeScope();
        using (var unet = new UNet3DVSRModel(ConfigFile.Parse(UNetConfig, UNet3DVSRJsonContext.Default.UNet3DVSRConfig, "tiny vsr unet")))
        {
            TinyLaVie.WriteRandom(unet, System.IO.Path.Combine(Path, "unet", "diffusion_pytorch_model.safetensors"), seed);
        }

        TinyLaVie.WriteTokenizer(System.IO.Path.Combine(Path, "tokenizer"));
        var clip = new CLIPTextConfig
        {
            VocabSize = TinyLaVie.VocabSize, HiddenSize = 32, IntermediateSize = 37, NumHiddenLayers = 1, NumAttentionHeads = 4,
            MaxPositionEmbeddings = 77, HiddenAct = "gelu", ProjectionDim = 32, BosTokenId = TinyLaVie.Bos, PadTokenId = TinyLaVie.Eos,
            EosTokenId = TinyLaVie.Eos, ModelType = "clip_text_model",
        };
        File.WriteAllText(System.IO.Path.Combine(Path, "text_encoder", "config.json"), ConfigFile.ToJson(clip, CLIPTextConfig.JsonTypeInfo));
        using (var text = new CLIPTextModel(clip))
        {
            TinyLaVie.WriteRandom(text, System.IO.Path.Combine(Path, "text_encoder", "model.safetensors"), seed + 2);
        }

        using (var vae = new AutoencoderKL(ConfigFile.Parse(VaeConfig, AutoencoderJsonContext.Default.AutoencoderKLConfig, "tiny x4 vae")))
        {
            TinyLaVie.WriteRandom(vae, System.IO.Path.Combine(Path, "vae", "diffusion_pytorch_model.safetensors"), seed + 1);
        }
    }

    public string Path { get; }

    /// <summary>Loads the folder as a user would.</summary>
    public LaVieUpscalePipeline Load() => LaVieUpscalePipeline.FromPretrained(Path);

    /// <summary>Tiny, fast options: 2 steps, the other values LaVie's.</summary>
    public static LaVieUpscaleOptions Options(long seed = 5) => new() { Steps = 2, Seed = seed };

    /// <summary>A seeded random low-resolution video.</summary>
    public static Video Input(int frames = 3, int height = 8, int width = 8, double fps = 12, long seed = 3)
    {
        var random = new Random((int)seed);
        var rgb = new byte[frames * height * width * 3];
        random.NextBytes(rgb);
        return new Video(rgb, frames, height, width, fps);
    }

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
