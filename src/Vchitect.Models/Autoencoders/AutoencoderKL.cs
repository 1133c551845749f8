using Microsoft.Extensions.Logging;
using TorchSharp;
using TorchSharp.Modules;
using Vchitect.Core.Models;
using Vchitect.Core.Weights;
using static TorchSharp.torch;
using Vchitect.Models.Blocks;

namespace Vchitect.Models.Autoencoders;

/// <summary>
/// The KL-regularised image autoencoder of Stable Diffusion (diffusers <c>AutoencoderKL</c>): encodes images in [−1, 1]
/// to a diagonal Gaussian over latents and decodes latents back to images; video helpers fold frames into the batch.
/// </summary>
/// <remarks>
/// <para>
/// Module names equal diffusers' state-dict keys (<c>encoder.down_blocks.0.resnets.0.conv1.weight</c>, …), so a
/// diffusers <c>vae/</c> checkpoint loads key for key with <see cref="LoadWeights"/>, which also accepts the old
/// attention names (<c>query</c>/<c>key</c>/<c>value</c>/<c>proj_attn</c>).
/// </para>
/// <para>
/// <see cref="AutoencoderKLConfig.ScalingFactor"/> is not applied here: multiply encoded latents by it, divide by it before decoding.
/// Methods never dispose their inputs and return new tensors. Gradients are not switched off: run inference under
/// <c>torch.inference_mode()</c> or <c>torch.no_grad()</c>. Any dtype and device work; the SD VAE overflows in float16
/// (see <see cref="AutoencoderKLConfig.ForceUpcast"/>), bfloat16 is safe.
/// </para>
/// </remarks>
public sealed class AutoencoderKL : nn.Module<Tensor, Tensor>
{
    /// <summary>diffusers' <c>tile_overlap_factor</c>: the fraction of a tile shared with its neighbour.</summary>
    public const double DefaultTileOverlap = 0.25;

#pragma warning disable IDE1006 // checkpoint key names
    private readonly VaeEncoder encoder;
    private readonly VaeDecoder decoder;
    private readonly Conv2d? quant_conv;
    private readonly Conv2d? post_quant_conv;
#pragma warning restore IDE1006

    /// <summary>Builds the autoencoder with freshly initialised weights (load real ones with <see cref="LoadWeights"/>).</summary>
    /// <param name="config">The configuration; validated here.</param>
    /// <param name="dtype">Parameter type; null for torch's default (float32).</param>
    /// <param name="device">Where parameters are created; null for the CPU. The meta device builds the structure without memory.</param>
    /// <exception cref="Vchitect.Core.Configuration.ConfigException">A config field is invalid.</exception>
    /// <exception cref="NotSupportedException">The config names a block type or activation this library lacks.</exception>
    public AutoencoderKL(AutoencoderKLConfig config, ScalarType? dtype = null, Device? device = null)
        : base(nameof(AutoencoderKL))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var f = new VaeLayerFactory(dtype, device, config.ActFn);
        encoder = new VaeEncoder(config, f);
        decoder = new VaeDecoder(config, f);
        long moments = 2L * config.LatentChannels;
        if (config.UseQuantConv)
        {
            quant_conv = f.Conv(moments, moments, 1);
        }

        if (config.UsePostQuantConv)
        {
            post_quant_conv = f.Conv(config.LatentChannels, config.LatentChannels, 1);
        }

