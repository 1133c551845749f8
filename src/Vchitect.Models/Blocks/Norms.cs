using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>Normalisation layers initialised as PyTorch initialises them.</summary>
internal static class Norms
{
    /// <summary>
    /// An affine GroupNorm with weight 1 and bias 0. TorchSharp 0.107's <c>nn.GroupNorm</c>, built with an explicit
    /// device/dtype, was seen to leave its affine parameters uninitialised (garbage, even NaN), which matters for a model
    /// run before weights are loaded (tests, training from scratch).
    /// </summary>
    public static GroupNorm GroupNorm(long groups, long channels, double eps, Device? device, ScalarType? dtype)
    {
        var norm = nn.GroupNorm(groups, channels, eps, affine: true, device: device, dtype: dtype);
        using (no_grad())
        {
            norm.weight!.fill_(1);
            norm.bias!.zero_();
        }

        return norm;
    }
}
