using TorchSharp;
using TorchSharp.Modules;
using Vchitect.Models.Blocks;
using static TorchSharp.torch;

namespace Vchitect.Models.UNets;

/// <summary>The inputs of <see cref="UNet3DConditionModel"/>. The model does not dispose them.</summary>
/// <param name="Sample">Noisy latents (B, C, F, H, W).</param>
/// <param name="Timestep">Diffusion timestep: a 0-d tensor (used for the whole batch) or one per batch element (B), int64 or float.</param>
/// <param name="EncoderHiddenStates">Text features (B, L, cross_attention_dim), or (B, F, L, cross_attention_dim) for one set per frame.</param>
public sealed record UNet3DConditionInput(Tensor Sample, Tensor Timestep, Tensor EncoderHiddenStates);

/// <summary>The output of <see cref="UNet3DConditionModel"/>; the caller owns (and disposes) the tensor.</summary>
/// <param name="Sample">The prediction (B, out_channels, F, H, W), e.g. the noise ε.</param>
public sealed record UNet3DConditionOutput(Tensor Sample);

/// <summary>
/// LaVie's base text-to-video <c>UNet3DConditionModel</c> (<c>base/models/unet.py</c>): SD v1.x's UNet with every conv
/// applied per frame and a temporal attention (rotary + relative position bias) in every transformer block. Keys match
/// the reference state dict (<c>lavie_base.pt</c>), including the 16 <c>…attn_temp.rotary_emb.freqs</c> constants.
/// The same class builds SEINE's UNet (<c>in_channels</c> 9) and, with <c>use_first_frame</c>, LaVie's interpolation UNet
/// (<c>in_channels</c> 8; sparse-causal <c>attn1</c>, position-free temporal attention after the feed-forward, no
/// rotary/bias keys); see <see cref="UNet3DConditionConfig"/>. VideoBooth's watermark branch is not part of it.
/// </summary>
public sealed class UNet3DConditionModel : nn.Module<UNet3DConditionInput, UNet3DConditionOutput>
{
    private readonly InflatedConv conv_in;
    private readonly Timesteps time_proj;
    private readonly TimestepEmbedding time_embedding;
    private readonly ModuleList<nn.Module<Tensor, Tensor, Tensor?, DownBlock3DOutput>> down_blocks;
    private readonly UNetMidBlock3DCrossAttn mid_block;
    private readonly ModuleList<nn.Module<Tensor, Tensor, IReadOnlyList<Tensor>, Tensor?, long[]?, Tensor>> up_blocks;
    private readonly GroupNorm conv_norm_out;
    private readonly InflatedConv conv_out;
    private readonly int _numUpsamplers;
    private readonly DecoderSkipHooks _skipHooks;

