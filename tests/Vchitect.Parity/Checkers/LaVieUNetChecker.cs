using System.Text.Json;
using Vchitect.Core.Configuration;
using Vchitect.Core.Weights;
using Vchitect.Models.UNets;
using static TorchSharp.torch;

namespace Vchitect.Parity.Checkers;

/// <summary>
/// <c>lavie_unet</c>: LaVie's base <c>UNet3DConditionModel</c> built from the fixture's constructor kwargs, weights loaded
/// strictly (rotary <c>freqs</c> keys included); <c>sample</c> with the (B) timesteps and <c>sample_scalar_timestep</c>
/// with the 0-d one, each within 1e-4.
/// </summary>
public sealed class LaVieUNetChecker : IParityChecker
{
    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["lavie_unet"];

    /// <summary>Parses the fixture's constructor kwargs as a <see cref="UNet3DConditionConfig"/>.</summary>
    public static UNet3DConditionConfig ReadConfig(JsonElement config) =>
        ConfigFile.Parse(config.GetRawText(), UNet3DConditionJsonContext.Default.UNet3DConditionConfig, "fixture config");

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        var results = new List<ParityResult>();
        using (var scope = NewDisposeScope())
        using (var model = new UNet3DConditionModel(ReadConfig(fixture.Config)))
        {
            using var weights = fixture.Weights();
            ModuleWeights.Load(model, weights, new WeightLoadOptions { Strict = true });
            model.eval();
            using var mode = inference_mode();
            var sample = fixture.In("sample");
            var ehs = fixture.In("encoder_hidden_states");
            foreach (var (output, timestep) in new[] { ("sample", "timestep"), ("sample_scalar_timestep", "timestep_scalar") })
            {
                if (!fixture.Outputs.Contains(output))
                {
                    continue;
                }

                var y = model.forward(new UNet3DConditionInput(sample, fixture.In(timestep), ehs)).Sample;
                results.Add(ParityResult.Close(output, fixture.Out(output), y, 1e-4));
            }
        }

        return results;
    }
}
