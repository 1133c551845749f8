using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>What a 3-D down block returns: its output and the skip tensors for the up path (the last one is the output itself).</summary>
/// <param name="Sample">The block's output (B, C, F, H, W).</param>
/// <param name="ResSamples">The states after each resnet (and attention) and after the downsampler, in order.</param>
public sealed record DownBlock3DOutput(Tensor Sample, IReadOnlyList<Tensor> ResSamples);
