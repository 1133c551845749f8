using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace Vchitect.Schedulers.Tests;

/// <summary>
/// Minimal reader of the fixture safetensors files (F32 / I64 only), used until Vchitect.Core's SafetensorsFile lands on
/// this branch. It is deliberately tiny and test-only: the header is 8-byte little-endian length + JSON.
/// </summary>
internal sealed class FixtureReader
{
    private readonly byte[] _bytes;
    private readonly long _dataStart;
    private readonly Dictionary<string, (string DType, long[] Shape, long Begin, long End)> _entries = new(StringComparer.Ordinal);

    public FixtureReader(string path)
    {
        _bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(_bytes);
        _dataStart = 8 + headerLength;
        using var doc = JsonDocument.Parse(_bytes.AsMemory(8, (int)headerLength));
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                foreach (var m in p.Value.EnumerateObject())
                {
                    Metadata[m.Name] = m.Value.GetString() ?? "";
                }

                continue;
            }

            var offsets = p.Value.GetProperty("data_offsets");
            _entries[p.Name] = (
                p.Value.GetProperty("dtype").GetString()!,
                p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
                offsets[0].GetInt64(),
                offsets[1].GetInt64());
        }
    }

    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    public IEnumerable<string> Keys => _entries.Keys;

    public bool Contains(string key) => _entries.ContainsKey(key);

    public JsonElement MetaJson(string name) => JsonDocument.Parse(Metadata[name]).RootElement;

    public Tensor Read(string key)
    {
        if (!_entries.TryGetValue(key, out var e))
        {
            throw new KeyNotFoundException($"fixture has no tensor '{key}'");
        }

        var span = _bytes.AsSpan((int)(_dataStart + e.Begin), (int)(e.End - e.Begin));
        return e.DType switch
        {
            "F32" => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(span).ToArray(), e.Shape),
            "I64" => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(span).ToArray(), e.Shape),
            _ => throw new NotSupportedException($"fixture dtype {e.DType}"),
        };
    }
}
