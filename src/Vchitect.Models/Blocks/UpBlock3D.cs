using TorchSharp.Modules;
using Vchitect.Models.UNets;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// LaVie's <c>UpBlock3D</c> (<c>base/models/unet_blocks.py</c>): for each layer, concatenate the last remaining skip on
/// channels and run <c>resnets.i</c>; then an optional <c>upsamplers.0</c>; no attention. The text features are accepted and
/// ignored, so that it fits the same list as <see cref="CrossAttnUpBlock3D"/>.
/// </summary>
public sealed class UpBlock3D : nn.Module<Tensor, Tensor, IReadOnlyList<Tensor>, Tensor?, long[]?, Tensor>
{
    private readonly ModuleList<ResnetBlock3D> resnets;
    private readonly ModuleList<Upsample3D>? upsamplers;

    /// <summary>Creates the block.</summary>
    /// <param name="numLayers">Resnets: layers_per_block + 1 in SD.</param>
    /// <param name="inChannels">Channels of the deepest skip this block consumes (its last layer's skip).</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="prevOutputChannels">Channels coming from the block below.</param>
    /// <param name="tembChannels">Time embedding width.</param>
    /// <param name="addUpsample">Whether to end with a ×2 upsampler.</param>
    /// <param name="groups">GroupNorm groups.</param>
    /// <param name="eps">Resnet GroupNorm epsilon.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public UpBlock3D(long numLayers, long inChannels, long outChannels, long prevOutputChannels, long tembChannels, bool addUpsample, long groups, double eps, ScalarType? dtype = null, Device? device = null)
        : base(nameof(UpBlock3D))
    {
        var res = new ResnetBlock3D[numLayers];
        for (int i = 0; i < numLayers; i++)
        {
            long resSkip = i == numLayers - 1 ? inChannels : outChannels;
            long resIn = i == 0 ? prevOutputChannels : outChannels;
            res[i] = new ResnetBlock3D(resIn + resSkip, outChannels, tembChannels, groups, eps, 1.0, dtype, device);
        }

        resnets = nn.ModuleList(res);
        upsamplers = addUpsample ? nn.ModuleList(new Upsample3D(outChannels, dtype, device)) : null;
        RegisterComponents();
    }

    /// <summary>The owning UNet's decoder hooks (null for a block used on its own).</summary>
    internal DecoderSkipHooks? SkipHooks { get; set; }

    /// <summary>This block's index in the owning UNet's <c>up_blocks</c>.</summary>
    internal int UpBlockIndex { get; set; }

    /// <summary>Runs the block.</summary>
    /// <param name="hiddenStates">Video features from the block below (B, C, F, H, W).</param>
    /// <param name="temb">Time embedding (B, temb).</param>
    /// <param name="resHiddenStates">The skips for this block, in down-path order (the last is used first). Not disposed.</param>
    /// <param name="encoderHiddenStates">Ignored (no attention).</param>
    /// <param name="upsampleSize">(F, H, W) for the upsampler, or null for ×2.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor temb, IReadOnlyList<Tensor> resHiddenStates, Tensor? encoderHiddenStates, long[]? upsampleSize)
    {
        // UpBlock3D.forward
        using var scope = NewDisposeScope();
        var h = hiddenStates;
        for (int i = 0; i < resnets.Count; i++)
        {
            var skip = resHiddenStates[resHiddenStates.Count - 1 - i];
            if (SkipHooks is { IsEmpty: false } hooks)
            {
                (h, skip) = hooks.Apply(UpBlockIndex, i, h, skip); // diffusers: apply_freeu just before the concatenation
            }

            h = cat([h, skip], 1);
            h = resnets[i].forward(h, temb);
        }

        if (upsamplers is not null)
        {
            h = upsamplers[0].forward(h, upsampleSize);
        }

        return h.MoveToOuterDisposeScope();
    }
}
