using TorchSharp.Modules;
using Vchitect.Models.Blocks;
using static TorchSharp.torch;

namespace Vchitect.Models.UNets.Vsr;

/// <summary>
/// LaVie VSR's <c>CrossAttnDownBlock3D</c> (<c>vsr/models/unet_blocks.py</c>): <c>resnets.i</c> each followed by
/// <c>attentions.i</c> (a <see cref="VsrTransformer3DModel"/>), then an optional <c>downsamplers.0</c>.
/// </summary>
public sealed class VsrCrossAttnDownBlock3D : nn.Module<Tensor, Tensor, Tensor?, DownBlock3DOutput>
{
    private readonly ModuleList<VsrTransformer3DModel> attentions;
    private readonly ModuleList<ResnetBlock3D> resnets;
    private readonly ModuleList<Downsample3D>? downsamplers;

    /// <summary>Creates the block.</summary>
    /// <param name="numLayers">Resnets (and attentions).</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="tembChannels">Time embedding width.</param>
    /// <param name="addDownsample">Whether to end with a stride-2 conv.</param>
    /// <param name="groups">GroupNorm groups.</param>
    /// <param name="eps">Resnet GroupNorm epsilon.</param>
    /// <param name="heads">Attention heads (SD's <c>attention_head_dim</c>).</param>
    /// <param name="crossAttentionDim">Text feature width.</param>
    /// <param name="onlyCrossAttention">attn1 is a second cross-attention to the text.</param>
    /// <param name="downsamplePadding">Padding of the downsampler conv.</param>
    /// <param name="useLinearProjection">Linear proj_in/out in the transformers.</param>
    /// <param name="upcastAttention">Attention in float32.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public VsrCrossAttnDownBlock3D(long numLayers, long inChannels, long outChannels, long tembChannels, bool addDownsample, long groups, double eps, long heads, long crossAttentionDim, bool onlyCrossAttention, long downsamplePadding = 1, bool useLinearProjection = true, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null)
        : base(nameof(VsrCrossAttnDownBlock3D))
    {
        var res = new ResnetBlock3D[numLayers];
        var att = new VsrTransformer3DModel[numLayers];
        for (int i = 0; i < numLayers; i++)
        {
            res[i] = new ResnetBlock3D(i == 0 ? inChannels : outChannels, outChannels, tembChannels, groups, eps, 1.0, dtype, device);
            att[i] = new VsrTransformer3DModel(heads, outChannels / heads, outChannels, crossAttentionDim, onlyCrossAttention, groups, useLinearProjection, upcastAttention, dtype, device);
        }

        attentions = nn.ModuleList(att);
        resnets = nn.ModuleList(res);
        downsamplers = addDownsample ? nn.ModuleList(new Downsample3D(outChannels, downsamplePadding, dtype, device)) : null;
        RegisterComponents();
    }

    /// <summary>Runs the block.</summary>
    /// <param name="hiddenStates">Video features (B, C, F, H, W).</param>
    /// <param name="temb">Time embedding (B, temb).</param>
    /// <param name="encoderHiddenStates">Text features (B, L, D).</param>
    public override DownBlock3DOutput forward(Tensor hiddenStates, Tensor temb, Tensor? encoderHiddenStates)
    {
        // CrossAttnDownBlock3D.forward
        using var scope = NewDisposeScope();
        var outputs = new List<Tensor>();
        var h = hiddenStates;
        for (int i = 0; i < resnets.Count; i++)
        {
            h = resnets[i].forward(h, temb);
            h = attentions[i].forward(h, encoderHiddenStates);
            outputs.Add(h);
        }

        if (downsamplers is not null)
        {
            h = downsamplers[0].forward(h);
            outputs.Add(h);
        }

        foreach (var o in outputs)
        {
            o.MoveToOuterDisposeScope();
        }

        return new DownBlock3DOutput(h, outputs);
    }
}

/// <summary>
/// LaVie VSR's <c>CrossAttnUpBlock3D</c>: for each layer, concatenate the last remaining skip on channels,
/// <c>resnets.i</c>, then <c>attentions.i</c> (a <see cref="VsrTransformer3DModel"/>); then an optional <c>upsamplers.0</c>.
/// </summary>
public sealed class VsrCrossAttnUpBlock3D : nn.Module<Tensor, Tensor, IReadOnlyList<Tensor>, Tensor?, long[]?, Tensor>
{
    private readonly ModuleList<VsrTransformer3DModel> attentions;
    private readonly ModuleList<ResnetBlock3D> resnets;
    private readonly ModuleList<Upsample3D>? upsamplers;

