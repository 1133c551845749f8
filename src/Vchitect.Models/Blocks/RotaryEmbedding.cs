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
        long seq = t.shape[^2];
        using var pos = arange(seq, dtype: freqs.dtype, device: freqs.device);
        using var outer = einsum("i,f->if", pos, freqs);
        using var angles = outer.repeat_interleave(2, 1);
        using var cosF = angles.cos();
        using var sinF = angles.sin();
        using var cos = cosF.to(t.dtype);
        using var sin = sinF.to(t.dtype);
        using var rot = t[TensorIndex.Ellipsis, TensorIndex.Slice(0, _dim)];
        using var pass = t[TensorIndex.Ellipsis, TensorIndex.Slice(_dim, null)];
        using var pairs = rot.unflatten(rot.ndim - 1, [_dim / 2, 2]);
        using var x1 = pairs[TensorIndex.Ellipsis, 0];
        using var x2 = pairs[TensorIndex.Ellipsis, 1];
        using var minusX2 = x2.neg();
        using var stacked = stack([minusX2, x1], -1);
        using var half = stacked.flatten(-2);
        using var a = rot * cos;
        using var b = half * sin;
        using var rotated = a + b;
        return cat([rotated, pass], -1);
    }
}
