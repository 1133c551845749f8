using TorchSharp.Modules;
using Vchitect.Models.Blocks;
using static TorchSharp.torch;

namespace Vchitect.Models.UNets.Vsr;

/// <summary>
/// LaVie VSR's <c>ResnetBlock3DCNN</c> (<c>vsr/models/resnet.py</c>): a residual block of true temporal convolutions on
/// (B, C, F, H, W): GroupNorm → SiLU → <c>conv1</c> (Conv3d, kernel (k, 1, 1), zero padding (k−1)/2 on F) → optional
/// + Linear(SiLU(temb)) → GroupNorm → SiLU → (dropout) → <c>conv2</c> (Conv3d (3, 1, 1)) → + shortcut (1×1×1 Conv3d when
/// channels differ). Keys: <c>norm1</c>, <c>conv1</c> [out, in, k, 1, 1], <c>time_emb_proj</c> (only with a time
/// embedding), <c>norm2</c>, <c>conv2</c> [out, out, 3, 1, 1], <c>conv_shortcut</c>.
/// </summary>
public sealed class ResnetBlock3DCNN : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly GroupNorm norm1;
    private readonly Conv3d conv1;
    private readonly Linear? time_emb_proj;
    private readonly GroupNorm norm2;
    private readonly Conv3d conv2;
    private readonly Conv3d? conv_shortcut;

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernel">Temporal kernel size of <c>conv1</c> (odd; 5 in <c>TemporalModule3D</c>, 3 in the transformers).</param>
    /// <param name="tembChannels">Width of the time embedding, or null for none (no <c>time_emb_proj</c>).</param>
    /// <param name="groups">GroupNorm groups (32 in the reference).</param>
    /// <param name="eps">GroupNorm epsilon (1e-6 in the reference).</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public ResnetBlock3DCNN(long inChannels, long outChannels, long kernel, long? tembChannels, long groups = 32, double eps = 1e-6, ScalarType? dtype = null, Device? device = null)
        : base(nameof(ResnetBlock3DCNN))
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(kernel % 2, 1L, nameof(kernel));
        norm1 = Norms.GroupNorm(groups, inChannels, eps, device, dtype);
        conv1 = nn.Conv3d(inChannels, outChannels, (kernel, 1, 1), stride: (1, 1, 1), padding: ((kernel - 1) / 2, 0, 0), device: device, dtype: dtype);
        time_emb_proj = tembChannels is long t ? nn.Linear(t, outChannels, device: device, dtype: dtype) : null;
        norm2 = Norms.GroupNorm(groups, outChannels, eps, device, dtype);
        conv2 = nn.Conv3d(outChannels, outChannels, (3, 1, 1), stride: (1, 1, 1), padding: (1, 0, 0), device: device, dtype: dtype);
        conv_shortcut = inChannels != outChannels
            ? nn.Conv3d(inChannels, outChannels, (1, 1, 1), stride: (1, 1, 1), padding: (0, 0, 0), device: device, dtype: dtype)
            : null;
        RegisterComponents();
    }

    /// <summary>Runs the block on (B, C, F, H, W); the time embedding (B, temb) is ignored when the block has none.</summary>
    /// <param name="input">The video features.</param>
    /// <param name="temb">The time embedding, or null.</param>
    public override Tensor forward(Tensor input, Tensor? temb)
    {
        // ResnetBlock3DCNN.forward (time_embedding_norm "default", output_scale_factor 1)
        using var scope = NewDisposeScope();
        var h = nn.functional.silu(norm1.forward(input));
        h = conv1.forward(h);
        if (temb is not null && time_emb_proj is not null)
        {
            var t = time_emb_proj.forward(nn.functional.silu(temb));
            h = h + t.unsqueeze(-1).unsqueeze(-1).unsqueeze(-1);
        }

        h = nn.functional.silu(norm2.forward(h));
        h = conv2.forward(h);
        var shortcut = conv_shortcut is null ? input : conv_shortcut.forward(input);
        return (shortcut + h).MoveToOuterDisposeScope();
    }
}
