using TorchSharp;
using TorchSharp.Modules;
using Vchitect.Models.Blocks;
using static TorchSharp.torch;

namespace Vchitect.Models.UNets.Vsr;

/// <summary>The inputs of <see cref="UNet3DVSRModel"/>. The model does not dispose them.</summary>
/// <param name="Sample">Noisy latents (B, C, F, H, W), C = in_channels − 3.</param>
/// <param name="Timestep">Diffusion timestep: a 0-d tensor (used for the whole batch) or one per batch element (B), int64 or float.</param>
/// <param name="EncoderHiddenStates">Text features (B, L, cross_attention_dim).</param>
/// <param name="LowResImage">The (noised) low-resolution RGB video (B, 3, F, H, W) on the latent grid; concatenated to the sample on channels.</param>
/// <param name="ClassLabels">The noise level of the low-res video, (B) int64 (or 0-d), at most max_noise_level; required when the model has a class embedding.</param>
public sealed record UNet3DVSRInput(Tensor Sample, Tensor Timestep, Tensor EncoderHiddenStates, Tensor LowResImage, Tensor? ClassLabels);

/// <summary>The output of <see cref="UNet3DVSRModel"/>; the caller owns (and disposes) the tensor.</summary>
/// <param name="Sample">The prediction (B, out_channels, F, H, W) (v in LaVie VSR).</param>
public sealed record UNet3DVSROutput(Tensor Sample);

/// <summary>
/// LaVie's x4 video super-resolution UNet (<c>UNet3DVSRModel</c>, <c>vsr/models/unet.py</c>): the
/// stable-diffusion-x4-upscaler UNet applied per frame, with a temporal resnet (<c>resblock_temporal</c>) and a temporal
/// attention (<c>attn_temporal</c>, rotary + relative position bias) in every transformer, a noise-level
/// <c>class_embedding</c> added to the time embedding, and a <see cref="TemporalModule3D"/> after every down block, the mid
/// block and every up block (<c>down_temporal_blocks</c>, <c>mid_temporal_block</c>, <c>up_temporal_blocks</c>). Module
/// names are the reference state dict's keys, including the top-level <c>temporal_rotary_emb.freqs</c> and one
/// <c>…attn_temporal.rotary_emb.freqs</c> per temporal attention (the reference shares one module; here each holds the same
/// constants as a buffer).
/// </summary>
public sealed class UNet3DVSRModel : nn.Module<UNet3DVSRInput, UNet3DVSROutput>
{
    private readonly InflatedConv conv_in;
    private readonly Timesteps time_proj;
    private readonly TimestepEmbedding time_embedding;
    private readonly Embedding? class_embedding;
    private readonly RotaryEmbedding temporal_rotary_emb;
    private readonly ModuleList<nn.Module<Tensor, Tensor, Tensor?, DownBlock3DOutput>> down_blocks;
    private readonly ModuleList<nn.Module<Tensor, Tensor, Tensor>> down_temporal_blocks;
    private readonly VsrUNetMidBlock3DCrossAttn mid_block;
    private readonly nn.Module<Tensor, Tensor, Tensor> mid_temporal_block;
    private readonly ModuleList<nn.Module<Tensor, Tensor, IReadOnlyList<Tensor>, Tensor?, long[]?, Tensor>> up_blocks;
    private readonly ModuleList<nn.Module<Tensor, Tensor, Tensor>> up_temporal_blocks;
    private readonly GroupNorm conv_norm_out;
    private readonly InflatedConv conv_out;
    private readonly int _numUpsamplers;

