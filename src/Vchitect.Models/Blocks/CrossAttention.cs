using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// Multi-head attention in the diffusers 0.11 <c>CrossAttention</c> layout used by LaVie (<c>base/models/attention.py</c>):
/// q from the hidden states, k and v from the context (or the hidden states for self-attention), no bias on q/k/v,
/// softmax(q·kᵀ/√d)·v per head, then <c>to_out.0</c> (Linear with bias). Computed with scaled_dot_product_attention.
/// </summary>
public sealed class CrossAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Linear to_q;
    private readonly Linear to_k;
    private readonly Linear to_v;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> to_out;
    private readonly long _heads;
    private readonly bool _upcastAttention;

    /// <summary>Creates the attention.</summary>
    /// <param name="queryDim">Width of the hidden states (and of the output).</param>
    /// <param name="crossAttentionDim">Width of the context, or null for self-attention (= <paramref name="queryDim"/>).</param>
    /// <param name="heads">Number of heads.</param>
    /// <param name="dimHead">Channels per head.</param>
    /// <param name="bias">Whether q/k/v have a bias (false in SD/LaVie).</param>
    /// <param name="upcastAttention">Compute the attention in float32 (SD 2.x option).</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public CrossAttention(long queryDim, long? crossAttentionDim, long heads, long dimHead, bool bias = false, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null)
        : base(nameof(CrossAttention))
    {
        long inner = heads * dimHead;
        long context = crossAttentionDim ?? queryDim;
        _heads = heads;
        _upcastAttention = upcastAttention;
        to_q = nn.Linear(queryDim, inner, bias, device, dtype);
        to_k = nn.Linear(context, inner, bias, device, dtype);
        to_v = nn.Linear(context, inner, bias, device, dtype);
        to_out = nn.ModuleList<nn.Module<Tensor, Tensor>>(nn.Linear(inner, queryDim, true, device, dtype));
        RegisterComponents();
    }

    /// <summary>Attends from (N, L, queryDim) to the context (N, S, contextDim), or to itself when the context is null.</summary>
    /// <param name="hiddenStates">The queries' source.</param>
    /// <param name="encoderHiddenStates">The keys' and values' source, or null for self-attention.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor? encoderHiddenStates)
    {
        // CrossAttention.forward / _attention (reshape_heads_to_batch_dim, baddbmm, softmax, bmm)
        using var scope = NewDisposeScope();
        var context = encoderHiddenStates ?? hiddenStates;
        var q = SplitHeads(to_q.forward(hiddenStates));
        var k = SplitHeads(to_k.forward(context));
        var v = SplitHeads(to_v.forward(context));
        var dtype = q.dtype;
        if (_upcastAttention && dtype != ScalarType.Float32)
        {
            q = q.to(ScalarType.Float32);
            k = k.to(ScalarType.Float32);
            v = v.to(ScalarType.Float32);
        }

        var h = nn.functional.scaled_dot_product_attention(q, k, v);
        h = h.to(dtype);
        long n = h.shape[0], l = h.shape[2];
        h = h.transpose(1, 2).reshape(n, l, -1);
        return to_out[0].forward(h).MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, -1).transpose(1, 2);
}
