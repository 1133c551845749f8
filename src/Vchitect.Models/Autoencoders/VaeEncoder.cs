using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Vchitect.Models.Blocks;

namespace Vchitect.Models.Autoencoders;

/// <summary>diffusers <c>Encoder</c> (vae.py) with <c>double_z</c>: images to 2·latent_channels moments.</summary>
internal sealed class VaeEncoder : nn.Module<Tensor, Tensor>
{
    private readonly VaeLayerFactory _f;
#pragma warning disable IDE1006 // checkpoint key names
    private readonly Conv2d conv_in;
    private readonly ModuleList<DownEncoderBlock2D> down_blocks;
    private readonly UNetMidBlock2D mid_block;
    private readonly GroupNorm conv_norm_out;
    private readonly Conv2d conv_out;
#pragma warning restore IDE1006

    public VaeEncoder(AutoencoderKLConfig config, VaeLayerFactory f)
        : base(nameof(VaeEncoder))
    {
        _f = f;
        int[] channels = config.BlockOutChannels;
        int groups = config.NormNumGroups;
        conv_in = f.Conv(config.InChannels, channels[0], 3, padding: 1);
        down_blocks = new ModuleList<DownEncoderBlock2D>();
        int output = channels[0];
        for (int i = 0; i < channels.Length; i++)
        {
            int input = output;
            output = channels[i];
            bool isFinal = i == channels.Length - 1;
            down_blocks.Add(new DownEncoderBlock2D(input, output, config.LayersPerBlock, groups, addDownsample: !isFinal, f));
        }

        mid_block = new UNetMidBlock2D(channels[^1], groups, config.MidBlockAddAttention, f);
        conv_norm_out = f.Norm(groups, channels[^1]);
        conv_out = f.Conv(channels[^1], 2L * config.LatentChannels, 3, padding: 1);
        RegisterComponents();
    }

    // diffusers vae.py Encoder.forward
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = conv_in.forward(input);
        foreach (var block in down_blocks)
        {
            h = block.forward(h);
        }

        h = mid_block.forward(h);
        h = _f.Act(conv_norm_out.forward(h));
        h = Conv2dMath.Forward(conv_out, h, 1, 1);
        return h.MoveToOuterDisposeScope();
    }
}
