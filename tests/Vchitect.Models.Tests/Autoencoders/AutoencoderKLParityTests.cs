using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.Autoencoders;

public sealed class AutoencoderKLParityTests(ITestOutputHelper output)
{
    private const double Atol = 1e-4;

    [Fact]
    public void Tiny_fixture_matches_diffusers_within_1e4()
    {
        using var file = TinyVae.OpenFixture();
        using var vae = TinyVae.Load();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();

        using var posterior = vae.Encode(file.ReadTensor("in.image"));
        var actual = new Dictionary<string, Tensor>
        {
            ["latent_mean"] = posterior.Mean,
            ["latent_logvar"] = posterior.LogVar,
            ["latent_std"] = posterior.Std,
            ["latent_sample"] = posterior.Sample(file.ReadTensor("in.eps")),
            ["decoded"] = vae.Decode(file.ReadTensor("in.latents")),
            ["roundtrip"] = vae.Decode(posterior.Mean),
        };

        foreach (var (name, tensor) in actual)
        {
            var expected = file.ReadTensor("out." + name);
            double maxAbs = (tensor - expected).abs().max().item<float>();
            output.WriteLine($"{name}: max abs error {maxAbs:G4}");
            TensorAssert.Close(expected, tensor, Atol, what: name);
        }
    }

    [Fact]
    public void Forward_is_the_roundtrip_of_the_mean()
    {
        using var file = TinyVae.OpenFixture();
        using var vae = TinyVae.Load();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        TensorAssert.Close(file.ReadTensor("out.roundtrip"), vae.forward(file.ReadTensor("in.image")), Atol, what: "forward");
    }
}
