namespace Vchitect.Core.Weights;

/// <summary>How <see cref="TorchCheckpoint.Open(string, TorchCheckpointOptions?)"/> finds the state dict inside a checkpoint.</summary>
public sealed record TorchCheckpointOptions
{
    /// <summary>
    /// The wrapper keys training scripts commonly use, in the order they are tried:
    /// <c>state_dict</c>, <c>ema</c>, <c>model</c>, <c>module</c>.
    /// </summary>
    public static IReadOnlyList<string> DefaultWrapperKeys { get; } = ["state_dict", "ema", "model", "module"];

    /// <summary>
    /// Keys to unwrap, tried in order: when the root object is a dict holding one of them whose value is a dict of
    /// tensors, that inner dict is the state dict (the first match in this list wins). When none matches, the root
    /// itself must be a dict of tensors. Default: empty (the root must be the state dict).
    /// Use <see cref="DefaultWrapperKeys"/> for the usual training checkpoints.
    /// </summary>
    public IReadOnlyList<string> Unwrap { get; init; } = [];

    /// <summary>
    /// When true, dicts with string keys nested in the state dict are flattened, joining keys with '.'
    /// (<c>{"unet": {"conv.weight": t}}</c> gives <c>unet.conv.weight</c>). Default false: a nested dict is a
    /// non-tensor value, and the state dict is refused with a message suggesting <see cref="Unwrap"/>.
    /// </summary>
    public bool FlattenNestedDicts { get; init; }
}