    /// <summary>Builds the model with freshly initialised weights (load real ones with <c>ModuleWeights.Load</c>).</summary>
    /// <param name="config">The config; validated here. 2-D block names are mapped to 3-D.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device (see <c>MetaDevice.Build</c> for a weightless build).</param>
    /// <exception cref="Core.Configuration.ConfigException">The config is invalid.</exception>
    /// <exception cref="NotSupportedException">The config uses an option this model does not implement.</exception>
    public UNet3DConditionModel(UNet3DConditionConfig config, ScalarType? dtype = null, Device? device = null)
        : base(nameof(UNet3DConditionModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config.Inflate();
        var c = Config;
        int n = c.BlockOutChannels.Length;
        long timeEmbedDim = c.BlockOutChannels[0] * 4L;

        // UNet3DConditionModel.__init__
        conv_in = new InflatedConv(c.InChannels, c.BlockOutChannels[0], 3, 1, 1, dtype, device);
        time_proj = new Timesteps(c.BlockOutChannels[0], c.FlipSinToCos, c.FreqShift);
        time_embedding = new TimestepEmbedding(c.BlockOutChannels[0], timeEmbedDim, dtype, device);

        var downs = new nn.Module<Tensor, Tensor, Tensor?, DownBlock3DOutput>[n];
        int outputChannel = c.BlockOutChannels[0];
        for (int i = 0; i < n; i++)
        {
            int inputChannel = outputChannel;
            outputChannel = c.BlockOutChannels[i];
            bool isFinal = i == n - 1;
            // get_down_block
            downs[i] = UNet3DConditionConfig.HasCrossAttention(c.DownBlockTypes[i])
                ? new CrossAttnDownBlock3D(
                    c.LayersPerBlock, inputChannel, outputChannel, timeEmbedDim, !isFinal, c.NormNumGroups, c.NormEps,
                    c.HeadsOf(i), c.CrossAttentionDim, c.DownsamplePadding, c.UseLinearProjection, c.UpcastAttention, dtype, device, c.UseFirstFrame)
                : new DownBlock3D(
                    c.LayersPerBlock, inputChannel, outputChannel, timeEmbedDim, !isFinal, c.NormNumGroups, c.NormEps,
                    c.DownsamplePadding, dtype, device);
        }

        down_blocks = nn.ModuleList(downs);
        mid_block = new UNetMidBlock3DCrossAttn(
            c.BlockOutChannels[^1], timeEmbedDim, c.NormNumGroups, c.NormEps, c.MidBlockScaleFactor, c.HeadsOf(n - 1),
            c.CrossAttentionDim, 1, c.UseLinearProjection, c.UpcastAttention, dtype, device, c.UseFirstFrame);

        var ups = new nn.Module<Tensor, Tensor, IReadOnlyList<Tensor>, Tensor?, long[]?, Tensor>[n];
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

            // get_up_block
            ups[i] = UNet3DConditionConfig.HasCrossAttention(c.UpBlockTypes[i])
                ? new CrossAttnUpBlock3D(
                    c.LayersPerBlock + 1, inputChannel, outputChannel, prevOutputChannel, timeEmbedDim, !isFinal, c.NormNumGroups, c.NormEps,
                    c.HeadsOf(n - 1 - i), c.CrossAttentionDim, c.UseLinearProjection, c.UpcastAttention, dtype, device, c.UseFirstFrame)
                : new UpBlock3D(
                    c.LayersPerBlock + 1, inputChannel, outputChannel, prevOutputChannel, timeEmbedDim, !isFinal, c.NormNumGroups, c.NormEps,
                    dtype, device);
        }

        up_blocks = nn.ModuleList(ups);
        _skipHooks = new DecoderSkipHooks(n);
        for (int i = 0; i < n; i++)
        {
            switch (ups[i])
            {
                case CrossAttnUpBlock3D cross:
                    (cross.SkipHooks, cross.UpBlockIndex) = (_skipHooks, i);
                    break;
                case UpBlock3D plain:
                    (plain.SkipHooks, plain.UpBlockIndex) = (_skipHooks, i);
                    break;
            }
        }

        conv_norm_out = Norms.GroupNorm(c.NormNumGroups, c.BlockOutChannels[0], c.NormEps, device, dtype);
        conv_out = new InflatedConv(c.BlockOutChannels[0], c.OutChannels, 3, 1, 1, dtype, device);
        RegisterComponents();
    }

    /// <summary>The validated config, with 3-D block names.</summary>
    public UNet3DConditionConfig Config { get; }

    /// <summary>
    /// Adds a decoder feature hook: from now on, every up block calls it just before each resnet concatenates the
    /// backbone features with a skip (FreeU's extension point; diffusers' <c>apply_freeu</c> call site). Hooks run in the
    /// order they were added, each on the previous one's result.
    /// </summary>
    /// <param name="hook">The hook.</param>
    /// <returns>A handle: dispose it to remove the hook (idempotent).</returns>
    /// <remarks>Not thread-safe: add and remove hooks on the thread that runs the model, between forward calls.</remarks>
    public IDisposable AddDecoderSkipHook(DecoderSkipHook hook) => _skipHooks.Add(hook);

