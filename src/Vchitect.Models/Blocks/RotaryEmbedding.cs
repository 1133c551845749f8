using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// Rotary position embedding as <c>rotary_embedding_torch.RotaryEmbedding(dim)</c> (0.3.5) uses it in LaVie:
/// θ_i = 10000^(−2i/dim) (the <c>freqs</c> tensor, stored in checkpoints), each repeated twice
/// ([θ0, θ0, θ1, θ1, …]); the first <c>dim</c> channels are rotated pairwise (interleaved, GPT-J style) by pos·θ
/// along the sequence axis (−2), the rest pass through.
/// </summary>
public sealed class RotaryEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Tensor freqs;
    private readonly long _dim;

    /// <summary>Creates the embedding with its fixed frequencies.</summary>
    /// <param name="dim">Rotated channels (even; 32 in LaVie).</param>
    /// <param name="dtype">dtype of <c>freqs</c>; null for the default dtype.</param>
    /// <param name="device">Device of <c>freqs</c>; null for the default device.</param>
    public RotaryEmbedding(long dim = 32, ScalarType? dtype = null, Device? device = null)
        : base(nameof(RotaryEmbedding))
    {
        _dim = dim;
        freqs = Frequencies(dim, dtype ?? get_default_dtype(), device);
        RegisterComponents();
    }

    /// <summary>The fixed frequencies 1/10000^(2i/dim), i &lt; dim/2, as a new tensor.</summary>
    /// <param name="dim">Rotated channels.</param>
    /// <param name="dtype">Result dtype.</param>
    /// <param name="device">Result device; null for the default device.</param>
    public static Tensor Frequencies(long dim, ScalarType dtype, Device? device = null)
    {
        double[] values = new double[dim / 2];
        for (int i = 0; i < values.Length; i++)
        {
            // 1. / (theta ** (torch.arange(0, dim, 2)[:(dim // 2)].float() / dim)), computed in float32
            values[i] = 1.0f / MathF.Pow(10000f, (float)(2 * i) / dim);
        }

        using var cpu = tensor(values, ScalarType.Float32);
        return cpu.to(dtype, device ?? get_default_device()).DetachFromDisposeScope();
    }

    /// <summary>Rotates the first <c>dim</c> channels of (…, seq, channels) by position along axis −2 (<c>rotate_queries_or_keys</c>).</summary>
    /// <param name="t">Queries or keys; channels must be at least <c>dim</c>.</param>
    public override Tensor forward(Tensor t)
    {
        // RotaryEmbedding.rotate_queries_or_keys → forward(arange(seq)) → apply_rotary_emb
        using var scope = NewDisposeScope();
        long seq = t.shape[^2];
        var pos = arange(seq, dtype: freqs.dtype, device: freqs.device);
        var angles = einsum("i,f->if", pos, freqs).repeat_interleave(2, 1);
        var cos = angles.cos().to(t.dtype);
        var sin = angles.sin().to(t.dtype);
        var rot = t[TensorIndex.Ellipsis, TensorIndex.Slice(0, _dim)];
        var pass = t[TensorIndex.Ellipsis, TensorIndex.Slice(_dim, null)];
        var pairs = rot.unflatten(rot.ndim - 1, [_dim / 2, 2]);
        var x1 = pairs[TensorIndex.Ellipsis, 0];
        var x2 = pairs[TensorIndex.Ellipsis, 1];
        var half = stack([-x2, x1], -1).flatten(-2);
        var rotated = rot * cos + half * sin;
        return cat([rotated, pass], -1).MoveToOuterDisposeScope();
    }
}
