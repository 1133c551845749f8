using TorchSharp;
using TorchSharp.Modules;
using Vchitect.Models.Tests.UNets;
using Vchitect.Models.UNets;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.Blocks;

/// <summary>
/// A model used before any weights are loaded (training from scratch, random-weight tests) must start from PyTorch's
/// initialisation: TorchSharp 0.107's GroupNorm alone leaves its affine parameters uninitialised.
/// </summary>
public sealed class FreshModelInitTests
{
    [Fact]
    public void Every_group_norm_of_a_fresh_unet_starts_at_weight_one_bias_zero_and_the_forward_is_finite()
    {
        using var scope = NewDisposeScope();
        using var model = new UNet3DConditionModel(UNetFixtures.TinyConfig());
        int norms = 0;
        foreach (var (name, module) in model.named_modules())
        {
            if (module is GroupNorm norm)
            {
                norms++;
                Assert.True(norm.weight!.eq(1).all().item<bool>(), name + ".weight");
                Assert.True(norm.bias!.eq(0).all().item<bool>(), name + ".bias");
            }
        }

        Assert.True(norms > 5, $"only {norms} GroupNorms found");
        using var noGrad = no_grad();
        var output = model.forward(new UNet3DConditionInput(randn([1, 4, 3, 8, 8]), tensor(500L), randn([1, 7, model.Config.CrossAttentionDim]))).Sample;
        Assert.True(output.isfinite().all().item<bool>());
    }
}
