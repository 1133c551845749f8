using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// LaVie's <c>CrossAttnDownBlock3D</c> (<c>base/models/unet_blocks.py</c>): <c>resnets.i</c> each followed by
/// <c>attentions.i</c> (a <see cref="Transformer3DModel"/>), then an optional <c>downsamplers.0</c>.
/// </summary>
public sealed class CrossAttnDownBlock3D : nn.Module<Tensor, Tensor, Tensor?, DownBlock3DOutput>
{
    private readonly ModuleList<Transformer3DModel> attentions;
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
    /// <param name="downsamplePadding">Padding of the downsampler conv.</param>
    /// <param name="useLinearProjection">Linear proj_in/out in the transformers.</param>
    /// <param name="upcastAttention">Attention in float32.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    /// <param name="useFirstFrame">LaVie interpolation / VideoBooth transformer blocks (sparse-causal <c>attn1</c>, position-free temporal attention after the feed-forward); see <see cref="BasicTransformerBlock"/>.</param>
    public CrossAttnDownBlock3D(long numLayers, long inChannels, long outChannels, long tembChannels, bool addDownsample, long groups, double eps, long heads, long crossAttentionDim, long downsamplePadding = 1, bool useLinearProjection = false, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null, bool useFirstFrame = false)
        : base(nameof(CrossAttnDownBlock3D))
    {
        var res = new ResnetBlock3D[numLayers];
        var att = new Transformer3DModel[numLayers];
        for (int i = 0; i < numLayers; i++)
        {
            res[i] = new ResnetBlock3D(i == 0 ? inChannels : outChannels, outChannels, tembChannels, groups, eps, 1.0, dtype, device);
            att[i] = new Transformer3DModel(heads, outChannels / heads, outChannels, 1, groups, crossAttentionDim, useLinearProjection, upcastAttention, false, dtype, device, useFirstFrame);
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