    /// <summary>Predicts from noisy latents, a timestep and text features. Runs in its own dispose scope.</summary>
    /// <param name="input">Sample (B, C, F, H, W), timestep (0-d or (B)), text features (B, L, D) or per frame (B, F, L, D).</param>
    /// <returns>The prediction (B, out_channels, F, H, W), owned by the caller.</returns>
    /// <exception cref="ArgumentException">An input has the wrong rank or size; the message names it.</exception>
    public override UNet3DConditionOutput forward(UNet3DConditionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var sample = input.Sample;
        if (sample.ndim != 5 || sample.shape[1] != Config.InChannels)
        {
            throw new ArgumentException($"Sample must be (B, {Config.InChannels}, F, H, W); got [{string.Join(", ", sample.shape)}].", nameof(input));
        }

        if (input.Timestep.ndim > 1 || (input.Timestep.ndim == 1 && input.Timestep.shape[0] != 1 && input.Timestep.shape[0] != sample.shape[0]))
        {
            throw new ArgumentException($"Timestep must be 0-d or (B) with B = {sample.shape[0]}; got [{string.Join(", ", input.Timestep.shape)}].", nameof(input));
        }

        var ehs = input.EncoderHiddenStates;
        bool perFrame = ehs.ndim == 4 && ehs.shape[1] == sample.shape[2];
        if ((ehs.ndim != 3 && !perFrame) || ehs.shape[0] != sample.shape[0] || ehs.shape[^1] != Config.CrossAttentionDim)
        {
            throw new ArgumentException($"EncoderHiddenStates must be ({sample.shape[0]}, L, {Config.CrossAttentionDim}) or, per frame, ({sample.shape[0]}, {sample.shape[2]}, L, {Config.CrossAttentionDim}); got [{string.Join(", ", ehs.shape)}].", nameof(input));
        }

        // UNet3DConditionModel.forward
        using var scope = NewDisposeScope();
        long overallUpFactor = 1L << _numUpsamplers;
        bool forwardUpsampleSize = sample.shape[^2] % overallUpFactor != 0 || sample.shape[^1] % overallUpFactor != 0;

        if (Config.CenterInputSample)
        {
            sample = (2 * sample) - 1.0;
        }

        // 1. time
        var timesteps = input.Timestep.ndim == 0 ? input.Timestep.unsqueeze(0) : input.Timestep;
        timesteps = timesteps.to(sample.device).expand(sample.shape[0]);
        var tEmb = time_proj.forward(timesteps).to(conv_in.Weight.dtype);
        var emb = time_embedding.forward(tEmb);

        // 2. pre-process
        sample = conv_in.forward(sample);

        // 3. down
        var resSamples = new List<Tensor> { sample };
        foreach (var block in down_blocks)
        {
            var down = block.forward(sample, emb, ehs);
            sample = down.Sample;
            resSamples.AddRange(down.ResSamples);
        }

        // 4. mid
        sample = mid_block.forward(sample, emb, ehs);

        // 5. up
        for (int i = 0; i < up_blocks.Count; i++)
        {
            var block = up_blocks[i];
            bool isFinal = i == up_blocks.Count - 1;
            int count = Config.LayersPerBlock + 1;
            var skips = resSamples.GetRange(resSamples.Count - count, count);
            resSamples.RemoveRange(resSamples.Count - count, count);
            long[]? upsampleSize = !isFinal && forwardUpsampleSize ? resSamples[^1].shape[2..] : null;
            sample = block.forward(sample, emb, skips, ehs, upsampleSize);
        }

        // 6. post-process
        sample = conv_norm_out.forward(sample);
        sample = nn.functional.silu(sample);
        sample = conv_out.forward(sample);
        return new UNet3DConditionOutput(sample.MoveToOuterDisposeScope());
    }

    // FreeNoise's extension point; kept apart from the fields above.
    private TemporalWindowing? _temporalWindowing;

    /// <summary>
    /// FreeNoise's window fusion for every temporal attention of the model, or null (the default) for attention over all
    /// frames. Setting it sets <see cref="BasicTransformerBlock.TemporalWindowing"/> on each transformer block. A plugin
    /// switches it on for one call and restores the previous value in a <c>finally</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The windowing is invalid (see <see cref="TemporalWindowing.Validate"/>).</exception>
    /// <remarks>Not thread-safe: set it on the thread that runs the model, between forward calls.</remarks>
    public TemporalWindowing? TemporalWindowing
    {
        get => _temporalWindowing;
        set
        {
            value?.Validate();
            foreach (var block in modules().OfType<BasicTransformerBlock>())
            {
                block.TemporalWindowing = value;
            }

            _temporalWindowing = value;
        }
    }
}
