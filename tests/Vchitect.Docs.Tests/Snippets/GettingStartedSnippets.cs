// <snippet>
using Vchitect.Core;
using static TorchSharp.torch;
// </snippet>
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;

namespace Vchitect.Docs.Tests.Snippets;

/// <summary>docs/getting-started.md</summary>
public sealed class GettingStartedSnippets
{
    [Fact]
    public void Seeded_noise_example_matches_pytorch()
    {
        // <snippet>
        using var generator = new RandomGenerator(seed: 42);
        using var latents = generator.Randn([1, 4, 16, 40, 64]);   // == torch.Generator().manual_seed(42); torch.randn(..., generator=g)
        using var more = generator.Randn([5]);                     // the stream goes on, as in PyTorch
        // </snippet>
        // rng.safetensors holds torch.manual_seed(42); torch.randn(1,4,16,40,64)[0, :, :2] then torch.randn(5):
        // the global generator draws the same stream as a dedicated one seeded alike.
        using var fixture = SafetensorsFile.Open(Fixtures.Path("rng.safetensors"));
        using var scope = NewDisposeScope();
        TensorAssert.Equal(fixture.ReadTensor("out.seed42.randn_1x4x16x40x64"), latents[0, TensorIndex.Colon, TensorIndex.Slice(0, 2)].contiguous());
        TensorAssert.Equal(fixture.ReadTensor("out.seed42.randn_then_5"), more);
    }
}
