using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Autoencoders;

// The 2-D blocks of diffusers' AutoencoderKL (no time embedding). Private fields carry the checkpoint key names.

/// <summary>Builds the layers of one VAE with a common dtype, device and activation.</summary>
internal sealed record VaeLayerFactory(ScalarType? DType, Device? Device, string ActFn)
{
    /// <summary>diffusers uses eps 1e-6 for every GroupNorm of the VAE.</summary>
    public const double NormEps = 1e-6;

    public Conv2d Conv(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0) =>
        nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: padding, device: Device, dtype: DType);

    /// <summary>A GroupNorm with weight 1 and bias 0 (see <see cref="Blocks.Norms.GroupNorm"/>).</summary>
    public GroupNorm Norm(long groups, long channels) => Blocks.Norms.GroupNorm(groups, channels, NormEps, Device, DType);

    public Linear Linear(long inFeatures, long outFeatures) =>
        nn.Linear(inFeatures, outFeatures, hasBias: true, device: Device, dtype: DType);

    /// <summary>diffusers' <c>get_activation</c>.</summary>
    public Tensor Act(Tensor x) => ActFn switch
    {
        "silu" or "swish" => nn.functional.silu(x),
        "mish" => nn.functional.mish(x),
        "gelu" => nn.functional.gelu(x),
        "relu" => nn.functional.relu(x),
        _ => throw new NotSupportedException($"act_fn \"{ActFn}\""),
    };
}

/// <summary>diffusers <c>ResnetBlock2D</c> without time embedding: GN→act→conv3×3→GN→act→conv3×3, plus a 1×1 shortcut when channels change.</summary>
internal sealed class ResnetBlock2D : nn.Module<Tensor, Tensor>
{
    private readonly VaeLayerFactory _f;
#pragma warning disable IDE1006 // checkpoint key names
    private readonly GroupNorm norm1;
    private readonly Conv2d conv1;
    private readonly GroupNorm norm2;
    private readonly Conv2d conv2;
    private readonly Conv2d? conv_shortcut;
#pragma warning restore IDE1006

    public ResnetBlock2D(long inChannels, long outChannels, long groups, VaeLayerFactory f)
        : base(nameof(ResnetBlock2D))
    {
        _f = f;
        norm1 = f.Norm(groups, inChannels);
        conv1 = f.Conv(inChannels, outChannels, 3, padding: 1);
        norm2 = f.Norm(groups, outChannels);
        conv2 = f.Conv(outChannels, outChannels, 3, padding: 1);
        if (inChannels != outChannels)
        {
            conv_shortcut = f.Conv(inChannels, outChannels, 1);
        }

        RegisterComponents();
    }

    // diffusers resnet.py ResnetBlock2D.forward (temb None, output_scale_factor 1, dropout 0)
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = _f.Act(norm1.forward(input));
        h = conv1.forward(h);
        h = _f.Act(norm2.forward(h));
        h = conv2.forward(h);
        var shortcut = conv_shortcut is null ? input : conv_shortcut.forward(input);
        return (shortcut + h).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>Downsample2D</c> as the VAE encoder uses it (padding 0): pad right and bottom by one, then a stride-2 conv3×3.</summary>
internal sealed class Downsample2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly Conv2d conv;
#pragma warning restore IDE1006

    public Downsample2D(long channels, VaeLayerFactory f)
        : base(nameof(Downsample2D))
    {
        conv = f.Conv(channels, channels, 3, stride: 2, padding: 0);
        RegisterComponents();
    }

    // diffusers resnet.py Downsample2D.forward with use_conv and padding == 0: F.pad(x, (0, 1, 0, 1)) then conv
    public override Tensor forward(Tensor input)
    {
        using var padded = nn.functional.pad(input, [0, 1, 0, 1], PaddingModes.Constant, 0);
        return conv.forward(padded);
    }
}

/// <summary>diffusers <c>Upsample2D</c> with a conv: nearest-neighbour ×2, then conv3×3.</summary>
internal sealed class Upsample2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly Conv2d conv;
#pragma warning restore IDE1006

    public Upsample2D(long channels, VaeLayerFactory f)
        : base(nameof(Upsample2D))
    {
        conv = f.Conv(channels, channels, 3, padding: 1);
        RegisterComponents();
    }

    // diffusers resnet.py Upsample2D.forward: F.interpolate(scale_factor=2.0, mode="nearest") then conv
    public override Tensor forward(Tensor input)
    {
        using var up = nn.functional.interpolate(input, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        return conv.forward(up);
    }
}

/// <summary>
/// The VAE mid-block self-attention (diffusers <c>Attention</c> built from a deprecated attention block): one head over
/// all H·W positions, GroupNorm first, biased q/k/v/out projections, residual added.
/// </summary>
internal sealed class VaeAttention : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly GroupNorm group_norm;
    private readonly Linear to_q;
    private readonly Linear to_k;
    private readonly Linear to_v;
    private readonly ModuleList<Linear> to_out;
