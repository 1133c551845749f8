using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// The timestep MLP: <c>linear_1</c> → SiLU → <c>linear_2</c> (diffusers 0.16 <c>TimestepEmbedding</c>).
/// </summary>
public sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Linear linear_1;
    private readonly Linear linear_2;

    /// <summary>Creates the MLP.</summary>
    /// <param name="inChannels">Width of the sinusoidal embedding.</param>
    /// <param name="timeEmbedDim">Output width (4× the first block's channels in SD).</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public TimestepEmbedding(long inChannels, long timeEmbedDim, ScalarType? dtype = null, Device? device = null)
        : base(nameof(TimestepEmbedding))
    {
        linear_1 = nn.Linear(inChannels, timeEmbedDim, device: device, dtype: dtype);
        linear_2 = nn.Linear(timeEmbedDim, timeEmbedDim, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Maps (N, in) to (N, timeEmbedDim).</summary>
    /// <param name="sample">The sinusoidal embedding.</param>
    public override Tensor forward(Tensor sample)
    {
        // TimestepEmbedding.forward
        using var h = linear_1.forward(sample);
        using var a = nn.functional.silu(h);
        return linear_2.forward(a);
    }
}
