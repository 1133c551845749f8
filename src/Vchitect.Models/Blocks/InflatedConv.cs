using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// A 2-D convolution applied to every frame of a video tensor (B, C, F, H, W): frames are folded into the batch
/// (b-major, f-minor), convolved, and unfolded. LaVie's <c>InflatedConv3d</c> (<c>base/models/resnet.py</c>).
/// Its checkpoint keys are <c>weight</c> [out, in, k, k] and <c>bias</c> [out], as for <c>nn.Conv2d</c>.
/// </summary>
public sealed class InflatedConv : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly long _stride;
    private readonly long _padding;

    /// <summary>Creates the convolution, initialised as <c>nn.Conv2d</c> is (Kaiming uniform).</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernelSize">Square kernel size.</param>
    /// <param name="stride">Stride in H and W (default 1).</param>
    /// <param name="padding">Zero padding in H and W (default 0).</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public InflatedConv(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, ScalarType? dtype = null, Device? device = null)
        : base(nameof(InflatedConv))
    {
        _stride = stride;
        _padding = padding;
        using (no_grad())
        {
            weight = new Parameter(empty([outChannels, inChannels, kernelSize, kernelSize], dtype: dtype, device: device));
            bias = new Parameter(empty([outChannels], dtype: dtype, device: device));
            // Parameters outlive any dispose scope the caller has open.
            weight.DetachFromDisposeScope();
            bias.DetachFromDisposeScope();
            nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
            double bound = 1.0 / Math.Sqrt(inChannels * kernelSize * kernelSize);
            nn.init.uniform_(bias, -bound, bound);
        }

        RegisterComponents();
    }

    /// <summary>The convolution weight [out, in, k, k] (its dtype is the module's dtype).</summary>
    internal Tensor Weight => weight;

    /// <summary>Convolves every frame of <paramref name="x"/> (B, C, F, H, W); returns (B, C', F, H', W').</summary>
    /// <param name="x">The video tensor.</param>
    public override Tensor forward(Tensor x)
    {
        // InflatedConv3d.forward: "b c f h w -> (b f) c h w", conv, "(b f) c h w -> b c f h w"
        long b = x.shape[0], c = x.shape[1], f = x.shape[2], h = x.shape[3], w = x.shape[4];
        using var folded = x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w);
        using var y = Conv2dMath.Conv2d(folded, weight, bias, _stride, _padding);
        return y.reshape(b, f, y.shape[1], y.shape[2], y.shape[3]).permute(0, 2, 1, 3, 4);
    }
}
