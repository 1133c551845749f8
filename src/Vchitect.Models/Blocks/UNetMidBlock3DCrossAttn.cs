using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>LaVie's <c>UNetMidBlock3DCrossAttn</c>: <c>resnets.0</c>, then each <c>attentions.i</c> followed by <c>resnets.i+1</c>.</summary>
public sealed class UNetMidBlock3DCrossAttn : nn.Module<Tensor, Tensor, Tensor?, Tensor>
{
    private readonly ModuleList<Transformer3DModel> attentions;
    private readonly ModuleList<ResnetBlock3D> resnets;

    /// <summary>Creates the block.</summary>
    /// <param name="inChannels">Channels (in = out).</param>
    /// <param name="tembChannels">Time embedding width.</param>
    /// <param name="groups">GroupNorm groups.</param>
    /// <param name="eps">Resnet GroupNorm epsilon.</param>
    /// <param name="outputScaleFactor">Resnet output scale (SD's <c>mid_block_scale_factor</c>).</param>
    /// <param name="heads">Attention heads.</param>
    /// <param name="crossAttentionDim">Text feature width.</param>
    /// <param name="numLayers">Attention layers (1).</param>
    /// <param name="useLinearProjection">Linear proj_in/out.</param>
    /// <param name="upcastAttention">Attention in float32.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    /// <param name="useFirstFrame">LaVie interpolation / VideoBooth transformer blocks (sparse-causal <c>attn1</c>, position-free temporal attention after the feed-forward); see <see cref="BasicTransformerBlock"/>.</param>
    public UNetMidBlock3DCrossAttn(long inChannels, long tembChannels, long groups, double eps, double outputScaleFactor, long heads, long crossAttentionDim, long numLayers = 1, bool useLinearProjection = false, bool upcastAttention = false, ScalarType? dtype = null, Device? device = null, bool useFirstFrame = false)
        : base(nameof(UNetMidBlock3DCrossAttn))
    {
        var res = new ResnetBlock3D[numLayers + 1];
        var att = new Transformer3DModel[numLayers];
        res[0] = new ResnetBlock3D(inChannels, inChannels, tembChannels, groups, eps, outputScaleFactor, dtype, device);
        for (int i = 0; i < numLayers; i++)
        {
            att[i] = new Transformer3DModel(heads, inChannels / heads, inChannels, 1, groups, crossAttentionDim, useLinearProjection, upcastAttention, false, dtype, device, useFirstFrame);
            res[i + 1] = new ResnetBlock3D(inChannels, inChannels, tembChannels, groups, eps, outputScaleFactor, dtype, device);
        }

        attentions = nn.ModuleList(att);
        resnets = nn.ModuleList(res);
        RegisterComponents();
    }

    /// <summary>Runs the block.</summary>
    /// <param name="hiddenStates">Video features (B, C, F, H, W).</param>
    /// <param name="temb">Time embedding (B, temb).</param>
    /// <param name="encoderHiddenStates">Text features (B, L, D).</param>
    public override Tensor forward(Tensor hiddenStates, Tensor temb, Tensor? encoderHiddenStates)
    {
        // UNetMidBlock3DCrossAttn.forward
        using var scope = NewDisposeScope();
        var h = resnets[0].forward(hiddenStates, temb);
        for (int i = 0; i < attentions.Count; i++)
        {
            h = attentions[i].forward(h, encoderHiddenStates);
            h = resnets[i + 1].forward(h, temb);
        }

        return h.MoveToOuterDisposeScope();
    }
}
