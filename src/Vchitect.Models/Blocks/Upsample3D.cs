using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// LaVie's <c>Upsample3D</c>: nearest-neighbour ×2 in H and W (frames unchanged), or to an explicit (F, H, W) size,
/// then a per-frame 3×3 convolution (key <c>conv</c>). bfloat16 inputs are interpolated in float32, as the reference does.
/// </summary>
public sealed class Upsample3D : nn.Module<Tensor, long[]?, Tensor>
{
    private readonly InflatedConv conv;

    /// <summary>Creates the upsampler.</summary>
    /// <param name="channels">Input and output channels.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public Upsample3D(long channels, ScalarType? dtype = null, Device? device = null)
        : base(nameof(Upsample3D))
    {
        conv = new InflatedConv(channels, channels, 3, 1, 1, dtype, device);
        RegisterComponents();
    }

    /// <summary>Upsamples (B, C, F, H, W).</summary>
    /// <param name="hiddenStates">The video features.</param>
    /// <param name="outputSize">The (F, H, W) size to reach, or null for ×2 in H and W.</param>
    public override Tensor forward(Tensor hiddenStates, long[]? outputSize)
    {
        // Upsample3D.forward
        using var scope = NewDisposeScope();
        var dtype = hiddenStates.dtype;
        var h = dtype == ScalarType.BFloat16 ? hiddenStates.to(ScalarType.Float32) : hiddenStates;
        h = outputSize is null
            ? nn.functional.interpolate(h, scale_factor: [1.0, 2.0, 2.0], mode: InterpolationMode.Nearest)
            : nn.functional.interpolate(h, size: outputSize, mode: InterpolationMode.Nearest);
        if (dtype == ScalarType.BFloat16)
        {
            h = h.to(dtype);
        }

        return conv.forward(h).MoveToOuterDisposeScope();
    }
}
