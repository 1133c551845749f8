using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// LaVie's spatial-temporal <c>BasicTransformerBlock</c>, eval path, on tokens (B·F, H·W, C). Two layouts with the same
/// module names:
/// <list type="bullet">
/// <item><description>LaVie base / SEINE (<c>base/models/attention.py</c>; <c>useFirstFrame</c> false):
/// x += attn1(norm1 x); x += attn2(norm2 x, text); regroup to (B·H·W, F, C) and x += attn_temp(norm_temp x), regroup
/// back; x += ff(norm3 x). <c>attn1</c> is a <see cref="CrossAttention"/>, <c>attn_temp</c> a
/// <see cref="TemporalAttention"/> (rotary + relative position bias).</description></item>
/// <item><description>LaVie interpolation / VideoBooth (<c>interpolation/models/attention.py</c>; <c>useFirstFrame</c>
/// true): x += attn1(norm1 x) with <c>attn1</c> a <see cref="SparseCausalAttention"/>; x += attn2(norm2 x, text);
/// x += ff(norm3 x); then the temporal attention <b>after</b> the feed-forward: regroup, x += attn_temp(norm_temp x),
/// regroup back, where <c>attn_temp</c> is a plain <see cref="CrossAttention"/> self-attention over frames with no
/// positional encoding (no <c>rotary_emb</c> / <c>time_rel_pos_bias</c> keys).</description></item>
/// </list>
/// </summary>
public sealed class BasicTransformerBlock : nn.Module<Tensor, Tensor?, long, Tensor>
{
    // CrossAttention, or SparseCausalAttention with use_first_frame (one field: the name is the checkpoint key).
    private readonly nn.Module attn1;
    private readonly LayerNorm norm1;
    private readonly CrossAttention? attn2;
    private readonly LayerNorm? norm2;
    // TemporalAttention, or a position-free CrossAttention with use_first_frame.
    private readonly nn.Module attn_temp;
    private readonly LayerNorm norm_temp;
    private readonly FeedForward ff;
    private readonly LayerNorm norm3;
    private readonly bool _useFirstFrame;
    private TemporalWindowing? _temporalWindowing;

    /// <summary>Creates the block.</summary>
    /// <param name="dim">Token width.</param>
    /// <param name="numAttentionHeads">Heads.</param>
    /// <param name="attentionHeadDim">Channels per head.</param>
    /// <param name="crossAttentionDim">Width of the text features, or null for no cross-attention (no <c>attn2</c>).</param>
    /// <param name="attentionBias">Whether q/k/v have a bias.</param>
    /// <param name="upcastAttention">Compute attention in float32.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    /// <param name="useFirstFrame">The LaVie interpolation / VideoBooth layout: sparse-causal <c>attn1</c> and a
    /// position-free temporal attention after the feed-forward (see the class summary). False: the LaVie base layout.</param>
    public BasicTransformerBlock(long dim, long numAttentionHeads, long attentionHeadDim, long? crossAttentionDim, bool attentionBias = false, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null, bool useFirstFrame = false)
        : base(nameof(BasicTransformerBlock))
    {
        _useFirstFrame = useFirstFrame;
        attn1 = useFirstFrame
            ? new SparseCausalAttention(dim, numAttentionHeads, attentionHeadDim, attentionBias, upcastAttention, dtype, device)
            : new CrossAttention(dim, null, numAttentionHeads, attentionHeadDim, attentionBias, upcastAttention, dtype, device);
        norm1 = nn.LayerNorm(dim, device: device, dtype: dtype);
        if (crossAttentionDim is not null)
        {
            attn2 = new CrossAttention(dim, crossAttentionDim, numAttentionHeads, attentionHeadDim, attentionBias, upcastAttention, dtype, device);
            norm2 = nn.LayerNorm(dim, device: device, dtype: dtype);
        }

        attn_temp = useFirstFrame
            ? new CrossAttention(dim, null, numAttentionHeads, attentionHeadDim, attentionBias, upcastAttention, dtype, device)
            : new TemporalAttention(dim, numAttentionHeads, attentionHeadDim, attentionBias, upcastAttention, dtype, device);
        norm_temp = nn.LayerNorm(dim, device: device, dtype: dtype);
        ff = new FeedForward(dim, 4, dtype, device);
        norm3 = nn.LayerNorm(dim, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>
    /// FreeNoise's window fusion of the temporal attention, or null (the default) for attention over all frames. When set,
    /// the temporal step x + attn_temp(norm_temp(x)) runs on each window of frames (the rotary and relative-position
    /// tables restart at 0 in every window) and the windows' results, residual included, are averaged per frame as
    /// FreeNoise-LaVie does (<c>base/models/attention.py</c>, <c>local_window</c>). Usually set for the whole model with
    /// <c>UNet3DConditionModel.TemporalWindowing</c>.
    /// </summary>
    public TemporalWindowing? TemporalWindowing
    {
        get => _temporalWindowing;
        set
        {
            value?.Validate();
            _temporalWindowing = value;
        }
    }

    /// <summary>Runs the block.</summary>
    /// <param name="hiddenStates">Tokens (B·F, H·W, C), frames varying fastest in the first axis.</param>
    /// <param name="encoderHiddenStates">Text features already repeated per frame (B·F, L, D), or null without <c>attn2</c>.</param>
    /// <param name="videoLength">F, the number of frames.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor? encoderHiddenStates, long videoLength)
    {
        // BasicTransformerBlock.forward (not self.training)
        using var scope = NewDisposeScope();
        var normed = norm1.forward(hiddenStates);
        var h = attn1 switch
        {
            SparseCausalAttention sparse => sparse.forward(normed, videoLength),
            CrossAttention dense => dense.forward(normed, null),
            _ => throw new InvalidOperationException("attn1 has an unexpected type."),
        } + hiddenStates;
        if (attn2 is not null)
        {
            h = attn2.forward(norm2!.forward(h), encoderHiddenStates) + h;
        }

        if (_useFirstFrame)
        {
            // interpolation/models/attention.py: feed-forward, then temporal attention
            h = ff.forward(norm3.forward(h)) + h;
            h = Temporal(h, videoLength);
        }
        else
        {
            h = Temporal(h, videoLength);
            h = ff.forward(norm3.forward(h)) + h;
        }

        return h.MoveToOuterDisposeScope();
    }

    private Tensor Temporal(Tensor h, long videoLength)
    {
        // "(b f) d c -> (b d) f c"
        long bf = h.shape[0], d = h.shape[1], c = h.shape[2], b = bf / videoLength;
        h = h.reshape(b, videoLength, d, c).transpose(1, 2).reshape(b * d, videoLength, c);
        h = _temporalWindowing is { } windowing ? windowing.Fuse(h, AttendOverFrames) : AttendOverFrames(h);

        // "(b d) f c -> (b f) d c"
        return h.reshape(b, d, videoLength, c).transpose(1, 2).reshape(bf, d, c);
    }

    // x + attn_temp(norm_temp(x)) on (B·H·W, F, C); norm_temp is per token, so normalising a window's slice equals
    // slicing the normalised frames as the reference does.
    private Tensor AttendOverFrames(Tensor h)
    {
        var normed = norm_temp.forward(h);
        return attn_temp switch
        {
            TemporalAttention positional => positional.forward(normed),
            CrossAttention plain => plain.forward(normed, null),
            _ => throw new InvalidOperationException("attn_temp has an unexpected type."),
        } + h;
    }
}
