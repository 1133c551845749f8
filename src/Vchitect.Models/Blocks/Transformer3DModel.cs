using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// LaVie's <c>Transformer3DModel</c> (<c>base/models/attention.py</c>) on video features (B, C, F, H, W): frames folded
/// into the batch; GroupNorm (eps 1e-6) → <c>proj_in</c> (1×1 conv, or Linear with linear projection) → tokens
/// (B·F, H·W, C) → <c>transformer_blocks</c> → <c>proj_out</c> → + residual → unfolded.
/// </summary>
public sealed class Transformer3DModel : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly GroupNorm norm;
    private readonly nn.Module<Tensor, Tensor> proj_in;
    private readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    private readonly nn.Module<Tensor, Tensor> proj_out;
    private readonly bool _useLinearProjection;

    /// <summary>Creates the model.</summary>
    /// <param name="numAttentionHeads">Heads.</param>
    /// <param name="attentionHeadDim">Channels per head (heads × this = inner width).</param>
    /// <param name="inChannels">Channels of the video features.</param>
    /// <param name="numLayers">Transformer blocks (1 in LaVie).</param>
    /// <param name="normNumGroups">GroupNorm groups.</param>
    /// <param name="crossAttentionDim">Width of the text features, or null for no cross-attention.</param>
    /// <param name="useLinearProjection">Linear instead of 1×1 conv for <c>proj_in</c>/<c>proj_out</c>.</param>
    /// <param name="upcastAttention">Compute attention in float32.</param>
    /// <param name="attentionBias">Whether q/k/v have a bias.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    /// <param name="useFirstFrame">LaVie interpolation / VideoBooth transformer blocks (sparse-causal <c>attn1</c>, position-free temporal attention after the feed-forward); see <see cref="BasicTransformerBlock"/>.</param>
    public Transformer3DModel(long numAttentionHeads, long attentionHeadDim, long inChannels, long numLayers = 1, long normNumGroups = 32, long? crossAttentionDim = null, bool useLinearProjection = false, bool upcastAttention = false, bool attentionBias = false, ScalarType? dtype = null, Device? device = null, bool useFirstFrame = false)
        : base(nameof(Transformer3DModel))
    {
        long inner = numAttentionHeads * attentionHeadDim;
        _useLinearProjection = useLinearProjection;
        norm = Norms.GroupNorm(normNumGroups, inChannels, 1e-6, device, dtype);
        proj_in = useLinearProjection
            ? nn.Linear(inChannels, inner, true, device, dtype)
            : nn.Conv2d(inChannels, inner, 1, device: device, dtype: dtype);
        var blocks = new BasicTransformerBlock[numLayers];
        for (int i = 0; i < numLayers; i++)
        {
            blocks[i] = new BasicTransformerBlock(inner, numAttentionHeads, attentionHeadDim, crossAttentionDim, attentionBias, upcastAttention, dtype, device, useFirstFrame);
        }

        transformer_blocks = nn.ModuleList(blocks);

        // The reference builds the linear proj_out as Linear(in_channels, inner_dim); it only works when they are equal.
        proj_out = useLinearProjection
            ? nn.Linear(inChannels, inner, true, device, dtype)
            : nn.Conv2d(inner, inChannels, 1, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Runs the model on (B, C, F, H, W) with text features (B, L, D); returns (B, C, F, H, W).</summary>
    /// <param name="hiddenStates">The video features.</param>
    /// <param name="encoderHiddenStates">The text features: (B, L, D), repeated for every frame here, or (B, F, L, D), one set
    /// per frame (a per-frame prompt schedule, e.g. FreeNoise's multi-prompt); null without cross-attention.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor? encoderHiddenStates)
    {
        // Transformer3DModel.forward
        using var scope = NewDisposeScope();
        long b = hiddenStates.shape[0], c = hiddenStates.shape[1], f = hiddenStates.shape[2], height = hiddenStates.shape[3], width = hiddenStates.shape[4];
        var x = hiddenStates.permute(0, 2, 1, 3, 4).reshape(b * f, c, height, width);
        // frames vary fastest in the folded batch, so (B, F, L, D) folds to the same (b f) order
        var context = encoderHiddenStates is { ndim: 4 } perFrame
            ? perFrame.reshape(b * f, perFrame.shape[2], perFrame.shape[3])
            : encoderHiddenStates?.repeat_interleave(f, 0);
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
