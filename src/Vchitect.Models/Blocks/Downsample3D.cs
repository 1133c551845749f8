using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>LaVie's <c>Downsample3D</c>: a per-frame 3×3 convolution with stride 2 (key <c>conv</c>).</summary>
public sealed class Downsample3D : nn.Module<Tensor, Tensor>
{
    private readonly InflatedConv conv;

    /// <summary>Creates the downsampler.</summary>
    /// <param name="channels">Input and output channels.</param>
    /// <param name="padding">Zero padding (SD's <c>downsample_padding</c>, 1).</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public Downsample3D(long channels, long padding = 1, ScalarType? dtype = null, Device? device = null)
        : base(nameof(Downsample3D))
    {
        conv = new InflatedConv(channels, channels, 3, 2, padding, dtype, device);
        RegisterComponents();
    }

    /// <summary>Halves H and W of (B, C, F, H, W).</summary>
    /// <param name="hiddenStates">The video features.</param>
    public override Tensor forward(Tensor hiddenStates) => conv.forward(hiddenStates); // Downsample3D.forward
}
