using Vchitect.Core;
using static TorchSharp.torch;

namespace Vchitect.Training;

/// <summary>Caption dropout for classifier-free guidance: each caption independently becomes "" with a probability.</summary>
public static class CaptionDropout
{
    /// <summary>Replaces each caption by the empty string with probability <paramref name="probability"/>.</summary>
    /// <param name="captions">The captions.</param>
    /// <param name="probability">The drop probability, in [0, 1].</param>
    /// <param name="generator">The source of the uniform draws (one per caption, float64).</param>
    /// <returns>A new list, same length.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The probability is outside [0, 1].</exception>
    public static IReadOnlyList<string> Apply(IReadOnlyList<string> captions, double probability, RandomGenerator generator)
    {
        ArgumentNullException.ThrowIfNull(captions);
        ArgumentNullException.ThrowIfNull(generator);
        if (!(probability is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "probability must be in [0, 1].");
        }

        if (captions.Count == 0)
        {
            return [];
        }

        using var u = generator.Rand([captions.Count], ScalarType.Float64);
        var draws = u.data<double>().ToArray();
        return captions.Select((c, i) => draws[i] < probability ? string.Empty : c).ToList();
    }
}