        RegisterComponents();
        eval();
    }

    /// <summary>The configuration the model was built from.</summary>
    public AutoencoderKLConfig Config { get; }

    /// <summary>Image pixels per latent element along each spatial axis (8 for the SD VAE, 4 for the x4-upscaler VAE).</summary>
    public int SpatialScaleFactor => Config.SpatialScaleFactor;

    /// <summary>
    /// Maps an old diffusers attention key to the current one: in <c>…mid_block.attentions.N.</c>, <c>query</c> → <c>to_q</c>,
    /// <c>key</c> → <c>to_k</c>, <c>value</c> → <c>to_v</c>, <c>proj_attn</c> → <c>to_out.0</c>. Other keys are returned unchanged.
    /// </summary>
    /// <param name="key">A checkpoint key.</param>
    /// <returns>The key under the current names.</returns>
    public static string MapLegacyAttentionKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int at = key.IndexOf("mid_block.attentions.", StringComparison.Ordinal);
        if (at < 0)
        {
            return key;
        }

        int nameStart = key.IndexOf('.', at + "mid_block.attentions.".Length);
        if (nameStart < 0)
        {
            return key;
        }

        nameStart++;
        int nameEnd = key.IndexOf('.', nameStart);
        if (nameEnd < 0)
        {
            return key;
        }

        string replacement = key[nameStart..nameEnd] switch
        {
            "query" => "to_q",
            "key" => "to_k",
            "value" => "to_v",
            "proj_attn" => "to_out.0",
            _ => string.Empty,
        };
        return replacement.Length == 0 ? key : string.Concat(key.AsSpan(0, nameStart), replacement, key.AsSpan(nameEnd));
    }

    /// <summary>
    /// Loads a diffusers-layout state dict (strict by default), accepting both the current (<c>to_q/to_k/to_v/to_out.0</c>)
    /// and the old (<c>query/key/value/proj_attn</c>) mid-block attention names.
    /// </summary>
    /// <param name="source">The weights, e.g. <c>vae/diffusion_pytorch_model.safetensors</c>.</param>
    /// <param name="options">Load options; a <see cref="WeightLoadOptions.KeyMap"/> given here runs first, then the attention renaming.</param>
    /// <returns>What was loaded, skipped and ignored.</returns>
    /// <exception cref="StateDictMismatchException">Strict loading found missing, unexpected or mis-shaped keys (all are listed).</exception>
    public WeightLoadReport LoadWeights(IWeightSource source, WeightLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        options ??= WeightLoadOptions.Default;
        Func<string, string?>? userMap = options.KeyMap;
        Func<string, string?> map = userMap is null
            ? MapLegacyAttentionKey
            : key => userMap(key) is { } mapped ? MapLegacyAttentionKey(mapped) : null;
        return ModuleWeights.Load(this, source, options with { KeyMap = map });
    }

    /// <summary>
    /// Builds the VAE of a hub-style pipeline folder from its <c>vae/config.json</c> and loads its weights strictly
    /// (old and new attention key names both accepted), in the given dtype and on the given device.
    /// </summary>
    /// <param name="folder">The pipeline folder (with <c>model_index.json</c>).</param>
    /// <param name="component">The component's subfolder; default <c>vae</c>.</param>
    /// <param name="dtype">Parameter type; null keeps float32 (the checkpoint's values are converted).</param>
    /// <param name="device">Device; null for the CPU.</param>
    /// <param name="variant">Weights variant such as <c>fp16</c>; null for the default weights.</param>
    /// <param name="logger">Receives a warning about unknown config keys; null for none.</param>
    /// <returns>The loaded model, owned by the caller.</returns>
    /// <exception cref="FileNotFoundException">No config or weights file.</exception>
    /// <exception cref="Vchitect.Core.Configuration.ConfigException">The config is invalid.</exception>
    /// <exception cref="StateDictMismatchException">The weights do not fit the config.</exception>
    public static AutoencoderKL FromPretrained(
        ModelFolder folder, string component = "vae", ScalarType? dtype = null, Device? device = null, string? variant = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var config = folder.ReadConfig(component, AutoencoderJsonContext.Default.AutoencoderKLConfig, logger);
        using var weights = folder.OpenWeights(component, variant);
        var vae = new AutoencoderKL(config, dtype, device);
        try
        {
            vae.LoadWeights(weights);
            return vae;
        }
        catch
        {
            vae.Dispose();
            throw;
        }
    }

    /// <summary>Encodes then decodes the mean (diffusers' <c>forward</c> with <c>sample_posterior=False</c>).</summary>
    /// <param name="input">Images (B, in_channels, H, W) in [−1, 1].</param>
    /// <returns>Reconstructed images (B, out_channels, H, W).</returns>
    public override Tensor forward(Tensor input)
    {
        using var posterior = Encode(input);
        return Decode(posterior.Mean);
    }

    /// <summary>Encodes images to the latent distribution (diffusers <c>AutoencoderKL.encode(x).latent_dist</c>).</summary>
    /// <param name="images">Images (B, in_channels, H, W) in [−1, 1], of the model's dtype and device.</param>
    /// <returns>The distribution over (B, latent_channels, H/f, W/f) latents (f = <see cref="SpatialScaleFactor"/>); the caller disposes it.</returns>
    /// <exception cref="ArgumentException">The tensor is not 4-D with in_channels channels.</exception>
    public DiagonalGaussianDistribution Encode(Tensor images)
    {
        CheckInput(images, Config.InChannels, "images", "(B, in_channels, H, W)");
        using var scope = NewDisposeScope();
        var moments = encoder.forward(images);
        if (quant_conv is not null)
        {
            moments = Conv2dMath.Forward(quant_conv, moments, 1, 0);
        }

        return ToDistribution(moments, dim: 1);
    }

    /// <summary>Decodes latents to images (diffusers <c>AutoencoderKL.decode(z).sample</c>, no tiling).</summary>
    /// <param name="latents">Unscaled latents (B, latent_channels, h, w), of the model's dtype and device.</param>
    /// <returns>Images (B, out_channels, h·f, w·f), roughly in [−1, 1].</returns>
    /// <exception cref="ArgumentException">The tensor is not 4-D with latent_channels channels.</exception>
    public Tensor Decode(Tensor latents)
    {
        CheckInput(latents, Config.LatentChannels, "latents", "(B, latent_channels, h, w)");
        return DecodeUnchecked(latents);
    }

    /// <summary>
    /// Decodes large latents tile by tile as diffusers' <c>tiled_decode</c> does: overlapping latent tiles of
    /// <paramref name="tileSampleSize"/>/f, each decoded alone, then blended linearly over the overlap with the tile above and
    /// the tile to the left. Peak memory is that of one tile. The result differs slightly from <see cref="Decode"/> near
    /// tile seams (the decoder's receptive field, its GroupNorm statistics and the mid-block attention span one tile, not the
    /// whole image). Latents no larger than one tile are decoded whole, as diffusers' <c>decode</c> does with tiling enabled.
    /// </summary>
    /// <param name="latents">Unscaled latents (B, latent_channels, h, w).</param>
    /// <param name="tileSampleSize">Tile size in pixels; null for <see cref="AutoencoderKLConfig.SampleSize"/> (diffusers' choice). Must be a multiple of f.</param>
    /// <param name="tileOverlap">Fraction of a tile overlapping its neighbour, in [0, 1); default 0.25.</param>
    /// <returns>Images (B, out_channels, h·f, w·f).</returns>
    /// <exception cref="ArgumentException">Bad latents.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Bad tile size or overlap.</exception>
    public Tensor DecodeTiled(Tensor latents, int? tileSampleSize = null, double tileOverlap = DefaultTileOverlap)
    {
        CheckInput(latents, Config.LatentChannels, "latents", "(B, latent_channels, h, w)");
        int f = SpatialScaleFactor;
        int tileSample = tileSampleSize ?? Config.SampleSize;
        if (tileSample <= 0 || tileSample % f != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tileSampleSize), tileSample, $"must be a positive multiple of the spatial scale factor {f}.");
        }

        if (!(tileOverlap >= 0 && tileOverlap < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(tileOverlap), tileOverlap, "must be in [0, 1).");
        }

        int tileLatent = tileSample / f;
        int stride = (int)(tileLatent * (1 - tileOverlap));
        int blendExtent = (int)(tileSample * tileOverlap);
        int rowLimit = tileSample - blendExtent;
        if (stride < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(tileOverlap), tileOverlap, $"leaves no stride between latent tiles of {tileLatent}.");
        }

        if (latents.shape[2] <= tileLatent && latents.shape[3] <= tileLatent)
        {
            // As diffusers' decode with tiling enabled: latents that fit in one tile are decoded whole.
            return DecodeUnchecked(latents);
        }

        return DecodeTiledUnchecked(latents, tileLatent, stride, blendExtent, rowLimit);
    }

    /// <summary>
    /// Encodes video frames: (B, C, F, H, W) is folded to (B·F) images, encoded <paramref name="framesPerChunk"/> images at a
    /// time, and unfolded to a distribution over (B, latent_channels, F, H/f, W/f) latents. Chunking does not change the result.
    /// </summary>
    /// <param name="video">Frames (B, in_channels, F, H, W) in [−1, 1].</param>
    /// <param name="framesPerChunk">Images per encoder call; 0 (default) for all at once.</param>
    /// <param name="cancellationToken">Checked before each chunk.</param>
    /// <exception cref="ArgumentException">The tensor is not 5-D with in_channels channels.</exception>
    /// <exception cref="OperationCanceledException">Cancelled between chunks.</exception>
    public DiagonalGaussianDistribution EncodeVideo(Tensor video, int framesPerChunk = 0, CancellationToken cancellationToken = default)
    {
        CheckVideo(video, Config.InChannels, "video", "(B, in_channels, F, H, W)");
        ArgumentOutOfRangeException.ThrowIfNegative(framesPerChunk);
        using var scope = NewDisposeScope();
        long b = video.shape[0], frames = video.shape[2];
        var images = FoldFrames(video);
        var parts = new List<Tensor>();
        foreach (var chunk in Chunks(images, framesPerChunk))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var chunkScope = NewDisposeScope();
            var moments = encoder.forward(chunk);
            if (quant_conv is not null)
            {
                moments = Conv2dMath.Forward(quant_conv, moments, 1, 0);
            }

            parts.Add(moments.MoveToOuterDisposeScope());
        }

        var all = parts.Count == 1 ? parts[0] : cat(parts, 0);
        return ToDistribution(UnfoldFrames(all, b, frames), dim: 1);
    }

    /// <summary>
    /// Decodes video latents: (B, C, F, h, w) is folded to (B·F) latent images (frame index fastest), decoded
    /// <paramref name="framesPerChunk"/> at a time (each chunk in its own dispose scope, so peak memory is one chunk's), and
    /// unfolded to (B, out_channels, F, h·f, w·f). Every layer acts per image, so the result equals decoding all at once.
    /// </summary>
    /// <param name="latents">Unscaled latents (B, latent_channels, F, h, w).</param>
    /// <param name="framesPerChunk">Images per decoder call; 0 (default) for all at once.</param>
    /// <param name="tiled">Whether each chunk is decoded with <see cref="DecodeTiled"/> (default tile settings) instead of <see cref="Decode"/>.</param>
    /// <param name="cancellationToken">Checked before each chunk.</param>
    /// <returns>Frames (B, out_channels, F, H, W).</returns>
    /// <exception cref="ArgumentException">The tensor is not 5-D with latent_channels channels.</exception>
    /// <exception cref="OperationCanceledException">Cancelled between chunks.</exception>
    public Tensor DecodeVideo(Tensor latents, int framesPerChunk = 0, bool tiled = false, CancellationToken cancellationToken = default)
    {
        CheckVideo(latents, Config.LatentChannels, "latents", "(B, latent_channels, F, h, w)");
        ArgumentOutOfRangeException.ThrowIfNegative(framesPerChunk);
        using var scope = NewDisposeScope();
        long b = latents.shape[0], frames = latents.shape[2];
        var images = FoldFrames(latents);
        var parts = new List<Tensor>();
        foreach (var chunk in Chunks(images, framesPerChunk))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var chunkScope = NewDisposeScope();
            var decoded = tiled ? DecodeTiled(chunk) : DecodeUnchecked(chunk);
            parts.Add(decoded.MoveToOuterDisposeScope());
        }

        var all = parts.Count == 1 ? parts[0] : cat(parts, 0);
        return UnfoldFrames(all, b, frames).MoveToOuterDisposeScope();
    }

    private Tensor DecodeUnchecked(Tensor latents)
    {
        using var scope = NewDisposeScope();
        var z = post_quant_conv is null ? latents : Conv2dMath.Forward(post_quant_conv, latents, 1, 0);
        return decoder.forward(z).MoveToOuterDisposeScope();
    }

    // diffusers autoencoder_kl.py AutoencoderKL.tiled_decode, blend_v, blend_h
    private Tensor DecodeTiledUnchecked(Tensor z, int tileLatent, int stride, int blendExtent, int rowLimit)
    {
        using var scope = NewDisposeScope();
        long height = z.shape[2], width = z.shape[3];
        var rows = new List<List<Tensor>>();
        for (long i = 0; i < height; i += stride)
        {
            var row = new List<Tensor>();
            for (long j = 0; j < width; j += stride)
            {
                using var tileScope = NewDisposeScope();
                var tile = z[.., .., (int)i..(int)Math.Min(i + tileLatent, height), (int)j..(int)Math.Min(j + tileLatent, width)];
                row.Add(DecodeUnchecked(tile).MoveToOuterDisposeScope());
            }

            rows.Add(row);
        }

        // diffusers blends in place, so a tile blended with its upper and left neighbours is what later tiles read.
        var resultRows = new List<Tensor>();
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var cropped = new List<Tensor>();
            for (int j = 0; j < row.Count; j++)
            {
                var tile = row[j];
                if (i > 0)
                {
                    tile = Blend(rows[i - 1][j], tile, blendExtent, dim: 2);
                }

                if (j > 0)
                {
                    tile = Blend(row[j - 1], tile, blendExtent, dim: 3);
                }

                row[j] = tile;
                cropped.Add(tile[.., .., ..(int)Math.Min(rowLimit, tile.shape[2]), ..(int)Math.Min(rowLimit, tile.shape[3])]);
            }

            resultRows.Add(cat(cropped, 3));
        }

        return cat(resultRows, 2).MoveToOuterDisposeScope();
    }

    /// <summary>Blends the last rows (dim 2) or columns (dim 3) of <paramref name="a"/> into the first of <paramref name="b"/>, linearly.</summary>
    private static Tensor Blend(Tensor a, Tensor b, int blendExtent, int dim)
    {
        long extent = Math.Min(Math.Min(a.shape[dim], b.shape[dim]), blendExtent);
        if (extent == 0)
        {
            return b;
        }

        // weight y/extent for b, 1 − y/extent for a, computed in double as Python does, then cast to the tiles' dtype.
        var y = arange(extent, ScalarType.Float64, b.device) / extent;
        var oneMinus = (1 - y).to(b.dtype);
        var weight = y.to(b.dtype);
        long[] shape = dim == 2 ? [1, 1, extent, 1] : [1, 1, 1, extent];
        var mixed = a.narrow(dim, a.shape[dim] - extent, extent) * oneMinus.view(shape) + b.narrow(dim, 0, extent) * weight.view(shape);
        return cat([mixed, b.narrow(dim, extent, b.shape[dim] - extent)], dim);
    }

    private static DiagonalGaussianDistribution ToDistribution(Tensor moments, int dim)
    {
        // diffusers vae.py DiagonalGaussianDistribution.__init__
        var halves = moments.chunk(2, dim);
        var mean = halves[0].contiguous();
        var logVar = halves[1].clamp(-30.0, 20.0);
        var std = (0.5 * logVar).exp();
        return new DiagonalGaussianDistribution(mean.MoveToOuterDisposeScope(), logVar.MoveToOuterDisposeScope(), std.MoveToOuterDisposeScope());
    }

    private static Tensor FoldFrames(Tensor video)
    {
        long b = video.shape[0], c = video.shape[1], frames = video.shape[2];
        return video.permute(0, 2, 1, 3, 4).reshape(b * frames, c, video.shape[3], video.shape[4]);
    }

    private static Tensor UnfoldFrames(Tensor images, long b, long frames) =>
        images.reshape(b, frames, images.shape[1], images.shape[2], images.shape[3]).permute(0, 2, 1, 3, 4).contiguous();

    private static IEnumerable<Tensor> Chunks(Tensor images, int size)
    {
        long n = images.shape[0];
        long step = size <= 0 ? Math.Max(n, 1) : size;
        for (long start = 0; start < n; start += step)
        {
            yield return images.narrow(0, start, Math.Min(step, n - start));
        }
    }

    private static void CheckInput(Tensor tensor, int channels, string name, string layout)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.dim() != 4 || tensor.shape[1] != channels)
        {
            throw new ArgumentException($"{name} has shape [{string.Join(", ", tensor.shape)}]; expected {layout} with {channels} channels.", name);
        }
    }

    private static void CheckVideo(Tensor tensor, int channels, string name, string layout)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.dim() != 5 || tensor.shape[1] != channels)
        {
            throw new ArgumentException($"{name} has shape [{string.Join(", ", tensor.shape)}]; expected {layout} with {channels} channels.", name);
        }
    }
}
