using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.UNets.Vsr;

/// <summary>
/// Sets every GroupNorm/LayerNorm affine weight to 1 and bias to 0, as torch initialises them. TorchSharp 0.107's
/// <c>nn.GroupNorm</c>, built with an explicit dtype/device, was observed to leave them uninitialised (non-finite values),
/// which matters only for a module run before weights are loaded (tests, training from scratch).
/// </summary>
internal static class NormInit
{
    /// <summary>Resets the norms of <paramref name="module"/> and all its submodules.</summary>
    /// <param name="module">The module.</param>
    public static void Reset(nn.Module module)
    {
        using var noGrad = no_grad();
        foreach (var (_, m) in module.named_modules().Prepend((string.Empty, module)))
        {
            if (m is GroupNorm or LayerNorm)
            {
                foreach (var (name, p) in m.named_parameters(recurse: false))
                {
                    if (name == "weight")
                    {
                        p.fill_(1.0);
                    }
                    else if (name == "bias")
                    {
                        p.zero_();
                    }
                }
            }
        }
    }
}
