namespace Vchitect.Core.Weights;

/// <summary>Options for <see cref="WeightFiles.Open"/>, passed on to the reader of each format.</summary>
public sealed record WeightFileOptions
{
    /// <summary>How PyTorch checkpoints (<c>.bin</c>, <c>.pt</c>, <c>.pth</c>, <c>.ckpt</c>) find their state dict; null for the reader's defaults.</summary>
    public TorchCheckpointOptions? Checkpoint { get; init; }

    /// <summary>How safetensors files are read (header cap, memory mapping); null for the reader's defaults.</summary>
    public SafetensorsReadOptions? Safetensors { get; init; }
}
