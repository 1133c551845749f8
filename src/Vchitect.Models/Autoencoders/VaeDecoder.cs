using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Vchitect.Models.Blocks;

namespace Vchitect.Models.Autoencoders;

/// <summary>diffusers <c>Decoder</c> (vae.py) with group norm: latents to images.</summary>
internal sealed class VaeDecoder : nn.Module<Tensor, Tensor>
{
    private readonly VaeLayerFactory _f;
#pragma warning disable IDE1006 // checkpoint key names
    private readonly Conv2d conv_in;
    private readonly UNetMidBlock2D mid_block;
    private readonly ModuleList<UpDecoderBlock2D> up_blocks;
    private readonly GroupNorm conv_norm_out;
    private readonly Conv2d conv_out;
#pragma warning restore IDE1006

    public VaeDecoder(AutoencoderKLConfig config, VaeLayerFactory f)
        : base(nameof(VaeDecoder))
    {
        _f = f;
        int[] channels = config.BlockOutChannels;
        int groups = config.NormNumGroups;
        conv_in = f.Conv(config.LatentChannels, channels[^1], 3, padding: 1);
        mid_block = new UNetMidBlock2D(channels[^1], groups, config.MidBlockAddAttention, f);
        up_blocks = new ModuleList<UpDecoderBlock2D>();
        int output = channels[^1];
        for (int i = 0; i < channels.Length; i++)
        {
            int previous = output;
            output = channels[channels.Length - 1 - i];
            bool isFinal = i == channels.Length - 1;
            up_blocks.Add(new UpDecoderBlock2D(previous, output, config.LayersPerBlock + 1, groups, addUpsample: !isFinal, f));
        }

        conv_norm_out = f.Norm(groups, channels[0]);
        conv_out = f.Conv(channels[0], config.OutChannels, 3, padding: 1);
        RegisterComponents();
    }

    // diffusers vae.py Decoder.forward (no latent_embeds, no gradient checkpointing)
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = conv_in.forward(input);
        h = mid_block.forward(h);
        foreach (var block in up_blocks)
        {
            h = block.forward(h);
        }

        h = _f.Act(conv_norm_out.forward(h));
        h = Conv2dMath.Forward(conv_out, h, 1, 1);
        return h.MoveToOuterDisposeScope();
    }
}
