using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Core;

/// <summary>
/// A seeded source of noise that draws exactly what PyTorch's CPU generator draws for the same seed, so a seed
/// reproduces a Python result: <c>new RandomGenerator(s).Randn([2, 3])</c> equals
/// <c>g = torch.Generator().manual_seed(s); torch.randn(2, 3, generator=g)</c>.
/// </summary>
/// <remarks>
/// Noise is always drawn on the CPU and then moved to the target device, as diffusers' <c>randn_tensor</c> does,
/// so the same seed gives the same noise on every device. Draws advance the generator: call order matters,
/// exactly as in PyTorch. Not thread-safe.
/// </remarks>
public sealed class RandomGenerator : IDisposable
{
    private readonly Generator _generator;

    /// <summary>Creates a CPU generator seeded with <paramref name="seed"/> (<c>torch.Generator().manual_seed(seed)</c>).</summary>
    /// <param name="seed">Any 64-bit value; PyTorch reads it as an unsigned 64-bit seed.</param>
    public RandomGenerator(long seed)
    {
        Seed = seed;
        _generator = new Generator(unchecked((ulong)seed), CPU);
    }

    /// <summary>The seed this generator started from.</summary>
    public long Seed { get; }

    /// <summary>The underlying TorchSharp generator, for TorchSharp functions that take one.</summary>
    public Generator Generator => _generator;

    /// <summary>Picks a fresh non-negative seed (below 2^53, so it survives JSON and Python floats unchanged).</summary>
    public static long NewSeed() => System.Random.Shared.NextInt64(0, 1L << 53);

    /// <summary>Standard normal noise, as <c>torch.randn(shape, generator=g, dtype=dtype)</c> on the CPU, then moved to <paramref name="device"/>.</summary>
    /// <param name="shape">The shape; every dimension ≥ 0.</param>
    /// <param name="dtype">Element type of the draw (floating point); default float32. The draw itself is made in this type, as PyTorch does.</param>
    /// <param name="device">Where the result goes; null keeps it on the CPU.</param>
    /// <returns>A new tensor the caller owns.</returns>
    public Tensor Randn(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        ValidateShape(shape);
        RequireFloating(dtype);
        var noise = torch.randn(shape.ToArray(), dtype: dtype, device: CPU, generator: _generator);
        return MoveTo(noise, device);
    }

    /// <summary>Uniform noise in [0, 1), as <c>torch.rand(shape, generator=g, dtype=dtype)</c> on the CPU, then moved.</summary>
    /// <param name="shape">The shape; every dimension ≥ 0.</param>
    /// <param name="dtype">Element type of the draw (floating point); default float32.</param>
    /// <param name="device">Where the result goes; null keeps it on the CPU.</param>
    public Tensor Rand(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        ValidateShape(shape);
        RequireFloating(dtype);
        var noise = torch.rand(shape.ToArray(), dtype: dtype, device: CPU, generator: _generator);
        return MoveTo(noise, device);
    }

    /// <summary>A random permutation of 0..n−1 (int64), as <c>torch.randperm(n, generator=g)</c> on the CPU, then moved.</summary>
    /// <param name="n">Length of the permutation, ≥ 0.</param>
    /// <param name="device">Where the result goes; null keeps it on the CPU.</param>
    public Tensor Randperm(long n, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var perm = torch.randperm(n, generator: _generator, dtype: ScalarType.Int64, device: CPU);
        return MoveTo(perm, device);
    }

    /// <inheritdoc/>
    public void Dispose() => _generator.Dispose();

    private static Tensor MoveTo(Tensor t, Device? device)
    {
        if (device is null || device.type == DeviceType.CPU)
        {
            return t;
        }

        var moved = t.to(device);
        t.Dispose();
        return moved;
    }

    private static void ValidateShape(ReadOnlySpan<long> shape)
    {
        foreach (long d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(shape), $"Shape [{string.Join(", ", shape.ToArray())}] has a negative dimension.");
            }
        }
    }

    private static void RequireFloating(ScalarType dtype)
    {
        if (dtype is not (ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64))
        {
            throw new ArgumentException($"Noise must be drawn in a floating-point type; got {dtype}.", nameof(dtype));
        }
    }
}
