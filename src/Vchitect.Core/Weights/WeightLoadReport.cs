using System.Globalization;
using System.Text;

namespace Vchitect.Core.Weights;

/// <summary>A tensor whose stored shape differs from the module's.</summary>
/// <param name="Key">The module key.</param>
/// <param name="SourceKey">The key in the checkpoint (differs from <paramref name="Key"/> when renamed).</param>
/// <param name="ModuleShape">The shape the module expects.</param>
/// <param name="SourceShape">The shape the checkpoint stores.</param>
public sealed record ShapeMismatch(string Key, string SourceKey, IReadOnlyList<long> ModuleShape, IReadOnlyList<long> SourceShape)
{
    /// <inheritdoc/>
    public override string ToString()
    {
        string renamed = SourceKey == Key ? string.Empty : $" (stored as '{SourceKey}')";
        return $"{Key}{renamed}: module [{string.Join(", ", ModuleShape)}], weights [{string.Join(", ", SourceShape)}]";
    }
}

/// <summary>What <see cref="ModuleWeights.Load"/> did: which keys were loaded and which did not match.</summary>
public sealed class WeightLoadReport
{
    /// <summary>Creates a report.</summary>
    /// <param name="loaded">Module keys whose values were copied from the checkpoint.</param>
    /// <param name="missing">Module keys the checkpoint lacks (not ignored).</param>
    /// <param name="unexpected">Checkpoint keys (as stored) the module lacks (not ignored, not skipped).</param>
    /// <param name="shapeMismatches">Keys present in both with different shapes.</param>
    /// <param name="skipped">Checkpoint keys left out by the prefix or the key map.</param>
    /// <param name="ignored">Missing or unexpected keys that matched an ignore pattern.</param>
    public WeightLoadReport(
        IReadOnlyList<string> loaded,
        IReadOnlyList<string> missing,
        IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> shapeMismatches,
        IReadOnlyList<string> skipped,
        IReadOnlyList<string> ignored)
    {
        Loaded = loaded ?? throw new ArgumentNullException(nameof(loaded));
        Missing = missing ?? throw new ArgumentNullException(nameof(missing));
        Unexpected = unexpected ?? throw new ArgumentNullException(nameof(unexpected));
        ShapeMismatches = shapeMismatches ?? throw new ArgumentNullException(nameof(shapeMismatches));
        Skipped = skipped ?? throw new ArgumentNullException(nameof(skipped));
        Ignored = ignored ?? throw new ArgumentNullException(nameof(ignored));
    }

    /// <summary>Module keys whose values were copied from the checkpoint, in module order.</summary>
    public IReadOnlyList<string> Loaded { get; }

    /// <summary>Module keys (parameters and persistent buffers) that the checkpoint lacks, in module order.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>Checkpoint keys, as stored, that match no module key, in checkpoint order.</summary>
    public IReadOnlyList<string> Unexpected { get; }

    /// <summary>Keys present in both whose shapes differ; those tensors were not loaded.</summary>
    public IReadOnlyList<ShapeMismatch> ShapeMismatches { get; }

    /// <summary>Checkpoint keys left out on purpose by <see cref="WeightLoadOptions.StripPrefix"/> or <see cref="WeightLoadOptions.KeyMap"/>.</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary>Missing module keys and unexpected checkpoint keys that matched an ignore pattern.</summary>
    public IReadOnlyList<string> Ignored { get; }

    /// <summary>True when every module key was loaded and every used checkpoint key matched (ignored keys aside).</summary>
    public bool IsComplete => Missing.Count == 0 && Unexpected.Count == 0 && ShapeMismatches.Count == 0;

    /// <summary>A multi-line description: the counts, then every missing, unexpected and mismatched key, grouped.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture,
            $"{Loaded.Count} loaded, {Missing.Count} missing, {Unexpected.Count} unexpected, {ShapeMismatches.Count} shape mismatches, {Skipped.Count} skipped, {Ignored.Count} ignored.");
        AppendGroup(sb, "Missing", "in the module, not in the weights", Missing);
        AppendGroup(sb, "Unexpected", "in the weights, not in the module", Unexpected);
        AppendGroup(sb, "Shape mismatches", "not loaded", ShapeMismatches.Select(m => m.ToString()).ToList());
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Loaded.Count} loaded, {Missing.Count} missing, {Unexpected.Count} unexpected, {ShapeMismatches.Count} shape mismatches";

    private static void AppendGroup(StringBuilder sb, string title, string meaning, IReadOnlyList<string> keys)
    {
        if (keys.Count == 0)
        {
            return;
        }

        sb.Append('\n').Append(CultureInfo.InvariantCulture, $"{title} ({keys.Count}, {meaning}):");
        foreach (string key in keys)
        {
            sb.Append("\n  ").Append(key);
        }
    }
}
