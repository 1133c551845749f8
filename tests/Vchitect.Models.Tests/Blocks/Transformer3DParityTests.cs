using Vchitect.Core.Weights;
using Vchitect.Models.Blocks;
using Vchitect.Models.Tests.UNets;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.Blocks;

[Collection(UNetTorchState.Name)]
public sealed class Transformer3DParityTests(ITestOutputHelper output)
{
    [Fact]
    public void Tiny_transformer3d_matches_reference_with_12_frames()
    {
        using var scope = NewDisposeScope();
        using var file = UNetFixtures.Open(UNetFixtures.Transformer3DFile);

        // config: 2 heads × 48, in 96, groups 32, cross 32, one layer
        using var model = new Transformer3DModel(2, 48, 96, 1, 32, 32);
        ModuleWeights.Load(model, file, new WeightLoadOptions { StripPrefix = "weights.", Strict = true });
        model.eval();
        using var mode = inference_mode();
        var actual = model.forward(file.ReadTensor("in.hidden_states"), file.ReadTensor("in.encoder_hidden_states"));
        var expected = file.ReadTensor("out.sample");
        output.WriteLine($"max abs error {(actual - expected).abs().max().item<float>():G4}");
        TensorAssert.Close(expected, actual, 1e-4, what: "sample");
    }
}
