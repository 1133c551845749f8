using TorchSharp.Modules;
using Vchitect.Models.Blocks;
using static TorchSharp.torch;

namespace Vchitect.Models.UNets.Vsr;

/// <summary>
/// LaVie VSR's <c>Transformer3DModel</c> (<c>vsr/models/attention.py</c>) on (B, C, F, H, W): first
/// <c>resblock_temporal</c> (a <see cref="ResnetBlock3DCNN"/>, kernel (3, 1, 1), no time embedding); then, with that as the
/// residual, frames folded into the batch, GroupNorm (eps 1e-6) → <c>proj_in</c> (Linear, or 1×1 conv) → tokens →
/// <c>transformer_blocks</c> (<see cref="VsrBasicTransformerBlock"/>) → <c>proj_out</c> → + residual → unfolded.
/// </summary>
public sealed class VsrTransformer3DModel : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly ResnetBlock3DCNN resblock_temporal;
    private readonly GroupNorm norm;
    private readonly nn.Module<Tensor, Tensor> proj_in;
    private readonly ModuleList<VsrBasicTransformerBlock> transformer_blocks;
    private readonly nn.Module<Tensor, Tensor> proj_out;
    private readonly bool _useLinearProjection;

    /// <summary>Creates the model.</summary>
    /// <param name="numAttentionHeads">Heads.</param>
    /// <param name="attentionHeadDim">Channels per head (heads × this must equal <paramref name="inChannels"/>).</param>
    /// <param name="inChannels">Channels of the video features (a multiple of 32).</param>
    /// <param name="crossAttentionDim">Width of the text features.</param>
    /// <param name="onlyCrossAttention">attn1 is a cross-attention to the text.</param>
    /// <param name="normNumGroups">GroupNorm groups of <c>norm</c>.</param>
    /// <param name="useLinearProjection">Linear instead of 1×1 conv for <c>proj_in</c>/<c>proj_out</c>.</param>
    /// <param name="upcastAttention">Compute attention in float32.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public VsrTransformer3DModel(long numAttentionHeads, long attentionHeadDim, long inChannels, long crossAttentionDim, bool onlyCrossAttention, long normNumGroups = 32, bool useLinearProjection = true, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null)
        : base(nameof(VsrTransformer3DModel))
    {
        long inner = numAttentionHeads * attentionHeadDim;
        ArgumentOutOfRangeException.ThrowIfNotEqual(inner, inChannels, nameof(attentionHeadDim));
        _useLinearProjection = useLinearProjection;
        resblock_temporal = new ResnetBlock3DCNN(inChannels, inChannels, 3, null, 32, 1e-6, dtype, device);
        norm = Norms.GroupNorm(normNumGroups, inChannels, 1e-6, device, dtype);
        proj_in = useLinearProjection
            ? nn.Linear(inChannels, inner, true, device, dtype)
            : nn.Conv2d(inChannels, inner, 1, device: device, dtype: dtype);
        transformer_blocks = nn.ModuleList(new VsrBasicTransformerBlock(inner, numAttentionHeads, attentionHeadDim, crossAttentionDim, onlyCrossAttention, upcastAttention, dtype, device));

        // The reference builds the linear proj_out as Linear(in_channels, inner_dim) (equal here).
        proj_out = useLinearProjection
            ? nn.Linear(inChannels, inner, true, device, dtype)
            : nn.Conv2d(inner, inChannels, 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Runs the model on (B, C, F, H, W) with text features (B, L, D); returns (B, C, F, H, W).</summary>
    /// <param name="hiddenStates">The video features.</param>
    /// <param name="encoderHiddenStates">The text features (repeated per frame here).</param>
    public override Tensor forward(Tensor hiddenStates, Tensor? encoderHiddenStates)
    {
        // Transformer3DModel.forward (vsr)
        using var scope = NewDisposeScope();
        var video = resblock_temporal.forward(hiddenStates, null);
        long b = video.shape[0], c = video.shape[1], f = video.shape[2], height = video.shape[3], width = video.shape[4];
        var x = video.permute(0, 2, 1, 3, 4).reshape(b * f, c, height, width);
        var context = encoderHiddenStates?.repeat_interleave(f, 0);
        var residual = x;
        var h = norm.forward(x);
        long inner;
        if (!_useLinearProjection)
        {
            h = proj_in.forward(h);
            inner = h.shape[1];
            h = h.permute(0, 2, 3, 1).reshape(b * f, height * width, inner);
        }
        else
        {
            inner = h.shape[1];
            h = h.permute(0, 2, 3, 1).reshape(b * f, height * width, inner);
            h = proj_in.forward(h);
        }

        foreach (var block in transformer_blocks)
        {
            h = block.forward(h, context, f);
        }

        if (!_useLinearProjection)
        {
            h = h.reshape(b * f, height, width, inner).permute(0, 3, 1, 2);
            h = proj_out.forward(h);
        }
        else
        {
            h = proj_out.forward(h);
            h = h.reshape(b * f, height, width, inner).permute(0, 3, 1, 2);
        }

        var output = h + residual;
        return output.reshape(b, f, c, height, width).permute(0, 2, 1, 3, 4).MoveToOuterDisposeScope();
    }
}
