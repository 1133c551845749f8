using Vchitect.Core.Weights;
using Vchitect.Models.UNets;
using static TorchSharp.torch;

namespace Vchitect.Parity.Checkers;

/// <summary>
/// <c>seine_unet</c>: SEINE's <c>UNet3DConditionModel</c> (LaVie's base UNet with <c>in_channels</c> 9) built from the
/// fixture's constructor kwargs, weights loaded strictly. The 9-channel <c>sample</c> must be exactly
/// concat([<c>x</c>, <c>mask</c>, <c>masked_video_latents</c>], dim 1); then <c>sample</c> (B timesteps) and
/// <c>sample_scalar_timestep</c> (0-d timestep) are checked within 1e-4.
/// </summary>
public sealed class SeineUNetChecker : IParityChecker
{
    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["seine_unet"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        var results = new List<ParityResult>();
        using (var scope = NewDisposeScope())
        using (var model = new UNet3DConditionModel(LaVieUNetChecker.ReadConfig(fixture.Config)))
        {
            using var weights = fixture.Weights();
            ModuleWeights.Load(model, weights, new WeightLoadOptions { Strict = true });
            model.eval();
            using var mode = inference_mode();
            var sample = fixture.In("sample");
            if (fixture.HasInput("x") && fixture.HasInput("mask") && fixture.HasInput("masked_video_latents"))
            {
                var concatenated = cat([fixture.In("x"), fixture.In("mask"), fixture.In("masked_video_latents")], 1);
                results.Add(ParityResult.Exact("in.sample = cat(x, mask, masked_video_latents)", sample, concatenated));
            }

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
