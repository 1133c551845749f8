using Vchitect.Pipelines.Plugins;
using static TorchSharp.torch;

namespace Vchitect.Parity.Checkers;

/// <summary>
/// <c>freeinit</c>: for every filter of <c>config.filters</c> (<c>name: [type, n, d_s, d_t]</c>), the low-pass filter
/// (<see cref="FreeInit.LowPassFilter"/>, tolerance 1e-6: evaluated in double, stored as float) and
/// <c>freq_mix_3d(in.x, in.noise, filter)</c> (<see cref="FreeInit.FrequencyMix"/>, tolerance 1e-5).
/// </summary>
public sealed class FreeInitChecker : IParityChecker
{
    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["freeinit"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        var results = new List<ParityResult>();
        using var scope = NewDisposeScope();
        var x = fixture.In("x");
        var noise = fixture.In("noise");
        var outputs = fixture.Outputs.ToHashSet(StringComparer.Ordinal);
        foreach (var entry in fixture.Config.GetProperty("filters").EnumerateObject())
        {
            string name = entry.Name;
            var spec = entry.Value.EnumerateArray().ToArray();
            var type = spec[0].GetString() switch
            {
                "gaussian" => FreeInitFilter.Gaussian,
                "butterworth" => FreeInitFilter.Butterworth,
                "ideal" => FreeInitFilter.Ideal,
                "box" => FreeInitFilter.Box,
                var other => throw new NotSupportedException($"filter {name}: unknown type '{other}'"),
            };
            var lpf = FreeInit.LowPassFilter(type, spec[1].GetInt32(), spec[2].GetDouble(), spec[3].GetDouble(), x.shape[^3], x.shape[^2], x.shape[^1]);
            if (outputs.Remove(name + ".filter"))
            {
                var expected = fixture.Out(name + ".filter");
                results.Add(ParityResult.Close(name + ".filter", expected, lpf.expand(expected.shape), 1e-6));
            }

            if (outputs.Remove(name + ".mixed"))
            {
                results.Add(ParityResult.Close(name + ".mixed", fixture.Out(name + ".mixed"), FreeInit.FrequencyMix(x, noise, lpf), 1e-5));
            }
        }

        foreach (string name in outputs.Order(StringComparer.Ordinal))
        {
            results.Add(ParityResult.Failed(name, "no filter in config.filters for this output"));
        }

        return results;
    }
}
