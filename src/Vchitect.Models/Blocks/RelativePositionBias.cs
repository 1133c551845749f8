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
        ArgumentNullException.ThrowIfNull(relativePosition);
        long half = numBuckets / 2;
        long maxExact = half / 2;
        using var n = relativePosition.neg();
        using var negative = n.lt(0);
        using var negativeLong = negative.to(ScalarType.Int64);
        using var offset = negativeLong * half;
        using var m = n.abs();
        using var isSmall = m.lt(maxExact);
        using var mFloat = m.to(ScalarType.Float32);
        using var ratio = mFloat / maxExact;
        using var logRatio = ratio.log();
        using var scaled = logRatio / Math.Log((double)maxDistance / maxExact) * (half - maxExact);
        using var truncated = scaled.to(ScalarType.Int64);
        using var large = truncated + maxExact;
        using var cap = full_like(large, half - 1);
        using var valIfLarge = minimum(large, cap);
        using var bucket = where(isSmall, m, valIfLarge);
        return offset + bucket;
    }

    /// <summary>Returns the bias (heads, n, n) for <paramref name="n"/> frames.</summary>
    /// <param name="n">Number of frames.</param>
    public override Tensor forward(long n)
    {
        // RelativePositionBias.forward
        var device = relative_attention_bias.weight!.device;
        using var qPos = arange(n, dtype: ScalarType.Int64, device: device);
        using var kPos = arange(n, dtype: ScalarType.Int64, device: device);
        using var k = kPos.unsqueeze(0);
        using var q = qPos.unsqueeze(1);
        using var relPos = k - q;
        using var bucket = RelativePositionBucket(relPos, _numBuckets, _maxDistance);
        using var values = relative_attention_bias.forward(bucket);
        return values.permute(2, 0, 1);
    }
}
