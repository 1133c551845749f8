using Vchitect.Core.Configuration;

namespace Vchitect.Models.Autoencoders;

/// <summary>Published real-size <see cref="AutoencoderKLConfig"/>s, kept as the hub's own <c>vae/config.json</c> text.</summary>
public static class AutoencoderKLPresets
{
    /// <summary>
    /// <c>CompVis/stable-diffusion-v1-4</c> <c>vae/config.json</c> (also LaVie, SEINE, VideoBooth): four levels
    /// (128, 256, 512, 512), 2 resnets per level, 4 latent channels, spatial factor 8, scaling factor 0.18215 (the default).
    /// </summary>
    public const string StableDiffusionV14Json = """
        {
          "_class_name": "AutoencoderKL",
          "_diffusers_version": "0.2.2",
          "act_fn": "silu",
          "block_out_channels": [128, 256, 512, 512],
          "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
          "in_channels": 3,
          "latent_channels": 4,
          "layers_per_block": 2,
          "out_channels": 3,
          "sample_size": 512,
          "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]
        }
        """;

    /// <summary>
    /// <c>stabilityai/stable-diffusion-x4-upscaler</c> <c>vae/config.json</c> (LaVie's VSR stage): three levels
    /// (128, 256, 512), spatial factor 4, scaling factor 0.08333 (the value diffusers' upscale pipeline enforces). The <c>sample_size</c> (256) was not checked against the hub file; it only sets the default tile size.
    /// </summary>
    public const string X4UpscalerJson = """
        {
          "_class_name": "AutoencoderKL",
          "act_fn": "silu",
          "block_out_channels": [128, 256, 512],
          "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
          "in_channels": 3,
          "latent_channels": 4,
          "layers_per_block": 2,
          "norm_num_groups": 32,
          "out_channels": 3,
          "sample_size": 256,
          "scaling_factor": 0.08333,
          "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]
        }
        """;

    /// <summary>The SD v1.4 VAE config (see <see cref="StableDiffusionV14Json"/>), parsed and validated; a new record each call.</summary>
    public static AutoencoderKLConfig StableDiffusionV14 =>
        ConfigFile.Parse(StableDiffusionV14Json, AutoencoderJsonContext.Default.AutoencoderKLConfig, "preset sd-v1-4 vae");

    /// <summary>The x4-upscaler VAE config (see <see cref="X4UpscalerJson"/>), parsed and validated; a new record each call.</summary>
    public static AutoencoderKLConfig X4Upscaler =>
        ConfigFile.Parse(X4UpscalerJson, AutoencoderJsonContext.Default.AutoencoderKLConfig, "preset x4-upscaler vae");
}
