using Vchitect.Models.Blocks;
using static TorchSharp.torch;

namespace Vchitect.Models.UNets.Vsr;

/// <summary>
/// LaVie VSR's <c>TemporalModule3D</c> (<c>vsr/models/temporal_module.py</c>) in its published configuration (no attention
/// layers, no video condition): h' = h + shift_conv(resblocks_3d_s(resblocks_3d_t(h, temb), temb)), where
/// <c>resblocks_3d_t</c> is a <see cref="ResnetBlock3DCNN"/> with a (5, 1, 1) kernel, <c>resblocks_3d_s</c> a per-frame
/// <see cref="ResnetBlock3D"/>, and <c>shift_conv</c> a zero-initialised per-frame 1×1 conv, so a freshly built module is
/// the identity.
/// </summary>
public sealed class TemporalModule3D : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>GroupNorm groups the reference hard-codes in both resnets.</summary>
    public const long Groups = 32;

    private readonly ResnetBlock3DCNN resblocks_3d_t;
    private readonly ResnetBlock3D resblocks_3d_s;
    private readonly InflatedConv shift_conv;

    /// <summary>Creates the module.</summary>
    /// <param name="channels">Channels in and out (a multiple of 32).</param>
    /// <param name="tembChannels">Width of the time embedding.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public TemporalModule3D(long channels, long tembChannels, ScalarType? dtype = null, Device? device = null)
        : base(nameof(TemporalModule3D))
    {
        resblocks_3d_t = new ResnetBlock3DCNN(channels, channels, 5, tembChannels, Groups, 1e-6, dtype, device);
        resblocks_3d_s = new ResnetBlock3D(channels, channels, tembChannels, Groups, 1e-6, 1.0, dtype, device);
        shift_conv = new InflatedConv(channels, channels, 1, 1, 0, dtype, device);
        using (no_grad())
        {
            // zero_module(InflatedConv3d(...))
            foreach (var p in shift_conv.parameters())
            {
                p.zero_();
            }
        }

        RegisterComponents();
    }

    /// <summary>Runs the module on (B, C, F, H, W) with the time embedding (B, temb).</summary>
    /// <param name="hiddenStates">The video features.</param>
    /// <param name="temb">The time embedding (including the class embedding).</param>
    public override Tensor forward(Tensor hiddenStates, Tensor temb)
    {
        // TemporalModule3D.forward (video_condition False, no attentions, use_scale_shift False)
        using var scope = NewDisposeScope();
        var h = resblocks_3d_t.forward(hiddenStates, temb);
        h = resblocks_3d_s.forward(h, temb);
        h = shift_conv.forward(h);
        return (hiddenStates + h).MoveToOuterDisposeScope();
    }
}

/// <summary>LaVie VSR's <c>EmptyTemporalModule3D</c>: the identity, used where a level has no temporal module. No parameters.</summary>
public sealed class EmptyTemporalModule3D : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>Creates the module.</summary>
    public EmptyTemporalModule3D()
        : base(nameof(EmptyTemporalModule3D))
    {
    }

    /// <summary>Returns a new handle to <paramref name="hiddenStates"/> (an alias, not a copy).</summary>
    /// <param name="hiddenStates">The video features.</param>
    /// <param name="temb">Ignored.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor temb) => hiddenStates.alias();
}