    /// <summary>Builds the model with freshly initialised weights (load real ones with <c>ModuleWeights.Load</c>).</summary>
    /// <param name="config">The config; validated here.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device (see <c>MetaDevice.Build</c> for a weightless build).</param>
    /// <exception cref="Core.Configuration.ConfigException">The config is invalid.</exception>
    /// <exception cref="NotSupportedException">The config uses an option this model does not implement.</exception>
    public UNet3DVSRModel(UNet3DVSRConfig config, ScalarType? dtype = null, Device? device = null)
        : base(nameof(UNet3DVSRModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var c = config;
        int n = c.BlockOutChannels.Length;
        long timeEmbedDim = c.BlockOutChannels[0] * 4L;

        // UNet3DVSRModel.__init__
        conv_in = new InflatedConv(c.InChannels, c.BlockOutChannels[0], 3, 1, 1, dtype, device);
        time_proj = new Timesteps(c.BlockOutChannels[0], c.FlipSinToCos, c.FreqShift);
        time_embedding = new TimestepEmbedding(c.BlockOutChannels[0], timeEmbedDim, dtype, device);
        class_embedding = c.NumClassEmbeds is int classes ? nn.Embedding(classes, timeEmbedDim, device: device, dtype: dtype) : null;
        temporal_rotary_emb = new RotaryEmbedding(32, dtype, device);

        var downs = new nn.Module<Tensor, Tensor, Tensor?, DownBlock3DOutput>[n];
        var downTemporal = new nn.Module<Tensor, Tensor, Tensor>[n];
        int outputChannel = c.BlockOutChannels[0];
        for (int i = 0; i < n; i++)
        {
            int inputChannel = outputChannel;
            outputChannel = c.BlockOutChannels[i];
            bool isFinal = i == n - 1;
            // get_down_block
            downs[i] = c.DownBlockTypes[i] == "CrossAttnDownBlock3D"
                ? new VsrCrossAttnDownBlock3D(
                    c.LayersPerBlock, inputChannel, outputChannel, timeEmbedDim, !isFinal, c.NormNumGroups, c.NormEps,
                    c.HeadsOf(i), c.CrossAttentionDim, c.OnlyCrossAttentionOf(i), c.DownsamplePadding, c.UseLinearProjection, c.UpcastAttention, dtype, device)
                : new DownBlock3D(
                    c.LayersPerBlock, inputChannel, outputChannel, timeEmbedDim, !isFinal, c.NormNumGroups, c.NormEps,
                    c.DownsamplePadding, dtype, device);
            downTemporal[i] = Temporal(c.DownTemporalIdx.Contains(i), outputChannel, timeEmbedDim, dtype, device);
        }

        down_blocks = nn.ModuleList(downs);
        down_temporal_blocks = nn.ModuleList(downTemporal);
        mid_block = new VsrUNetMidBlock3DCrossAttn(
            c.BlockOutChannels[^1], timeEmbedDim, c.NormNumGroups, c.NormEps, c.MidBlockScaleFactor, c.HeadsOf(n - 1),
            c.CrossAttentionDim, c.UseLinearProjection, c.UpcastAttention, dtype, device);
        mid_temporal_block = Temporal(c.MidTemporal, c.BlockOutChannels[^1], timeEmbedDim, dtype, device);

        var ups = new nn.Module<Tensor, Tensor, IReadOnlyList<Tensor>, Tensor?, long[]?, Tensor>[n];
        var upTemporal = new nn.Module<Tensor, Tensor, Tensor>[n];
        int[] reversedChannels = c.BlockOutChannels.Reverse().ToArray();
        outputChannel = reversedChannels[0];
        for (int i = 0; i < n; i++)
        {
            bool isFinal = i == n - 1;
            int prevOutputChannel = outputChannel;
            outputChannel = reversedChannels[i];
            int inputChannel = reversedChannels[Math.Min(i + 1, n - 1)];
            if (!isFinal)
            {
                _numUpsamplers++;
            }

            // get_up_block (heads and only_cross_attention reversed)
            ups[i] = c.UpBlockTypes[i] == "CrossAttnUpBlock3D"
                ? new VsrCrossAttnUpBlock3D(
                    c.LayersPerBlock + 1, inputChannel, outputChannel, prevOutputChannel, timeEmbedDim, !isFinal, c.NormNumGroups, c.NormEps,
                    c.HeadsOf(n - 1 - i), c.CrossAttentionDim, c.OnlyCrossAttentionOf(n - 1 - i), c.UseLinearProjection, c.UpcastAttention, dtype, device)
                : new UpBlock3D(
                    c.LayersPerBlock + 1, inputChannel, outputChannel, prevOutputChannel, timeEmbedDim, !isFinal, c.NormNumGroups, c.NormEps,
                    dtype, device);
            upTemporal[i] = Temporal(c.UpTemporalIdx.Contains(i), outputChannel, timeEmbedDim, dtype, device);
        }

        up_blocks = nn.ModuleList(ups);
        up_temporal_blocks = nn.ModuleList(upTemporal);
        conv_norm_out = Norms.GroupNorm(c.NormNumGroups, c.BlockOutChannels[0], c.NormEps, device, dtype);
        conv_out = new InflatedConv(c.BlockOutChannels[0], c.OutChannels, 3, 1, 1, dtype, device);
        RegisterComponents();
    }

    /// <summary>The validated config.</summary>
    public UNet3DVSRConfig Config { get; }

    /// <summary>
    /// Predicts from noisy latents, a timestep, text features, the low-res video and its noise level. Runs in its own
    /// dispose scope.
    /// </summary>
    /// <param name="input">The inputs; see <see cref="UNet3DVSRInput"/>.</param>
    /// <returns>The prediction (B, out_channels, F, H, W), owned by the caller.</returns>
    /// <exception cref="ArgumentException">An input has the wrong rank or size, a class label is missing or above max_noise_level; the message names it.</exception>
    public override UNet3DVSROutput forward(UNet3DVSRInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var sample = input.Sample;
        long latentChannels = Config.InChannels - 3;
        if (sample.ndim != 5 || sample.shape[1] != latentChannels)
        {
            throw new ArgumentException($"Sample must be (B, {latentChannels}, F, H, W); got [{Shape(sample)}].", nameof(input));
        }

        var lowRes = input.LowResImage;
        if (lowRes.ndim != 5 || lowRes.shape[0] != sample.shape[0] || lowRes.shape[1] != 3 || lowRes.shape[2] != sample.shape[2] || lowRes.shape[3] != sample.shape[3] || lowRes.shape[4] != sample.shape[4])
        {
            throw new ArgumentException($"LowResImage must be ({sample.shape[0]}, 3, {sample.shape[2]}, {sample.shape[3]}, {sample.shape[4]}); got [{Shape(lowRes)}].", nameof(input));
        }

        if (input.Timestep.ndim > 1 || (input.Timestep.ndim == 1 && input.Timestep.shape[0] != 1 && input.Timestep.shape[0] != sample.shape[0]))
        {
            throw new ArgumentException($"Timestep must be 0-d or (B) with B = {sample.shape[0]}; got [{Shape(input.Timestep)}].", nameof(input));
        }

        var ehs = input.EncoderHiddenStates;
        if (ehs.ndim != 3 || ehs.shape[0] != sample.shape[0] || ehs.shape[2] != Config.CrossAttentionDim)
        {
            throw new ArgumentException($"EncoderHiddenStates must be ({sample.shape[0]}, L, {Config.CrossAttentionDim}); got [{Shape(ehs)}].", nameof(input));
        }

        var labels = input.ClassLabels;
        if (class_embedding is not null)
        {
            if (labels is null)
            {
                throw new ArgumentException("ClassLabels (the noise level) must be given: the model has a class embedding.", nameof(input));
            }

            if (labels.ndim > 1 || (labels.ndim == 1 && labels.shape[0] != 1 && labels.shape[0] != sample.shape[0]) || labels.is_floating_point())
            {
                throw new ArgumentException($"ClassLabels must be integer, 0-d or (B) with B = {sample.shape[0]}; got {labels.dtype} [{Shape(labels)}].", nameof(input));
            }

            bool tooHigh;
            using (NewDisposeScope())
            {
                tooHigh = labels.gt(Config.MaxNoiseLevel).any().item<bool>();
            }

            if (tooHigh)
            {
                throw new ArgumentException($"ClassLabels (noise level) must be at most max_noise_level {Config.MaxNoiseLevel}.", nameof(input));
            }
        }

        // UNet3DVSRModel.forward (video_condition False)
        using var scope = NewDisposeScope();
        long overallUpFactor = 1L << _numUpsamplers;
        sample = cat([sample, lowRes.to(sample.dtype)], 1);
        bool forwardUpsampleSize = sample.shape[^2] % overallUpFactor != 0 || sample.shape[^1] % overallUpFactor != 0;

        if (Config.CenterInputSample)
        {
            sample = (2 * sample) - 1.0;
        }

        // 1. time (+ noise-level class embedding)
        var timesteps = input.Timestep.ndim == 0 ? input.Timestep.unsqueeze(0) : input.Timestep;
        timesteps = timesteps.to(sample.device).expand(sample.shape[0]);
        var paramDtype = conv_in.Weight.dtype;
        var tEmb = time_proj.forward(timesteps).to(paramDtype);
        var emb = time_embedding.forward(tEmb);
        if (class_embedding is not null)
        {
            var l = labels!.ndim == 0 ? labels.unsqueeze(0) : labels;
            l = l.to(ScalarType.Int64, sample.device).expand(sample.shape[0]);
            emb = emb + class_embedding.forward(l).to(paramDtype);
        }

        // 2. pre-process
        sample = conv_in.forward(sample);

        // 3. down, each followed by its temporal module (which does not feed the skips)
        var resSamples = new List<Tensor> { sample };
        for (int i = 0; i < down_blocks.Count; i++)
        {
            var down = down_blocks[i].forward(sample, emb, ehs);
            resSamples.AddRange(down.ResSamples);
            sample = down_temporal_blocks[i].forward(down.Sample, emb);
        }

        // 4. mid
        sample = mid_block.forward(sample, emb, ehs);
        sample = mid_temporal_block.forward(sample, emb);

        // 5. up
        for (int i = 0; i < up_blocks.Count; i++)
        {
            bool isFinal = i == up_blocks.Count - 1;
            int count = Config.LayersPerBlock + 1;
            var skips = resSamples.GetRange(resSamples.Count - count, count);
            resSamples.RemoveRange(resSamples.Count - count, count);
            long[]? upsampleSize = !isFinal && forwardUpsampleSize ? resSamples[^1].shape[2..] : null;
            sample = up_blocks[i].forward(sample, emb, skips, ehs, upsampleSize);
            sample = up_temporal_blocks[i].forward(sample, emb);
        }

        // 6. post-process
        sample = conv_norm_out.forward(sample);
        sample = nn.functional.silu(sample);
        sample = conv_out.forward(sample);
        return new UNet3DVSROutput(sample.MoveToOuterDisposeScope());
    }

    private static nn.Module<Tensor, Tensor, Tensor> Temporal(bool enabled, long channels, long tembChannels, ScalarType? dtype, Device? device) =>
        enabled ? new TemporalModule3D(channels, tembChannels, dtype, device) : new EmptyTemporalModule3D();

    private static string Shape(Tensor t) => string.Join(", ", t.shape);
}
