using TorchSharp;
using Vchitect.Models.Blocks;
using Vchitect.Models.Tests.UNets;
using Vchitect.TestUtilities;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.Blocks;

/// <summary>
/// The LaVie interpolation / VideoBooth block layout (use_first_frame): sparse-causal attn1 against a hand-written
/// reference, and the block order attn1 → attn2 → ff → position-free temporal attention.
/// </summary>
[Collection(UNetTorchState.Name)]
public sealed class FirstFrameBlockTests
{
    private static Dictionary<string, Tensor> Params(nn.Module m) =>
        m.named_parameters().ToDictionary(kv => kv.name, kv => (Tensor)kv.parameter, StringComparer.Ordinal);

    /// <summary>Per head: softmax(q kᵀ/√d) v, written out with matmul and softmax.</summary>
    private static Tensor Attend(Tensor q, Tensor k, Tensor v, long heads)
    {
        long d = q.shape[^1] / heads;
        var qh = q.view(q.shape[0], heads, d).transpose(0, 1);
        var kh = k.view(k.shape[0], heads, d).transpose(0, 1);
        var vh = v.view(v.shape[0], heads, d).transpose(0, 1);
        var p = (qh.matmul(kh.transpose(1, 2)) / Math.Sqrt(d)).softmax(-1);
        return p.matmul(vh).transpose(0, 1).reshape(q.shape[0], -1);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(2L)]
    [InlineData(5L)]
    public void Sparse_causal_attention_matches_a_hand_written_reference(long frames)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        const long b = 2, l = 6, c = 16, heads = 2;
        using var attn = new SparseCausalAttention(c, heads, c / heads);
        foreach (var (_, p) in attn.named_parameters())
        {
            using var noGrad = no_grad();
            p.copy_(randn_like(p) * 0.3);
        }

        var w = Params(attn);
        var x = randn(b * frames, l, c);
        var actual = attn.forward(x, frames);

        var expected = zeros(b * frames, l, c);
        for (long bi = 0; bi < b; bi++)
        {
            for (long f = 0; f < frames; f++)
            {
                var frame = x[bi * frames + f];
                var first = x[bi * frames];
                var previous = x[bi * frames + Math.Max(f - 1, 0)];
                var context = cat([first, previous], 0); // (2L, C): frame 0's tokens, then frame f-1's
                var q = frame.matmul(w["to_q.weight"].t());
                var k = context.matmul(w["to_k.weight"].t());
                var v = context.matmul(w["to_v.weight"].t());
                var h = Attend(q, k, v, heads);
                expected[bi * frames + f] = h.matmul(w["to_out.0.weight"].t()) + w["to_out.0.bias"];
            }
        }

        TensorAssert.Close(expected, actual, 1e-5, what: "sparse-causal attention");
        Assert.Equal(["to_k.weight", "to_out.0.bias", "to_out.0.weight", "to_q.weight", "to_v.weight"], w.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Sparse_causal_attention_rejects_a_batch_that_is_not_a_multiple_of_the_frames()
    {
        using var scope = NewDisposeScope();
        using var attn = new SparseCausalAttention(8, 1, 8);
        Assert.Throws<ArgumentException>(() => attn.forward(zeros(5, 3, 8), 2));
    }

    [Fact]
    public void First_frame_block_runs_attn1_attn2_ff_then_plain_temporal_attention()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        const long b = 2, frames = 3, l = 4, c = 32, heads = 2, ctxDim = 8;
        using var block = new BasicTransformerBlock(c, heads, c / heads, ctxDim, useFirstFrame: true);
        foreach (var (_, p) in block.named_parameters())
        {
            using var noGrad = no_grad();
            p.copy_(randn_like(p) * 0.2 + (p.dim() == 1 ? 0.5 : 0));
        }

        block.eval();
        var keys = block.state_dict().Keys.ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain(keys, k => k.Contains("rotary_emb", StringComparison.Ordinal) || k.Contains("time_rel_pos_bias", StringComparison.Ordinal));
        Assert.Contains("attn_temp.to_q.weight", keys);
        Assert.Contains("attn_temp.to_out.0.bias", keys);
        Assert.Contains("norm_temp.weight", keys);

        var x = randn(b * frames, l, c);
        var text = randn(b * frames, 5, ctxDim);
        var actual = block.forward(x, text, frames);

        var m = block.named_children().ToDictionary(kv => kv.name, kv => kv.module, StringComparer.Ordinal);
        Tensor Norm(string name, Tensor t) => ((nn.Module<Tensor, Tensor>)m[name]).forward(t);
        var h = ((SparseCausalAttention)m["attn1"]).forward(Norm("norm1", x), frames) + x;
        h = ((CrossAttention)m["attn2"]).forward(Norm("norm2", h), text) + h;
        h = ((FeedForward)m["ff"]).forward(Norm("norm3", h)) + h;
        var t = h.reshape(b, frames, l, c).transpose(1, 2).reshape(b * l, frames, c);
        t = ((CrossAttention)m["attn_temp"]).forward(Norm("norm_temp", t), null) + t;
        var expected = t.reshape(b, l, frames, c).transpose(1, 2).reshape(b * frames, l, c);

        TensorAssert.Close(expected, actual, 1e-5, what: "block output");
    }
}
