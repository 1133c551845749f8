using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// Sparse-causal spatial self-attention (<c>SparseCausalAttention</c> in LaVie's <c>interpolation/models/attention.py</c>
/// and VideoBooth's <c>models/attention.py</c>), the <c>attn1</c> of a block built with <c>use_first_frame</c>:
/// the queries of frame f come from frame f; its keys and values are the token-concatenation of frame 0 and frame
/// max(f − 1, 0) (so frame 0 attends to itself twice). The weights are those of a <see cref="CrossAttention"/>
/// self-attention, under the same keys: <c>to_q</c>, <c>to_k</c>, <c>to_v</c>, <c>to_out.0</c>.
/// </summary>
public sealed class SparseCausalAttention : nn.Module<Tensor, long, Tensor>
{
    private readonly Linear to_q;
    private readonly Linear to_k;
    private readonly Linear to_v;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> to_out;
    private readonly long _heads;
    private readonly bool _upcastAttention;

    /// <summary>Creates the attention.</summary>
    /// <param name="queryDim">Width of the hidden states (and of the output).</param>
    /// <param name="heads">Number of heads.</param>
    /// <param name="dimHead">Channels per head.</param>
    /// <param name="bias">Whether q/k/v have a bias (false in LaVie and VideoBooth).</param>
    /// <param name="upcastAttention">Compute the attention in float32.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public SparseCausalAttention(long queryDim, long heads, long dimHead, bool bias = false, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null)
        : base(nameof(SparseCausalAttention))
    {
        long inner = heads * dimHead;
        _heads = heads;
        _upcastAttention = upcastAttention;
        to_q = nn.Linear(queryDim, inner, bias, device, dtype);
        to_k = nn.Linear(queryDim, inner, bias, device, dtype);
        to_v = nn.Linear(queryDim, inner, bias, device, dtype);
        to_out = nn.ModuleList<nn.Module<Tensor, Tensor>>(nn.Linear(inner, queryDim, true, device, dtype));
        RegisterComponents();
    }

    /// <summary>Attends within (B·F, L, C) tokens, frames varying fastest in the first axis; returns (B·F, L, C).</summary>
    /// <param name="hiddenStates">Spatial tokens of every frame.</param>
    /// <param name="videoLength">F, the number of frames (must divide the first axis).</param>
    /// <exception cref="ArgumentException">The first axis is not a multiple of <paramref name="videoLength"/>.</exception>
    public override Tensor forward(Tensor hiddenStates, long videoLength)
    {
        // SparseCausalAttention.forward / _attention (no mask, no xformers)
        long bf = hiddenStates.shape[0], l = hiddenStates.shape[1];
        if (videoLength <= 0 || bf % videoLength != 0)
        {
            throw new ArgumentException($"The first axis ({bf}) must be a multiple of the frame count ({videoLength}).", nameof(videoLength));
        }

        using var scope = NewDisposeScope();
        long b = bf / videoLength;
        var q = SplitHeads(to_q.forward(hiddenStates));
        var k = SplitHeads(FirstAndPrevious(to_k.forward(hiddenStates), b, videoLength));
        var v = SplitHeads(FirstAndPrevious(to_v.forward(hiddenStates), b, videoLength));
        var dtype = q.dtype;
        if (_upcastAttention && dtype != ScalarType.Float32)
        {
            q = q.to(ScalarType.Float32);
            k = k.to(ScalarType.Float32);
            v = v.to(ScalarType.Float32);
        }

        var h = nn.functional.scaled_dot_product_attention(q, k, v);
        h = h.to(dtype);
        h = h.transpose(1, 2).reshape(bf, l, -1);
        return to_out[0].forward(h).MoveToOuterDisposeScope();
    }

    /// <summary>(B·F, L, C) → (B·F, 2L, C): for frame f, the tokens of frame 0 followed by those of frame max(f − 1, 0).</summary>
    private static Tensor FirstAndPrevious(Tensor x, long b, long frames)
    {
        long l = x.shape[1], c = x.shape[2];
        var perFrame = x.reshape(b, frames, l, c);
        var first = perFrame.narrow(1, 0, 1).expand(b, frames, l, c);
        var previous = frames == 1
            ? first
            : cat([perFrame.narrow(1, 0, 1), perFrame.narrow(1, 0, frames - 1)], 1);
        return cat([first, previous], 2).reshape(b * frames, 2 * l, c);
    }

    private Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, -1).transpose(1, 2);
}
