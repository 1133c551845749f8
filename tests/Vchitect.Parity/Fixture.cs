using System.Text.Json;
using Vchitect.Core.Weights;
using static TorchSharp.torch;

namespace Vchitect.Parity;

/// <summary>
/// One fixture file made by the Python reference: <c>weights.*</c> (the reference state dict under its real keys),
/// <c>in.*</c> inputs, <c>out.*</c> reference outputs, and <c>__metadata__</c> with <c>component</c>, <c>config</c>
/// and <c>notes</c> (JSON text).
/// </summary>
public sealed class Fixture : IDisposable
{
    private readonly SafetensorsFile _file;

    private Fixture(string path, SafetensorsFile file)
    {
        Path = path;
        _file = file;
        Component = file.Metadata.TryGetValue("component", out string? c) ? c : null;
        Config = ParseJson(file.Metadata, "config");
        Notes = ParseJson(file.Metadata, "notes");
    }

    /// <summary>The fixture file's path.</summary>
    public string Path { get; }

    /// <summary>The component under test, or null when the file has none.</summary>
    public string? Component { get; }

    /// <summary>The constructor kwargs the reference was built with (<c>__metadata__.config</c>).</summary>
    public JsonElement Config { get; }

    /// <summary>The reference's notes (<c>__metadata__.notes</c>): the call made, cross-checks, constants.</summary>
    public JsonElement Notes { get; }

    /// <summary>The whole file, all keys.</summary>
    public IWeightSource File => _file;

    /// <summary>Raw metadata strings.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _file.Metadata;

    /// <summary>Names of the reference outputs (keys without the <c>out.</c> prefix), in file order.</summary>
    public IReadOnlyList<string> Outputs => _file.Keys.Where(k => k.StartsWith("out.", StringComparison.Ordinal)).Select(k => k[4..]).ToArray();

    /// <summary>Opens a fixture file.</summary>
    public static Fixture Open(string path) => new(path, SafetensorsFile.Open(path));

    /// <summary>Whether an input named <c>in.&lt;name&gt;</c> exists.</summary>
    public bool HasInput(string name) => _file.Contains("in." + name);

    /// <summary>Reads input <c>in.&lt;name&gt;</c>.</summary>
    public Tensor In(string name) => _file.ReadTensor("in." + name);

    /// <summary>Reads reference output <c>out.&lt;name&gt;</c>.</summary>
    public Tensor Out(string name) => _file.ReadTensor("out." + name);

    /// <summary>The reference weights (<c>weights.*</c>) as a weight source with the prefix removed (plus an optional sub-prefix).</summary>
    public IWeightSource Weights(string subPrefix = "") => new PrefixedWeightSource(_file, "weights." + subPrefix);

    /// <inheritdoc/>
    public void Dispose() => _file.Dispose();

    private static JsonElement ParseJson(IReadOnlyDictionary<string, string> metadata, string key)
    {
        if (!metadata.TryGetValue(key, out string? text))
        {
            return default;
        }

        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            using var doc = JsonDocument.Parse(JsonSerializer.Serialize(text));
            return doc.RootElement.Clone();
        }
    }

    /// <summary>A view of a weight source restricted to keys under a prefix, with the prefix removed. Does not own the source.</summary>
    private sealed class PrefixedWeightSource(IWeightSource inner, string prefix) : IWeightSource
    {
        private readonly string[] _keys = inner.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Select(k => k[prefix.Length..]).ToArray();

        public string Description => $"{inner.Description} [{prefix}*]";

        public IReadOnlyList<string> Keys => _keys;

        public bool Contains(string key) => inner.Contains(prefix + key);

        public TensorInfo GetInfo(string key) => inner.GetInfo(prefix + key) with { Name = key };

        public Tensor ReadTensor(string key, ScalarType? dtype = null, Device? device = null) => inner.ReadTensor(prefix + key, dtype, device);

        public void Dispose()
        {
        }
    }
}
