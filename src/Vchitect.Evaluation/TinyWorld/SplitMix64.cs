namespace Vchitect.Evaluation.TinyWorld;

/// <summary>
/// Steele, Lea and Flood's SplitMix64 generator: a 64-bit counter advanced by the golden-ratio increment and
/// scrambled by a fixed mixer. Used instead of <see cref="Random"/> so that the world's clips are the same bytes on
/// every .NET version and platform.
/// </summary>
internal struct SplitMix64
{
    private ulong _state;

    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>A generator for a tuple of values (seed, stream...), each mixed in turn.</summary>
    public static SplitMix64 For(long seed, params ReadOnlySpan<long> streams)
    {
        ulong s = Mix(unchecked((ulong)seed) + 0x9E3779B97F4A7C15UL);
        foreach (long stream in streams)
        {
            s = Mix(s ^ Mix(unchecked((ulong)stream) + 0xD1B54A32D192ED03UL));
        }

        return new SplitMix64(s);
    }

    public ulong NextUInt64()
    {
        _state = unchecked(_state + 0x9E3779B97F4A7C15UL);
        return Mix(_state);
    }

    /// <summary>A double uniform in [0, 1), from the top 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A double uniform in [min, max).</summary>
    public double Uniform(double min, double max) => min + ((max - min) * NextDouble());

    /// <summary>An integer uniform in [0, count), by rejection so that it has no modulo bias.</summary>
    public int NextInt(int count)
    {
        ulong n = (ulong)count;
        ulong limit = ulong.MaxValue - (ulong.MaxValue % n);
        ulong x;
        do
        {
            x = NextUInt64();
        }
        while (x >= limit);
        return (int)(x % n);
    }

    private static ulong Mix(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
