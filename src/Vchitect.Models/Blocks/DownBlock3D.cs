using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// LaVie's <c>DownBlock3D</c> (<c>base/models/unet_blocks.py</c>): <c>resnets.i</c>, then an optional
/// <c>downsamplers.0</c>; no attention. The text features are accepted and ignored, so that it fits the same list as
/// <see cref="CrossAttnDownBlock3D"/>.
/// </summary>
public sealed class DownBlock3D : nn.Module<Tensor, Tensor, Tensor?, DownBlock3DOutput>
{
    private readonly ModuleList<ResnetBlock3D> resnets;
    private readonly ModuleList<Downsample3D>? downsamplers;

    /// <summary>Creates the block.</summary>
    /// <param name="numLayers">Resnets.</param>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="tembChannels">Time embedding width.</param>
    /// <param name="addDownsample">Whether to end with a stride-2 conv.</param>
    /// <param name="groups">GroupNorm groups.</param>
    /// <param name="eps">Resnet GroupNorm epsilon.</param>
    /// <param name="downsamplePadding">Padding of the downsampler conv.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public DownBlock3D(long numLayers, long inChannels, long outChannels, long tembChannels, bool addDownsample, long groups, double eps, long downsamplePadding = 1, ScalarType? dtype = null, Device? device = null)
        : base(nameof(DownBlock3D))
    {
        var res = new ResnetBlock3D[numLayers];
        for (int i = 0; i < numLayers; i++)
        {
            res[i] = new ResnetBlock3D(i == 0 ? inChannels : outChannels, outChannels, tembChannels, groups, eps, 1.0, dtype, device);
        }

        resnets = nn.ModuleList(res);
        downsamplers = addDownsample ? nn.ModuleList(new Downsample3D(outChannels, downsamplePadding, dtype, device)) : null;
        RegisterComponents();
    }

    /// <summary>Runs the block.</summary>
    /// <param name="hiddenStates">Video features (B, C, F, H, W).</param>
    /// <param name="temb">Time embedding (B, temb).</param>
    /// <param name="encoderHiddenStates">Ignored (no attention).</param>
    public override DownBlock3DOutput forward(Tensor hiddenStates, Tensor temb, Tensor? encoderHiddenStates)
    {
        // DownBlock3D.forward
        using var scope = NewDisposeScope();
        var outputs = new List<Tensor>();
        var h = hiddenStates;
        for (int i = 0; i < resnets.Count; i++)
        {
            h = resnets[i].forward(h, temb);

            outputs.Add(h);
        }

        if (downsamplers is not null)
        {
            h = downsamplers[0].forward(h);
            outputs.Add(h);
        }

        foreach (var o in outputs)
        {
            o.MoveToOuterDisposeScope();
        }

        return new DownBlock3DOutput(h, outputs);
    }
}
