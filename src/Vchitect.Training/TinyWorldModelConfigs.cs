using Vchitect.Evaluation.TinyWorld;
using Vchitect.Models.Autoencoders;
using Vchitect.Models.TextEncoders;
using Vchitect.Models.UNets;

namespace Vchitect.Training;

/// <summary>
/// The configs of a tiny-world LaVie: a VAE, a 3D UNet and a CLIP text encoder that fit together (latent channels,
/// cross-attention width, vocabulary). <see cref="Default"/> is the size proposed for the shipped model; tests use smaller ones.
/// </summary>
/// <param name="Vae">The autoencoder.</param>
/// <param name="UNet">The denoiser; its in/out channels equal the VAE's latent channels and its cross-attention width the text width.</param>
/// <param name="TextEncoder">The text encoder, with the tiny-world vocabulary and special-token ids.</param>
public sealed record TinyWorldModelConfigs(AutoencoderKLConfig Vae, UNet3DConditionConfig UNet, CLIPTextConfig TextEncoder)
{
    /// <summary>
    /// The proposed shipped size for 64×64, 16-frame clips. VAE: three levels (32, 64, 64), factor 4, 4 latent channels
    /// (16×16 latents). UNet: block_out (64, 128), one layer per block, cross-attention in the first down/last up block and
    /// the mid block, attention_head_dim (heads) (2, 4) so that every head, spatial and temporal, has 32 channels. Text:
    /// 2 layers × 64 wide, 2 heads, 256 MLP, 77 positions, the tiny-world vocabulary (584 tokens).
    /// </summary>
    public static TinyWorldModelConfigs Default { get; } = Create(vaeChannels: [32, 64, 64], unetChannels: [64, 128], heads: [2, 4], textWidth: 64, textLayers: 2);

    /// <summary>Builds a matching triple.</summary>
    /// <param name="vaeChannels">VAE block_out_channels (one level per entry; spatial factor 2^(levels − 1)); multiples of 32.</param>
    /// <param name="unetChannels">UNet block_out_channels (exactly 2 entries: CrossAttnDownBlock3D, DownBlock3D); multiples of 32.</param>
    /// <param name="heads">UNet attention_head_dim (LaVie's head count) per block.</param>
    /// <param name="textWidth">The text encoder's hidden size (= the UNet's cross_attention_dim).</param>
    /// <param name="textLayers">Text encoder layers.</param>
    /// <param name="latentChannels">VAE latent channels; default 4.</param>
    /// <param name="sampleSize">Frame size in pixels; default 64.</param>
    /// <returns>The configs.</returns>
    /// <exception cref="ArgumentException">The UNet does not have exactly 2 levels.</exception>
    public static TinyWorldModelConfigs Create(int[] vaeChannels, int[] unetChannels, int[] heads, int textWidth, int textLayers, int latentChannels = 4, int sampleSize = 64)
    {
        ArgumentNullException.ThrowIfNull(vaeChannels);
        ArgumentNullException.ThrowIfNull(unetChannels);
        ArgumentNullException.ThrowIfNull(heads);
        if (unetChannels.Length != 2 || heads.Length != 2)
        {
            throw new ArgumentException($"unetChannels and heads must have 2 entries each; got {unetChannels.Length} and {heads.Length}.", nameof(unetChannels));
        }

        int levels = vaeChannels.Length;
        var vae = new AutoencoderKLConfig
        {
            ClassName = "AutoencoderKL",
            BlockOutChannels = [.. vaeChannels],
            DownBlockTypes = [.. Enumerable.Repeat("DownEncoderBlock2D", levels)],
            UpBlockTypes = [.. Enumerable.Repeat("UpDecoderBlock2D", levels)],
            LatentChannels = latentChannels,
            LayersPerBlock = 1,
            NormNumGroups = 32,
            SampleSize = sampleSize,
            ScalingFactor = 1.0,
        };
        var unet = new UNet3DConditionConfig
        {
            ClassName = "UNet3DConditionModel",
            SampleSize = sampleSize >> (levels - 1),
            InChannels = latentChannels,
            OutChannels = latentChannels,
            BlockOutChannels = [.. unetChannels],
            DownBlockTypes = ["CrossAttnDownBlock3D", "DownBlock3D"],
            UpBlockTypes = ["UpBlock3D", "CrossAttnUpBlock3D"],
            LayersPerBlock = 1,
            NormNumGroups = 32,
            CrossAttentionDim = textWidth,
            AttentionHeadDim = [.. heads],
            UseFirstFrame = false,
            UseRelativePosition = false,
        };
        var text = new CLIPTextConfig
        {
            VocabSize = TinyWorldTokenizer.VocabularySize,
            HiddenSize = textWidth,
            IntermediateSize = 4 * textWidth,
            NumHiddenLayers = textLayers,
            NumAttentionHeads = Math.Max(1, textWidth / 32),
            MaxPositionEmbeddings = 77,
            HiddenAct = "quick_gelu",
            ProjectionDim = textWidth,
            BosTokenId = TinyWorldTokenizer.BosTokenId,
            EosTokenId = TinyWorldTokenizer.EosTokenId,
            PadTokenId = TinyWorldTokenizer.EosTokenId,
            ModelType = "clip_text_model",
        };
        return new TinyWorldModelConfigs(vae, unet, text);
    }
}
