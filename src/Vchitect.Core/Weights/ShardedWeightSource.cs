using System.Text.Json;
using static TorchSharp.torch;

namespace Vchitect.Core.Weights;

/// <summary>
/// A checkpoint split into shard files, seen as one <see cref="IWeightSource"/> through its index
/// (<c>model.safetensors.index.json</c>: <c>{"metadata": {...}, "weight_map": {key: shard file name}}</c>).
/// </summary>
/// <remarks>
/// Opening reads and checks the index only: every shard name must be a plain file name in the index's folder, and every
/// shard must exist. A shard is opened the first time one of its keys is asked for, and then checked to hold every key
/// the index gives it. Shards stay open until the source is disposed. Not thread-safe.
/// </remarks>
public sealed class ShardedWeightSource : IWeightSource
{
    /// <summary>Largest index file accepted, in bytes.</summary>
    public const long MaxIndexBytes = 64L * 1024 * 1024;

    private readonly Dictionary<string, string> _shardOf;
    private readonly string[] _keys;
    private readonly string _folder;
    private readonly Func<string, IWeightSource> _openShard;
    private readonly Dictionary<string, IWeightSource> _open = new(StringComparer.Ordinal);
    private bool _disposed;

    private ShardedWeightSource(
        string indexPath,
        Dictionary<string, string> shardOf,
        string[] keys,
        IReadOnlyList<string> shardFiles,
        IReadOnlyDictionary<string, JsonElement> metadata,
        Func<string, IWeightSource> openShard)
    {
        IndexPath = indexPath;
        _folder = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        _shardOf = shardOf;
        _keys = keys;
        ShardFiles = shardFiles;
        Metadata = metadata;
        _openShard = openShard;
        Description = $"{indexPath} ({shardFiles.Count} shards)";
    }

    /// <summary>The index file.</summary>
    public string IndexPath { get; }

    /// <summary>The shard file names, in order of first appearance in the index.</summary>
    public IReadOnlyList<string> ShardFiles { get; }

    /// <summary>The index's <c>metadata</c> object (e.g. <c>total_size</c>); empty when absent.</summary>
    public IReadOnlyDictionary<string, JsonElement> Metadata { get; }

    /// <inheritdoc/>
    public string Description { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> Keys
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _keys;
        }
    }

    /// <summary>Opens a shard index; shards are opened with <see cref="WeightFiles.Open"/> when first needed.</summary>
    /// <param name="indexPath">The <c>*.index.json</c> file.</param>
    /// <param name="options">Options for the shards' readers; null for their defaults.</param>
    /// <exception cref="FileNotFoundException">The index, or one of the shards it names, does not exist; the message names both.</exception>
    /// <exception cref="WeightsFormatException">The index is malformed, too large, or names a shard outside its folder.</exception>
    public static ShardedWeightSource Open(string indexPath, WeightFileOptions? options = null) =>
        Open(indexPath, path => WeightFiles.Open(path, options));

    /// <summary>Opens a shard index with a custom shard opener (tests, other formats).</summary>
    internal static ShardedWeightSource Open(string indexPath, Func<string, IWeightSource> openShard)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexPath);
        var info = new FileInfo(indexPath);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"Shard index not found: {indexPath}", indexPath);
        }

        if (info.Length > MaxIndexBytes)
        {
            throw new WeightsFormatException(indexPath, null, $"index is {info.Length} bytes; at most {MaxIndexBytes} are accepted.");
        }

        var shardOf = new Dictionary<string, string>(StringComparer.Ordinal);
        var keys = new List<string>();
        var shards = new List<string>();
        var metadata = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new WeightsFormatException(indexPath, null, $"expected a JSON object with \"weight_map\", got {root.ValueKind}.");
            }

            if (!root.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new WeightsFormatException(indexPath, null, "no \"weight_map\" object mapping tensor names to shard files.");
            }

            if (root.TryGetProperty("metadata", out JsonElement meta) && meta.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty p in meta.EnumerateObject())
                {
                    metadata[p.Name] = p.Value.Clone();
                }
            }

            var seenShards = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    throw new WeightsFormatException(indexPath, entry.Name, $"shard must be a file name string, got {entry.Value.ValueKind}.");
                }

                string shard = entry.Value.GetString()!;
                CheckShardName(indexPath, entry.Name, shard);
                if (!shardOf.TryAdd(entry.Name, shard))
                {
                    throw new WeightsFormatException(indexPath, entry.Name, "listed twice in weight_map.");
                }

                keys.Add(entry.Name);
                if (seenShards.Add(shard))
                {
                    shards.Add(shard);
                }
            }
        }
        catch (JsonException e)
        {
            throw new WeightsFormatException(indexPath, null, $"not valid JSON ({e.Message})", e);
        }

        string folder = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        string[] absent = shards.Where(s => !File.Exists(Path.Combine(folder, s))).ToArray();
        if (absent.Length > 0)
        {
            string first = Path.Combine(folder, absent[0]);
            throw new FileNotFoundException(
                $"{indexPath}: {absent.Length} of {shards.Count} shard files missing from {folder}: {string.Join(", ", absent)}.", first);
        }

        return new ShardedWeightSource(indexPath, shardOf, keys.ToArray(), shards, metadata, openShard);
    }

    /// <summary>The shard file name that holds a key.</summary>
    /// <exception cref="KeyNotFoundException">The index has no such key.</exception>
    public string GetShardFile(string key) => ShardOf(key);

    /// <inheritdoc/>
    public bool Contains(string key)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _shardOf.ContainsKey(key);
    }

    /// <inheritdoc/>
    public TensorInfo GetInfo(string key) => ShardFor(key).GetInfo(key);

    /// <inheritdoc/>
    public Tensor ReadTensor(string key, ScalarType? dtype = null, Device? device = null) => ShardFor(key).ReadTensor(key, dtype, device);

    /// <summary>Closes every shard opened so far.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (IWeightSource shard in _open.Values)
        {
            shard.Dispose();
        }

        _open.Clear();
    }

    private static void CheckShardName(string indexPath, string key, string shard)
    {
        bool plain = shard.Length > 0
            && shard != "." && shard != ".."
            && shard.IndexOfAny(['/', '\\', ':', '\0']) < 0
            && !shard.Contains("..", StringComparison.Ordinal)
            && !WeightFiles.IsShardIndexName(shard);
        if (!plain)
        {
            throw new WeightsFormatException(
                indexPath, key, $"shard file name '{shard}' refused: it must be a plain file name in the index's folder (no '/', '\\', ':' or '..'), and not another index.");
        }
    }

    private string ShardOf(string key)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(key);
        return _shardOf.TryGetValue(key, out string? shard)
            ? shard
            : throw new KeyNotFoundException($"{Description}: no tensor '{key}' in weight_map.");
    }

    private IWeightSource ShardFor(string key)
    {
        string shard = ShardOf(key);
        if (_open.TryGetValue(shard, out IWeightSource? source))
        {
            return source;
        }

        string path = Path.Combine(_folder, shard);
        source = _openShard(path);
        try
        {
            string[] lacking = _shardOf.Where(kv => kv.Value == shard && !source.Contains(kv.Key)).Select(kv => kv.Key).ToArray();
            if (lacking.Length > 0)
            {
                throw new WeightsFormatException(
                    path, lacking[0], $"the index {IndexPath} puts {lacking.Length} tensors in this shard that it does not hold: {string.Join(", ", lacking)}.");
            }
        }
        catch
        {
            source.Dispose();
            throw;
        }

        _open.Add(shard, source);
        return source;
    }
}
