using TorchSharp.Modules;
using Vchitect.Models.Blocks;
using static TorchSharp.torch;

namespace Vchitect.Models.UNets.Vsr;

/// <summary>
/// LaVie VSR's <c>BasicTransformerBlock</c> (<c>vsr/models/attention.py</c>), eval path, on tokens (B·F, H·W, C):
/// x += attn1(norm1 x) (self-attention, or a cross-attention to the text when <c>only_cross_attention</c>);
/// x += attn2(norm2 x, text); regroup to (B·H·W, F, C) and x += attn_temporal(norm_temporal x) (rotary + relative
/// position bias, see <see cref="TemporalAttention"/>), regroup back; x += ff(norm3 x). <c>attn_temporal.to_out.0.weight</c>
/// starts at zero, as in the reference.
/// </summary>
public sealed class VsrBasicTransformerBlock : nn.Module<Tensor, Tensor?, long, Tensor>
{
    private readonly CrossAttention attn1;
    private readonly LayerNorm norm1;
    private readonly CrossAttention attn2;
    private readonly LayerNorm norm2;
    private readonly TemporalAttention attn_temporal;
    private readonly LayerNorm norm_temporal;
    private readonly FeedForward ff;
    private readonly LayerNorm norm3;
    private readonly bool _onlyCrossAttention;

    /// <summary>Creates the block.</summary>
    /// <param name="dim">Token width.</param>
    /// <param name="numAttentionHeads">Heads.</param>
    /// <param name="attentionHeadDim">Channels per head (at least 32).</param>
    /// <param name="crossAttentionDim">Width of the text features.</param>
    /// <param name="onlyCrossAttention">attn1 attends to the text too (keys/values from <paramref name="crossAttentionDim"/>).</param>
    /// <param name="upcastAttention">Compute attention in float32.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public VsrBasicTransformerBlock(long dim, long numAttentionHeads, long attentionHeadDim, long crossAttentionDim, bool onlyCrossAttention, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null)
        : base(nameof(VsrBasicTransformerBlock))
    {
        _onlyCrossAttention = onlyCrossAttention;
        attn1 = new CrossAttention(dim, onlyCrossAttention ? crossAttentionDim : null, numAttentionHeads, attentionHeadDim, false, upcastAttention, dtype, device);
        norm1 = nn.LayerNorm(dim, device: device, dtype: dtype);
        attn2 = new CrossAttention(dim, crossAttentionDim, numAttentionHeads, attentionHeadDim, false, upcastAttention, dtype, device);
        norm2 = nn.LayerNorm(dim, device: device, dtype: dtype);
        attn_temporal = new TemporalAttention(dim, numAttentionHeads, attentionHeadDim, false, upcastAttention, dtype, device);
        using (no_grad())
        {
            // nn.init.zeros_(self.attn_temporal.to_out[0].weight.data)
            foreach (var (name, p) in attn_temporal.named_parameters())
            {
                if (name == "to_out.0.weight")
                {
                    p.zero_();
                }
            }
        }

        norm_temporal = nn.LayerNorm(dim, device: device, dtype: dtype);
        ff = new FeedForward(dim, 4, dtype, device);
        norm3 = nn.LayerNorm(dim, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Runs the block.</summary>
    /// <param name="hiddenStates">Tokens (B·F, H·W, C), frames varying fastest in the first axis.</param>
    /// <param name="encoderHiddenStates">Text features already repeated per frame (B·F, L, D).</param>
    /// <param name="videoLength">F, the number of frames.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor? encoderHiddenStates, long videoLength)
    {
        // BasicTransformerBlock.forward (use_first_frame False, no ada norm)
        using var scope = NewDisposeScope();
        var h = attn1.forward(norm1.forward(hiddenStates), _onlyCrossAttention ? encoderHiddenStates : null) + hiddenStates;
        h = attn2.forward(norm2.forward(h), encoderHiddenStates) + h;

        // "(b f) d c -> (b d) f c"
        long bf = h.shape[0], d = h.shape[1], c = h.shape[2], b = bf / videoLength;
        h = h.reshape(b, videoLength, d, c).transpose(1, 2).reshape(b * d, videoLength, c);
        h = attn_temporal.forward(norm_temporal.forward(h)) + h;

        // "(b d) f c -> (b f) d c"
        h = h.reshape(b, d, videoLength, c).transpose(1, 2).reshape(bf, d, c);
        h = ff.forward(norm3.forward(h)) + h;
        return h.MoveToOuterDisposeScope();
    }
}
