using System.Text.Json;
using Vchitect.Pipelines.Plugins;
using static TorchSharp.torch;

namespace Vchitect.Parity.Checkers;

/// <summary>
/// <c>freeu</c>: diffusers' <c>fourier_filter</c> (<c>filter*</c>: threshold and scale from the notes) and
/// <c>apply_freeu</c> (<c>apply*</c>: b1, b2, s1, s2 from the config, the stage from <c>in.apply*.resolution_idx</c>),
/// through <see cref="FreeU.FourierFilter"/> and <see cref="FreeU.Apply"/>. Tolerance 1e-5 (FFT based).
/// </summary>
/// <remarks>
/// The fixture's model-level outputs (<c>unet.sample</c>, <c>unet.sample_freeu</c>) come from a tiny diffusers
/// <c>UNet3DConditionModel</c> (the ModelScope text-to-video architecture: temporal convolutions and temporal transformers),
/// which this library does not implement; LaVie's UNet is a different network. They are reported as FAIL with that reason,
/// not skipped. FreeU on LaVie's UNet is tested by properties in Vchitect.Pipelines.Tests instead.
/// </remarks>
public sealed class FreeUChecker : IParityChecker
{
    /// <summary>The reason printed for the model-level outputs.</summary>
    public const string ModelLevelReason =
        "not checkable: made by a diffusers (ModelScope) UNet3DConditionModel, which this library does not implement; FreeU on LaVie's UNet is tested by properties";

    private const double Atol = 1e-5;

    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["freeu"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        var config = fixture.Config;
        var freeu = new FreeU(new FreeUOptions
        {
            B1 = config.GetProperty("b1").GetDouble(),
            B2 = config.GetProperty("b2").GetDouble(),
            S1 = config.GetProperty("s1").GetDouble(),
            S2 = config.GetProperty("s2").GetDouble(),
        });
        var filters = fixture.Notes.TryGetProperty("fourier_filter", out var f) ? f : default;
        var results = new List<ParityResult>();
        using var scope = NewDisposeScope();
        foreach (string output in fixture.Outputs)
        {
            string name = output[..output.IndexOf('.', StringComparison.Ordinal)];
            if (name.StartsWith("filter", StringComparison.Ordinal))
            {
                if (filters.ValueKind != JsonValueKind.Object || !filters.TryGetProperty(name, out var spec))
                {
                    results.Add(ParityResult.Failed(output, $"notes.fourier_filter.{name} (threshold, scale) is missing"));
                    continue;
                }

                var y = FreeU.FourierFilter(fixture.In(name + ".x"), spec.GetProperty("threshold").GetInt32(), spec.GetProperty("scale").GetDouble());
                results.Add(ParityResult.Close(output, fixture.Out(output), y, Atol));
            }
            else if (name.StartsWith("apply", StringComparison.Ordinal))
            {
                int stage = (int)fixture.In(name + ".resolution_idx").item<long>();
                var applied = freeu.Apply(stage, fixture.In(name + ".hidden_states"), fixture.In(name + ".res_hidden_states"));
                var actual = output.EndsWith(".res_hidden_states", StringComparison.Ordinal) ? applied.Skip : applied.Hidden;
                results.Add(ParityResult.Close(output, fixture.Out(output), actual, Atol));
            }
            else
            {
                results.Add(ParityResult.Failed(output, name == "unet" ? ModelLevelReason : "unknown output"));
            }
        }

        return results;
    }
}