    /// <summary>Creates the block.</summary>
    /// <param name="numLayers">Resnets (and attentions): layers_per_block + 1.</param>
    /// <param name="inChannels">Channels of the deepest skip this block consumes (its last layer's skip).</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="prevOutputChannels">Channels coming from the block below.</param>
    /// <param name="tembChannels">Time embedding width.</param>
    /// <param name="addUpsample">Whether to end with a ×2 upsampler.</param>
    /// <param name="groups">GroupNorm groups.</param>
    /// <param name="eps">Resnet GroupNorm epsilon.</param>
    /// <param name="heads">Attention heads.</param>
    /// <param name="crossAttentionDim">Text feature width.</param>
    /// <param name="onlyCrossAttention">attn1 is a second cross-attention to the text.</param>
    /// <param name="useLinearProjection">Linear proj_in/out.</param>
    /// <param name="upcastAttention">Attention in float32.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public VsrCrossAttnUpBlock3D(long numLayers, long inChannels, long outChannels, long prevOutputChannels, long tembChannels, bool addUpsample, long groups, double eps, long heads, long crossAttentionDim, bool onlyCrossAttention, bool useLinearProjection = true, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null)
        : base(nameof(VsrCrossAttnUpBlock3D))
    {
        var res = new ResnetBlock3D[numLayers];
        var att = new VsrTransformer3DModel[numLayers];
        for (int i = 0; i < numLayers; i++)
        {
            long resSkip = i == numLayers - 1 ? inChannels : outChannels;
            long resIn = i == 0 ? prevOutputChannels : outChannels;
            res[i] = new ResnetBlock3D(resIn + resSkip, outChannels, tembChannels, groups, eps, 1.0, dtype, device);
            att[i] = new VsrTransformer3DModel(heads, outChannels / heads, outChannels, crossAttentionDim, onlyCrossAttention, groups, useLinearProjection, upcastAttention, dtype, device);
        }

        attentions = nn.ModuleList(att);
        resnets = nn.ModuleList(res);
        upsamplers = addUpsample ? nn.ModuleList(new Upsample3D(outChannels, dtype, device)) : null;
        RegisterComponents();
    }

    /// <summary>Runs the block.</summary>
    /// <param name="hiddenStates">Video features from the block below (B, C, F, H, W).</param>
    /// <param name="temb">Time embedding (B, temb).</param>
    /// <param name="resHiddenStates">The skips for this block, in down-path order (the last is used first). Not disposed.</param>
    /// <param name="encoderHiddenStates">Text features (B, L, D).</param>
    /// <param name="upsampleSize">(F, H, W) for the upsampler, or null for ×2.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor temb, IReadOnlyList<Tensor> resHiddenStates, Tensor? encoderHiddenStates, long[]? upsampleSize)
    {
        // CrossAttnUpBlock3D.forward
        using var scope = NewDisposeScope();
        var h = hiddenStates;
        for (int i = 0; i < resnets.Count; i++)
        {
            var skip = resHiddenStates[resHiddenStates.Count - 1 - i];
            h = cat([h, skip], 1);
            h = resnets[i].forward(h, temb);
            h = attentions[i].forward(h, encoderHiddenStates);
        }

        if (upsamplers is not null)
        {
            h = upsamplers[0].forward(h, upsampleSize);
        }

        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>LaVie VSR's <c>UNetMidBlock3DCrossAttn</c>: <c>resnets.0</c>, then <c>attentions.0</c> (self-attention attn1) and <c>resnets.1</c>.</summary>
public sealed class VsrUNetMidBlock3DCrossAttn : nn.Module<Tensor, Tensor, Tensor?, Tensor>
{
    private readonly ModuleList<VsrTransformer3DModel> attentions;
    private readonly ModuleList<ResnetBlock3D> resnets;

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Channels (in = out).</param>
    /// <param name="tembChannels">Time embedding width.</param>
    /// <param name="groups">GroupNorm groups.</param>
    /// <param name="eps">Resnet GroupNorm epsilon.</param>
    /// <param name="outputScaleFactor">Resnet output scale (<c>mid_block_scale_factor</c>).</param>
    /// <param name="heads">Attention heads.</param>
    /// <param name="crossAttentionDim">Text feature width.</param>
    /// <param name="useLinearProjection">Linear proj_in/out.</param>
    /// <param name="upcastAttention">Attention in float32.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public VsrUNetMidBlock3DCrossAttn(long inChannels, long tembChannels, long groups, double eps, double outputScaleFactor, long heads, long crossAttentionDim, bool useLinearProjection = true, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null)
        : base(nameof(VsrUNetMidBlock3DCrossAttn))
    {
        resnets = nn.ModuleList(
            new ResnetBlock3D(inChannels, inChannels, tembChannels, groups, eps, outputScaleFactor, dtype, device),
            new ResnetBlock3D(inChannels, inChannels, tembChannels, groups, eps, outputScaleFactor, dtype, device));
        attentions = nn.ModuleList(new VsrTransformer3DModel(heads, inChannels / heads, inChannels, crossAttentionDim, false, groups, useLinearProjection, upcastAttention, dtype, device));
        RegisterComponents();
    }

    /// <summary>Runs the block.</summary>
    /// <param name="hiddenStates">Video features (B, C, F, H, W).</param>
    /// <param name="temb">Time embedding (B, temb).</param>
    /// <param name="encoderHiddenStates">Text features (B, L, D).</param>
    public override Tensor forward(Tensor hiddenStates, Tensor temb, Tensor? encoderHiddenStates)
    {
        // UNetMidBlock3DCrossAttn.forward
        using var scope = NewDisposeScope();
        var h = resnets[0].forward(hiddenStates, temb);
        h = attentions[0].forward(h, encoderHiddenStates);
        h = resnets[1].forward(h, temb);
        return h.MoveToOuterDisposeScope();
    }
}
