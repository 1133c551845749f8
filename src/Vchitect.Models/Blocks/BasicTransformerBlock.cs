using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// LaVie's spatial-temporal <c>BasicTransformerBlock</c> (<c>base/models/attention.py</c>), eval path, on tokens
/// (B·F, H·W, C): x += attn1(norm1 x); x += attn2(norm2 x, text); regroup to (B·H·W, F, C) and
/// x += attn_temp(norm_temp x), regroup back; x += ff(norm3 x).
/// </summary>
public sealed class BasicTransformerBlock : nn.Module<Tensor, Tensor?, long, Tensor>
{
    private readonly CrossAttention attn1;
    private readonly LayerNorm norm1;
    private readonly CrossAttention? attn2;
    private readonly LayerNorm? norm2;
    private readonly TemporalAttention attn_temp;
    private readonly LayerNorm norm_temp;
    private readonly FeedForward ff;
    private readonly LayerNorm norm3;

    /// <summary>Creates the block.</summary>
    /// <param name="dim">Token width.</param>
    /// <param name="numAttentionHeads">Heads.</param>
    /// <param name="attentionHeadDim">Channels per head.</param>
    /// <param name="crossAttentionDim">Width of the text features, or null for no cross-attention (no <c>attn2</c>).</param>
    /// <param name="attentionBias">Whether q/k/v have a bias.</param>
    /// <param name="upcastAttention">Compute attention in float32.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public BasicTransformerBlock(long dim, long numAttentionHeads, long attentionHeadDim, long? crossAttentionDim, bool attentionBias = false, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null)
        : base(nameof(BasicTransformerBlock))
    {
        attn1 = new CrossAttention(dim, null, numAttentionHeads, attentionHeadDim, attentionBias, upcastAttention, dtype, device);
        norm1 = nn.LayerNorm(dim, device: device, dtype: dtype);
        if (crossAttentionDim is not null)
        {
            attn2 = new CrossAttention(dim, crossAttentionDim, numAttentionHeads, attentionHeadDim, attentionBias, upcastAttention, dtype, device);
            norm2 = nn.LayerNorm(dim, device: device, dtype: dtype);
        }

        attn_temp = new TemporalAttention(dim, numAttentionHeads, attentionHeadDim, attentionBias, upcastAttention, dtype, device);
        norm_temp = nn.LayerNorm(dim, device: device, dtype: dtype);
        ff = new FeedForward(dim, 4, dtype, device);
        norm3 = nn.LayerNorm(dim, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Runs the block.</summary>
    /// <param name="hiddenStates">Tokens (B·F, H·W, C), frames varying fastest in the first axis.</param>
    /// <param name="encoderHiddenStates">Text features already repeated per frame (B·F, L, D), or null without <c>attn2</c>.</param>
    /// <param name="videoLength">F, the number of frames.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor? encoderHiddenStates, long videoLength)
    {
        // BasicTransformerBlock.forward (not self.training)
        using var scope = NewDisposeScope();
        var h = attn1.forward(norm1.forward(hiddenStates), null) + hiddenStates;
        if (attn2 is not null)
        {
            h = attn2.forward(norm2!.forward(h), encoderHiddenStates) + h;
        }

        // "(b f) d c -> (b d) f c"
        long bf = h.shape[0], d = h.shape[1], c = h.shape[2], b = bf / videoLength;
        h = h.reshape(b, videoLength, d, c).transpose(1, 2).reshape(b * d, videoLength, c);
        h = attn_temp.forward(norm_temp.forward(h)) + h;

        // "(b d) f c -> (b f) d c"
        h = h.reshape(b, d, videoLength, c).transpose(1, 2).reshape(bf, d, c);
        h = ff.forward(norm3.forward(h)) + h;
        return h.MoveToOuterDisposeScope();
    }
}