#pragma warning restore IDE1006

    public VaeAttention(long channels, long groups, VaeLayerFactory f)
        : base(nameof(VaeAttention))
    {
        group_norm = f.Norm(groups, channels);
        to_q = f.Linear(channels, channels);
        to_k = f.Linear(channels, channels);
        to_v = f.Linear(channels, channels);
        to_out = new ModuleList<Linear>(f.Linear(channels, channels)); // to_out.1 is a parameterless Dropout(0)
        RegisterComponents();
    }

    // diffusers attention_processor.py AttnProcessor2_0.__call__ (heads = 1, residual_connection, rescale 1)
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        long b = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3];
        var hidden = group_norm.forward(input).view(b, c, h * w).transpose(1, 2); // (B, HW, C)
        var q = to_q.forward(hidden).unsqueeze(1); // (B, 1, HW, C)
        var k = to_k.forward(hidden).unsqueeze(1);
        var v = to_v.forward(hidden).unsqueeze(1);
        var attended = nn.functional.scaled_dot_product_attention(q, k, v).squeeze(1);
        var projected = to_out[0].forward(attended);
        var output = projected.transpose(1, 2).reshape(b, c, h, w) + input;
        return output.MoveToOuterDisposeScope();
    }
}

/// <summary>Runs resnets one after another, disposing each intermediate but never the caller's input.</summary>
internal static class ResnetChain
{
    public static Tensor Forward(ModuleList<ResnetBlock2D> resnets, Tensor input)
    {
        var h = input;
        foreach (var resnet in resnets)
        {
            var next = resnet.forward(h);
            if (!ReferenceEquals(h, input))
            {
                h.Dispose();
            }

            h = next;
        }

        return h;
    }
}

/// <summary>diffusers <c>DownEncoderBlock2D</c>: resnets, then (except at the last level) a downsampler.</summary>
internal sealed class DownEncoderBlock2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Downsample2D>? downsamplers;
#pragma warning restore IDE1006

    public DownEncoderBlock2D(long inChannels, long outChannels, int layers, long groups, bool addDownsample, VaeLayerFactory f)
        : base(nameof(DownEncoderBlock2D))
    {
        resnets = new ModuleList<ResnetBlock2D>();
        for (int i = 0; i < layers; i++)
        {
            resnets.Add(new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, groups, f));
        }

        if (addDownsample)
        {
            downsamplers = new ModuleList<Downsample2D>(new Downsample2D(outChannels, f));
        }

        RegisterComponents();
    }

    // diffusers unet_2d_blocks.py DownEncoderBlock2D.forward
    public override Tensor forward(Tensor input)
    {
        var h = ResnetChain.Forward(resnets, input);

        if (downsamplers is not null)
        {
            var next = downsamplers[0].forward(h);
            h.Dispose();
            h = next;
        }

        return h;
    }
}

/// <summary>diffusers <c>UpDecoderBlock2D</c>: resnets, then (except at the last level) an upsampler.</summary>
internal sealed class UpDecoderBlock2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly ModuleList<ResnetBlock2D> resnets;
    private readonly ModuleList<Upsample2D>? upsamplers;
#pragma warning restore IDE1006

    public UpDecoderBlock2D(long inChannels, long outChannels, int layers, long groups, bool addUpsample, VaeLayerFactory f)
        : base(nameof(UpDecoderBlock2D))
    {
        resnets = new ModuleList<ResnetBlock2D>();
        for (int i = 0; i < layers; i++)
        {
            resnets.Add(new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, groups, f));
        }

        if (addUpsample)
        {
            upsamplers = new ModuleList<Upsample2D>(new Upsample2D(outChannels, f));
        }

        RegisterComponents();
    }

    // diffusers unet_2d_blocks.py UpDecoderBlock2D.forward
    public override Tensor forward(Tensor input)
    {
        var h = ResnetChain.Forward(resnets, input);

        if (upsamplers is not null)
        {
            var next = upsamplers[0].forward(h);
            h.Dispose();
            h = next;
        }

        return h;
    }
}

/// <summary>diffusers <c>UNetMidBlock2D</c> without time embedding: resnet, then (attention, resnet) once.</summary>
internal sealed class UNetMidBlock2D : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly ModuleList<VaeAttention> attentions;
    private readonly ModuleList<ResnetBlock2D> resnets;
#pragma warning restore IDE1006

    public UNetMidBlock2D(long channels, long groups, bool addAttention, VaeLayerFactory f)
        : base(nameof(UNetMidBlock2D))
    {
        attentions = new ModuleList<VaeAttention>();
        if (addAttention)
        {
            attentions.Add(new VaeAttention(channels, groups, f));
        }

        resnets = new ModuleList<ResnetBlock2D>(new ResnetBlock2D(channels, channels, groups, f), new ResnetBlock2D(channels, channels, groups, f));
        RegisterComponents();
    }

    // diffusers unet_2d_blocks.py UNetMidBlock2D.forward (num_layers 1)
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = resnets[0].forward(input);
        if (attentions.Count > 0)
        {
            h = attentions[0].forward(h);
        }

        h = resnets[1].forward(h);
        return h.MoveToOuterDisposeScope();
    }
}
