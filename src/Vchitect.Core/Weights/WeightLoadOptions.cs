using static TorchSharp.torch;

namespace Vchitect.Core.Weights;

/// <summary>How <see cref="ModuleWeights.Load"/> matches checkpoint keys to a module's parameters and buffers.</summary>
/// <remarks>
/// A checkpoint key becomes a module key in three steps, in this order: <see cref="StripPrefix"/> is removed (keys
/// without it are skipped), <see cref="KeyMap"/> renames it (or drops it), <see cref="AddPrefix"/> is prepended.
/// Skipped and dropped keys are listed in <see cref="WeightLoadReport.Skipped"/>, never as unexpected.
/// </remarks>
public sealed record WeightLoadOptions
{
    /// <summary>The defaults: strict, no renaming, the module's own dtype and device.</summary>
    public static WeightLoadOptions Default { get; } = new();

    /// <summary>
    /// When true (the default), any missing or unexpected key fails the load with one
    /// <see cref="StateDictMismatchException"/> listing them all, before anything is copied. When false, what matches is
    /// loaded and the rest is reported. Shape mismatches fail in both modes unless <see cref="SkipShapeMismatches"/>.
    /// </summary>
    public bool Strict { get; init; } = true;

    /// <summary>
    /// When true, a tensor whose shape differs from the module's is left untouched and listed in
    /// <see cref="WeightLoadReport.ShapeMismatches"/> instead of failing the load (diffusers' <c>ignore_mismatched_sizes</c>).
    /// Default false.
    /// </summary>
    public bool SkipShapeMismatches { get; init; }

    /// <summary>
    /// Only checkpoint keys starting with this prefix are used, with the prefix removed, e.g. <c>"model.diffusion_model."</c>
    /// to take the UNet out of a whole-pipeline checkpoint; other keys are skipped. Null (the default) uses every key.
    /// </summary>
    public string? StripPrefix { get; init; }

    /// <summary>
    /// Renames a checkpoint key (after <see cref="StripPrefix"/>) to the module's key; returning null drops the key.
    /// Null (the default) keeps keys as they are. Two checkpoint keys mapping to one module key is an error.
    /// </summary>
    public Func<string, string?>? KeyMap { get; init; }

    /// <summary>Prepended to every checkpoint key after <see cref="KeyMap"/>; null (the default) adds nothing.</summary>
    public string? AddPrefix { get; init; }

    /// <summary>
    /// Glob patterns (<c>*</c>: any run of characters, dots included; <c>?</c>: one character) of module keys that may be
    /// absent from the checkpoint, e.g. <c>"*.rotary_emb.freqs"</c>. Matching keys are listed in
    /// <see cref="WeightLoadReport.Ignored"/> and keep the module's values. Empty by default.
    /// </summary>
    public IReadOnlyList<string> IgnoreMissing { get; init; } = [];

    /// <summary>
    /// Glob patterns of checkpoint keys the module may lack, matched against the key as stored and as mapped
    /// (e.g. <c>"*.num_batches_tracked"</c>). Matching keys are listed in <see cref="WeightLoadReport.Ignored"/>. Empty by default.
    /// </summary>
    public IReadOnlyList<string> IgnoreUnexpected { get; init; } = [];

    /// <summary>
    /// Converts the module's floating-point parameters and buffers to this type (integer buffers keep theirs), after the
    /// checks pass and before copying, so each tensor is read from the file straight into this type.
    /// Null (the default) keeps the module's types; the file's types are then converted to the module's.
    /// Must be a floating-point type.
    /// </summary>
    public ScalarType? DType { get; init; }

    /// <summary>
    /// Moves the module to this device after the checks pass and before copying; each tensor is read straight onto it.
    /// Null (the default) keeps the module where it is.
    /// </summary>
    public Device? Device { get; init; }
}
