using Vchitect.Models.Blocks;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.Blocks;

public sealed class TemporalPositionTests
{
    [Fact]
    public void Relative_position_buckets_match_models_md()
    {
        // n = i − j for |n| = 0..15: 0–7, 8, 8, 9, 9, 10, 10, 11, 11 (models.md §2); negative n adds 16.
        long[] expected = [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 10, 11, 11];
        using var scope = NewDisposeScope();
        var n = arange(16L, dtype: ScalarType.Int64);
        // relative_position = key − query = −n
        long[] positive = RelativePositionBias.RelativePositionBucket(-n).data<long>().ToArray();
        long[] negative = RelativePositionBias.RelativePositionBucket(n).data<long>().ToArray();
        Assert.Equal(expected, positive);
        Assert.Equal(expected.Select((b, i) => i == 0 ? 0 : b + 16), negative);
    }

    [Fact]
    public void Buckets_saturate_at_15_beyond_max_distance()
    {
        using var scope = NewDisposeScope();
        var far = tensor(new long[] { -16, -20, -24, -31, -32, -100 });
        Assert.Equal([12L, 13, 14, 15, 15, 15], RelativePositionBias.RelativePositionBucket(far).data<long>().ToArray());
    }

    [Fact]
    public void Rotary_frequencies_are_the_fixed_constants()
    {
        using var scope = NewDisposeScope();
        var freqs = RotaryEmbedding.Frequencies(32, ScalarType.Float32);
        float[] values = freqs.data<float>().ToArray();
        Assert.Equal(16, values.Length);
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(1.0 / Math.Pow(10000, 2.0 * i / 32), values[i], 1e-7);
        }
    }

    [Fact]
    public void Rotary_rotates_interleaved_pairs_of_the_first_32_channels_only()
    {
        using var scope = NewDisposeScope();
        using var rotary = new RotaryEmbedding(32);
        var x = ones(1, 1, 3, 40);
        var y = rotary.forward(x);

        // Frame 0 is unrotated; channels 32.. pass through everywhere.
        Assert.Equal(0, (y[0, 0, 0] - x[0, 0, 0]).abs().max().item<float>(), 6);
        Assert.Equal(0, (y[.., .., .., 32..] - x[.., .., .., 32..]).abs().max().item<float>(), 6);

        // Frame 2, pair 0: angle 2·θ0 = 2 → (cos 2 − sin 2, cos 2 + sin 2).
        Assert.Equal(Math.Cos(2) - Math.Sin(2), y[0, 0, 2, 0].item<float>(), 5);
        Assert.Equal(Math.Cos(2) + Math.Sin(2), y[0, 0, 2, 1].item<float>(), 5);
    }
}
