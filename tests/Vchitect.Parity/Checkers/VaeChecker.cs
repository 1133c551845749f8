using Vchitect.Core.Configuration;
using Vchitect.Models.Autoencoders;
using static TorchSharp.torch;

namespace Vchitect.Parity.Checkers;

/// <summary>
/// <c>vae</c>: diffusers <c>AutoencoderKL</c> built from the fixture's config, weights loaded strictly. Checks the latent
/// distribution of <c>in.image</c> (mean, clamped log-variance, std, and mean + std·<c>in.eps</c>), the decoding of
/// <c>in.latents</c>, and the round trip decode(mean).
/// </summary>
public sealed class VaeChecker : IParityChecker
{
    private const double Atol = 1e-4;

    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["vae"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        var config = ConfigFile.Parse(fixture.Config.GetRawText(), AutoencoderJsonContext.Default.AutoencoderKLConfig, fixture.Path + " [config]");
        using var vae = new AutoencoderKL(config);
        using (var weights = fixture.Weights())
        {
            vae.LoadWeights(weights);
        }

        var outputs = fixture.Outputs.ToHashSet(StringComparer.Ordinal);
        var results = new List<ParityResult>();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        if (fixture.HasInput("image"))
        {
            using var posterior = vae.Encode(fixture.In("image"));
            Compare(results, fixture, outputs, "latent_mean", posterior.Mean);
            Compare(results, fixture, outputs, "latent_logvar", posterior.LogVar);
            Compare(results, fixture, outputs, "latent_std", posterior.Std);
            if (outputs.Contains("latent_sample") && fixture.HasInput("eps"))
            {
                Compare(results, fixture, outputs, "latent_sample", posterior.Sample(fixture.In("eps")));
            }

            if (outputs.Contains("roundtrip"))
            {
                Compare(results, fixture, outputs, "roundtrip", vae.Decode(posterior.Mean));
            }
        }

        if (fixture.HasInput("latents") && outputs.Contains("decoded"))
        {
            Compare(results, fixture, outputs, "decoded", vae.Decode(fixture.In("latents")));
        }

        foreach (string name in outputs.Except(results.Select(r => r.Output)).Order(StringComparer.Ordinal))
        {
            results.Add(ParityResult.Failed(name, "no computation for this output (or its input is missing)"));
        }

        return results;
    }

    private static void Compare(List<ParityResult> results, Fixture fixture, HashSet<string> outputs, string name, Tensor actual)
    {
        if (outputs.Contains(name))
        {
            results.Add(ParityResult.Close(name, fixture.Out(name), actual, Atol));
        }
    }
}
