using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// LaVie's <c>ResnetBlock3D</c> (<c>base/models/resnet.py</c>): GroupNorm (over C/g, F, H, W) → SiLU → per-frame 3×3
/// conv → + Linear(SiLU(temb)) → GroupNorm → SiLU → (dropout) → per-frame 3×3 conv → + shortcut (1×1 conv when channels
/// differ) → ÷ output scale factor.
/// </summary>
public sealed class ResnetBlock3D : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly GroupNorm norm1;
    private readonly InflatedConv conv1;
    private readonly Linear time_emb_proj;
    private readonly GroupNorm norm2;
    private readonly InflatedConv conv2;
    private readonly InflatedConv? conv_shortcut;
    private readonly double _outputScaleFactor;

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="tembChannels">Width of the time embedding.</param>
    /// <param name="groups">GroupNorm groups (must divide both channel counts).</param>
    /// <param name="eps">GroupNorm epsilon.</param>
    /// <param name="outputScaleFactor">The output is divided by this (1 in SD).</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public ResnetBlock3D(long inChannels, long outChannels, long tembChannels, long groups, double eps, double outputScaleFactor = 1.0, ScalarType? dtype = null, Device? device = null)
        : base(nameof(ResnetBlock3D))
    {
        _outputScaleFactor = outputScaleFactor;
        norm1 = Norms.GroupNorm(groups, inChannels, eps, device, dtype);
        conv1 = new InflatedConv(inChannels, outChannels, 3, 1, 1, dtype, device);
        time_emb_proj = nn.Linear(tembChannels, outChannels, device: device, dtype: dtype);
        norm2 = Norms.GroupNorm(groups, outChannels, eps, device, dtype);
        conv2 = new InflatedConv(outChannels, outChannels, 3, 1, 1, dtype, device);
        conv_shortcut = inChannels != outChannels ? new InflatedConv(inChannels, outChannels, 1, 1, 0, dtype, device) : null;
        RegisterComponents();
    }

    /// <summary>Runs the block on (B, C, F, H, W) with the time embedding (B, temb).</summary>
    /// <param name="input">The video features.</param>
    /// <param name="temb">The time embedding, one row per batch element.</param>
    public override Tensor forward(Tensor input, Tensor temb)
    {
        // ResnetBlock3D.forward
        using var scope = NewDisposeScope();
        var h = norm1.forward(input);
        h = nn.functional.silu(h);
        h = conv1.forward(h);
        var t = time_emb_proj.forward(nn.functional.silu(temb));
        h = h + t.unsqueeze(-1).unsqueeze(-1).unsqueeze(-1);
        h = norm2.forward(h);
        h = nn.functional.silu(h);
        h = conv2.forward(h);
        var shortcut = conv_shortcut is null ? input : conv_shortcut.forward(input);
        var output = shortcut + h;
        if (_outputScaleFactor != 1.0)
        {
            output = output / _outputScaleFactor;
        }

        return output.MoveToOuterDisposeScope();
    }
}
