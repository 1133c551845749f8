using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// T5-style bucketed relative position bias over frames (LaVie's <c>RelativePositionBias</c>): with n = i − j (query minus
/// key), bucket = (num_buckets/2)·[n &lt; 0] + b(|n|), b(m) = m for m &lt; num_buckets/4, else
/// min(num_buckets/2 − 1, num_buckets/4 + ⌊ln(m/(num_buckets/4)) / ln(max_distance/(num_buckets/4)) · num_buckets/4⌋);
/// the bias is looked up in <c>relative_attention_bias</c> (Embedding(num_buckets, heads)).
/// </summary>
public sealed class RelativePositionBias : nn.Module<long, Tensor>
{
    private readonly Embedding relative_attention_bias;
    private readonly long _numBuckets;
    private readonly long _maxDistance;

    /// <summary>Creates the bias table.</summary>
    /// <param name="heads">Attention heads.</param>
    /// <param name="numBuckets">Buckets (32).</param>
    /// <param name="maxDistance">Distance at which buckets saturate (LaVie passes 32).</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public RelativePositionBias(long heads, long numBuckets = 32, long maxDistance = 32, ScalarType? dtype = null, Device? device = null)
        : base(nameof(RelativePositionBias))
    {
        _numBuckets = numBuckets;
        _maxDistance = maxDistance;
        relative_attention_bias = nn.Embedding(numBuckets, heads, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>
    /// The bucket of each relative position (<c>_relative_position_bucket</c>), computed as the reference does
    /// (float32 log, truncation toward zero).
    /// </summary>
    /// <param name="relativePosition">Key position minus query position (int64).</param>
    /// <param name="numBuckets">Buckets.</param>
    /// <param name="maxDistance">Saturation distance.</param>
    public static Tensor RelativePositionBucket(Tensor relativePosition, long numBuckets = 32, long maxDistance = 32)
    {
        // RelativePositionBias._relative_position_bucket
        using var scope = NewDisposeScope();
        var n = -relativePosition;
        long half = numBuckets / 2;
        var ret = n.lt(0).to(ScalarType.Int64) * half;
        n = n.abs();
        long maxExact = half / 2;
        var isSmall = n.lt(maxExact);
        var large = (n.to(ScalarType.Float32) / maxExact).log() / Math.Log((double)maxDistance / maxExact) * (half - maxExact);
        var valIfLarge = large.to(ScalarType.Int64) + maxExact;
        valIfLarge = minimum(valIfLarge, full_like(valIfLarge, half - 1));
        ret = ret + where(isSmall, n, valIfLarge);
        return ret.MoveToOuterDisposeScope();
    }

    /// <summary>Returns the bias (heads, n, n) for <paramref name="n"/> frames.</summary>
    /// <param name="n">Number of frames.</param>
    public override Tensor forward(long n)
    {
        // RelativePositionBias.forward
        using var scope = NewDisposeScope();
        var device = relative_attention_bias.weight!.device;
        var qPos = arange(n, dtype: ScalarType.Int64, device: device);
        var kPos = arange(n, dtype: ScalarType.Int64, device: device);
        var relPos = kPos.unsqueeze(0) - qPos.unsqueeze(1);
        var bucket = RelativePositionBucket(relPos, _numBuckets, _maxDistance);
        var values = relative_attention_bias.forward(bucket);
        return values.permute(2, 0, 1).MoveToOuterDisposeScope();
    }
}
