namespace Vchitect.Core.Weights;

/// <summary>Opens a weights file of any supported format, chosen by its name.</summary>
public static class WeightFiles
{
    /// <summary>The file name endings <see cref="Open"/> recognises.</summary>
    public static IReadOnlyList<string> SupportedExtensions { get; } = [".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".index.json"];

    /// <summary>
    /// Opens a weights file as an <see cref="IWeightSource"/>: <c>.safetensors</c> as safetensors;
    /// <c>.bin</c>, <c>.pt</c>, <c>.pth</c>, <c>.ckpt</c> as PyTorch checkpoints (restricted unpickler, no code runs);
    /// a name ending in <c>.json</c> with <c>.index</c> in it (<c>model.safetensors.index.json</c>,
    /// <c>diffusion_pytorch_model.safetensors.index.fp16.json</c>) as a sharded set.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Options for the readers; null for their defaults.</param>
    /// <returns>The open source, which the caller disposes.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="NotSupportedException">The name has no supported ending; the message lists them.</exception>
    /// <exception cref="WeightsFormatException">The file is malformed or unsafe.</exception>
    public static IWeightSource Open(string path, WeightFileOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Weights file not found: {path}", path);
        }

        string name = Path.GetFileName(path);
        if (IsShardIndexName(name))
        {
            return ShardedWeightSource.Open(path, options);
        }

        string extension = Path.GetExtension(name).ToLowerInvariant();
        return extension switch
        {
            ".safetensors" => SafetensorsFile.Open(path, options?.Safetensors),
            ".bin" or ".pt" or ".pth" or ".ckpt" => TorchCheckpoint.Open(path, options?.Checkpoint),
            _ => throw new NotSupportedException(
                $"{path}: unknown weights format '{extension}'; supported: {string.Join(", ", SupportedExtensions)}."),
        };
    }

    /// <summary>Whether a file name is a shard index: ends in <c>.json</c> and has an <c>.index.</c> part.</summary>
    internal static bool IsShardIndexName(string name) =>
        name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && name.Contains(".index.", StringComparison.OrdinalIgnoreCase);

}
