using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// LaVie's temporal self-attention over frames (<c>TemporalAttention</c> in <c>base/models/attention.py</c>), eval path:
/// q, k, v (no bias) split into heads (N, heads, F, d); rotary embedding on the first 32 channels of each head of q and k;
/// softmax(q·kᵀ/√d + relative position bias)·v; then <c>to_out.0</c>. Keys: <c>to_q</c>, <c>to_k</c>, <c>to_v</c>,
/// <c>to_out.0</c>, <c>time_rel_pos_bias.relative_attention_bias</c>, <c>rotary_emb.freqs</c>.
/// </summary>
public sealed class TemporalAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear to_q;
    private readonly Linear to_k;
    private readonly Linear to_v;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> to_out;
    private readonly RelativePositionBias time_rel_pos_bias;
    private readonly RotaryEmbedding rotary_emb;
    private readonly long _heads;
    private readonly bool _upcastAttention;

    /// <summary>Creates the attention.</summary>
    /// <param name="queryDim">Width of the hidden states.</param>
    /// <param name="heads">Number of heads.</param>
    /// <param name="dimHead">Channels per head (at least 32, the rotary width).</param>
    /// <param name="bias">Whether q/k/v have a bias (false in LaVie).</param>
    /// <param name="upcastAttention">Compute the attention in float32.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimHead"/> is below 32.</exception>
    public TemporalAttention(long queryDim, long heads, long dimHead, bool bias = false, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null)
        : base(nameof(TemporalAttention))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimHead, 32L);
        long inner = heads * dimHead;
        _heads = heads;
        _upcastAttention = upcastAttention;
        to_q = nn.Linear(queryDim, inner, bias, device, dtype);
        to_k = nn.Linear(queryDim, inner, bias, device, dtype);
        to_v = nn.Linear(queryDim, inner, bias, device, dtype);
        to_out = nn.ModuleList<nn.Module<Tensor, Tensor>>(nn.Linear(inner, queryDim, true, device, dtype));
        time_rel_pos_bias = new RelativePositionBias(heads, 32, 32, dtype, device);
        rotary_emb = new RotaryEmbedding(32, dtype, device);
        RegisterComponents();
    }

    /// <summary>Attends over frames: (N, F, C) → (N, F, C), N = batch × spatial positions.</summary>
    /// <param name="hiddenStates">Tokens grouped per spatial position, frames on axis 1.</param>
    public override Tensor forward(Tensor hiddenStates)
    {
        // TemporalAttention.forward / _attention (eval path, no mask)
        using var scope = NewDisposeScope();
        long frames = hiddenStates.shape[1];
        var bias = time_rel_pos_bias.forward(frames);
        var q = SplitHeads(to_q.forward(hiddenStates));
        var k = SplitHeads(to_k.forward(hiddenStates));
        var v = SplitHeads(to_v.forward(hiddenStates));
        var dtype = q.dtype;
        if (_upcastAttention && dtype != ScalarType.Float32)
        {
            q = q.to(ScalarType.Float32);
            k = k.to(ScalarType.Float32);
        }

        // The reference scales q by d^-0.5 before the rotation; the rotation is linear, so scaling inside SDPA is the same.
        q = rotary_emb.forward(q);
        k = rotary_emb.forward(k);
        v = v.to(q.dtype);
        var h = nn.functional.scaled_dot_product_attention(q, k, v, bias.to(q.dtype));
        h = h.to(dtype);
        long n = h.shape[0];
        h = h.transpose(1, 2).reshape(n, frames, -1);
        return to_out[0].forward(h).MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, -1).transpose(1, 2);
}
