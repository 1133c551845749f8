using System.Collections.ObjectModel;
using System.Text.Json;
using System.Text.Unicode;

namespace Vchitect.Core.Weights;

/// <summary>One tensor entry of a validated safetensors header: what it is and where its bytes lie in the data region.</summary>
/// <param name="Info">Name, dtype and shape.</param>
/// <param name="Begin">First byte, relative to the start of the data region.</param>
/// <param name="End">One past the last byte, relative to the start of the data region.</param>
internal sealed record SafetensorsEntry(TensorInfo Info, long Begin, long End)
{
    /// <summary>Number of stored bytes.</summary>
    public long ByteLength => End - Begin;
}

/// <summary>
/// Parses and fully validates a safetensors JSON header (the bytes between the 8-byte length prefix and the data region).
/// </summary>
/// <remarks>
/// The rules are those of the format (https://github.com/huggingface/safetensors) as the official Rust crate enforces them:
/// a JSON object; an optional <c>__metadata__</c> object of strings; every other member a tensor with exactly
/// <c>dtype</c>, <c>shape</c> and <c>data_offsets</c>; byte lengths matching dtype and shape; and, sorted by offset,
/// tensors that tile the data region exactly, with no gap, overlap or trailing byte.
/// </remarks>
internal static class SafetensorsHeader
{
    /// <summary>The reserved member that holds the string-to-string metadata map.</summary>
    public const string MetadataKey = "__metadata__";

    // Root object, tensor object, shape array: 3 levels. A little headroom, but nothing a hostile file can use to recurse deeply.
    private const int MaxJsonDepth = 8;

    // Values quoted in messages are cut to this many characters, so a hostile header cannot produce a huge message.
    private const int MaxQuotedChars = 200;

    private static readonly string KnownDTypes = string.Join(", ", Enum.GetValues<WeightDType>().Select(d => d.ToSafetensorsName()));

    /// <summary>Parses the header and checks it against a data region of <paramref name="dataLength"/> bytes.</summary>
    /// <param name="filePath">The file, for messages.</param>
    /// <param name="header">The header bytes (UTF-8 JSON, possibly padded with spaces).</param>
    /// <param name="dataLength">Length of the data region in bytes (file length − 8 − header length).</param>
    /// <param name="metadata">The <c>__metadata__</c> map (empty when absent).</param>
    /// <returns>The entries, in data order (by begin offset; ties, which only empty tensors can have, in header order).</returns>
    /// <exception cref="WeightsFormatException">Anything about the header is wrong.</exception>
    public static IReadOnlyList<SafetensorsEntry> Parse(
        string filePath, ReadOnlyMemory<byte> header, long dataLength, out IReadOnlyDictionary<string, string> metadata)
    {
        ReadOnlySpan<byte> bytes = header.Span;
        if (!Utf8.IsValid(bytes))
        {
            throw Error(filePath, null, "the header is not valid UTF-8.");
        }

        // The format is plain JSON; System.Text.Json would skip a byte-order mark, the reference reader does not.
        if (bytes.StartsWith("\uFEFF"u8))
        {
            throw Error(filePath, null, "the header starts with a UTF-8 byte-order mark; expected '{'.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions
            {
                MaxDepth = MaxJsonDepth,
                CommentHandling = JsonCommentHandling.Disallow,
                AllowTrailingCommas = false,
            });
        }
        catch (JsonException ex)
        {
            throw Error(filePath, null, $"the header is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Error(filePath, null, $"the header must be a JSON object; got a JSON {Describe(root.ValueKind)}.");
            }

            var entries = new List<SafetensorsEntry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            ReadOnlyDictionary<string, string>? meta = null;
            foreach (JsonProperty member in root.EnumerateObject())
            {
                string name = GetName(filePath, null, member);
                if (!names.Add(name))
                {
                    throw Error(filePath, name, "the name appears more than once in the header; expected unique names.");
                }

                if (name == MetadataKey)
                {
                    meta = ParseMetadata(filePath, member.Value);
                    continue;
                }

                if (name.Length == 0)
                {
                    throw Error(filePath, null, "a tensor has an empty name; expected a non-empty string.");
                }

                entries.Add(ParseEntry(filePath, name, member.Value, dataLength));
            }

            metadata = meta ?? new Dictionary<string, string>(StringComparer.Ordinal).AsReadOnly();
            return CheckLayout(filePath, entries, dataLength);
        }
    }

    private static ReadOnlyDictionary<string, string> ParseMetadata(string filePath, JsonElement value)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);

        // The reference reader (serde's Option) takes null as "no metadata".
        if (value.ValueKind == JsonValueKind.Null)
        {
            return map.AsReadOnly();
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Error(filePath, MetadataKey, $"expected a JSON object of string values; got a JSON {Describe(value.ValueKind)}.");
        }

        foreach (JsonProperty item in value.EnumerateObject())
        {
            string key = GetName(filePath, MetadataKey, item);
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw Error(filePath, MetadataKey,
                    $"the value of '{Quote(key)}' is a JSON {Describe(item.Value.ValueKind)} ({Raw(item.Value)}); expected a string.");
            }

            if (!map.TryAdd(key, GetString(filePath, MetadataKey, item.Value)))
            {
                throw Error(filePath, MetadataKey, $"the key '{Quote(key)}' appears more than once; expected unique keys.");
            }
        }

        return map.AsReadOnly();
    }

    private static SafetensorsEntry ParseEntry(string filePath, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Error(filePath, name,
                $"expected an object with dtype, shape and data_offsets; got a JSON {Describe(value.ValueKind)} ({Raw(value)}).");
        }

        JsonElement? dtypeValue = null, shapeValue = null, offsetsValue = null;
        foreach (JsonProperty field in value.EnumerateObject())
        {
            string fieldName = GetName(filePath, name, field);
            ref JsonElement? slot = ref dtypeValue;
            switch (fieldName)
            {
                case "dtype": slot = ref dtypeValue; break;
                case "shape": slot = ref shapeValue; break;
                case "data_offsets": slot = ref offsetsValue; break;
                default:
                    throw Error(filePath, name, $"unexpected field '{Quote(fieldName)}'; expected exactly dtype, shape and data_offsets.");
            }

            if (slot is not null)
            {
                throw Error(filePath, name, $"the field '{fieldName}' appears more than once.");
            }

            slot = field.Value;
        }

        JsonElement dtypeJson = dtypeValue ?? throw Error(filePath, name, "the field 'dtype' is missing.");
        JsonElement shapeJson = shapeValue ?? throw Error(filePath, name, "the field 'shape' is missing.");
        JsonElement offsetsJson = offsetsValue ?? throw Error(filePath, name, "the field 'data_offsets' is missing.");

        if (dtypeJson.ValueKind != JsonValueKind.String)
        {
            throw Error(filePath, name, $"dtype is a JSON {Describe(dtypeJson.ValueKind)} ({Raw(dtypeJson)}); expected one of {KnownDTypes}.");
        }

        string dtypeName = GetString(filePath, name, dtypeJson);
        if (!WeightDTypes.TryParseSafetensorsName(dtypeName, out WeightDType dtype))
        {
            throw Error(filePath, name, $"dtype '{Quote(dtypeName)}' is not supported; expected one of {KnownDTypes}.");
        }

        long[] shape = ReadIntegers(filePath, name, "shape", shapeJson, expectedCount: null);
        long elements = 1;
        foreach (long d in shape)
        {
            if (d != 0 && elements > long.MaxValue / d)
            {
                throw Error(filePath, name, $"shape [{string.Join(", ", shape)}] has more than {long.MaxValue} elements.");
            }

            elements *= d;
        }

        int elementSize = dtype.ElementSize();
        if (elements > long.MaxValue / elementSize)
        {
            throw Error(filePath, name, $"{dtype.ToSafetensorsName()} [{string.Join(", ", shape)}] needs more than {long.MaxValue} bytes.");
        }

        long expectedBytes = elements * elementSize;
        long[] offsets = ReadIntegers(filePath, name, "data_offsets", offsetsJson, expectedCount: 2);
        long begin = offsets[0], end = offsets[1];
        if (begin > end)
        {
            throw Error(filePath, name, $"data_offsets [{begin}, {end}] begin after they end; expected begin <= end.");
        }

        if (end > dataLength)
        {
            throw Error(filePath, name,
                $"data_offsets [{begin}, {end}] run past the end of the data region ({dataLength} bytes); expected end <= {dataLength}.");
        }

        if (end - begin != expectedBytes)
        {
            throw Error(filePath, name,
                $"data_offsets [{begin}, {end}] hold {end - begin} bytes but {dtype.ToSafetensorsName()} [{string.Join(", ", shape)}] " +
                $"needs {expectedBytes} ({elements} elements of {elementSize} bytes).");
        }

        return new SafetensorsEntry(new TensorInfo(name, dtype, shape), begin, end);
    }

    private static long[] ReadIntegers(string filePath, string name, string field, JsonElement value, int? expectedCount)
    {
        string expected = expectedCount is int n
            ? $"an array of {n} non-negative integers"
            : "an array of non-negative integers";
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Error(filePath, name, $"{field} is a JSON {Describe(value.ValueKind)} ({Raw(value)}); expected {expected}.");
        }

        int count = value.GetArrayLength();
        if (expectedCount is int want && count != want)
        {
            throw Error(filePath, name, $"{field} has {count} values ({Raw(value)}); expected {expected}.");
        }

        var result = new long[count];
        int i = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v))
            {
                throw Error(filePath, name, $"{field}[{i}] is {Raw(item)}; expected a non-negative integer no larger than {long.MaxValue}.");
            }

            if (v < 0)
            {
                throw Error(filePath, name, $"{field}[{i}] is {v}; expected a non-negative integer.");
            }

            result[i++] = v;
        }

        return result;
    }

    private static SafetensorsEntry[] CheckLayout(string filePath, List<SafetensorsEntry> entries, long dataLength)
    {
        // Stable sort by (begin, end): empty tensors sharing an offset keep their header order.
        SafetensorsEntry[] sorted = entries
            .Select((e, i) => (Entry: e, Index: i))
            .OrderBy(x => x.Entry.Begin)
            .ThenBy(x => x.Entry.End)
            .ThenBy(x => x.Index)
            .Select(x => x.Entry)
            .ToArray();

        long position = 0;
        SafetensorsEntry? previous = null;
        foreach (SafetensorsEntry entry in sorted)
        {
            if (entry.Begin < position)
            {
                // Only reachable with a previous entry: position starts at 0 and offsets are non-negative.
                throw Error(filePath, entry.Info.Name,
                    $"data_offsets [{entry.Begin}, {entry.End}] overlap tensor '{Quote(previous!.Info.Name)}' at [{previous.Begin}, {previous.End}]; " +
                    $"expected this tensor to begin at {position}.");
            }

            if (entry.Begin > position)
            {
                string after = previous is null ? "the start of the data region" : $"tensor '{Quote(previous.Info.Name)}' (ends at {position})";
                throw Error(filePath, entry.Info.Name,
                    $"data_offsets [{entry.Begin}, {entry.End}] leave a gap of {entry.Begin - position} bytes after {after}; " +
                    $"expected this tensor to begin at {position}.");
            }

            position = entry.End;
            previous = entry;
        }

        if (position != dataLength)
        {
            throw Error(filePath, null,
                $"the tensors cover {position} bytes of the data region but it is {dataLength} bytes long; " +
                $"expected them to cover it exactly ({dataLength - position} bytes belong to no tensor).");
        }

        return sorted;
    }

    private static string GetName(string filePath, string? entry, JsonProperty property)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException ex)
        {
            throw Error(filePath, entry, $"a member name is not valid text (an unpaired surrogate escape?): {ex.Message}", ex);
        }
    }

    private static string GetString(string filePath, string? entry, JsonElement value)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException ex)
        {
            throw Error(filePath, entry, $"a string value is not valid text (an unpaired surrogate escape?): {ex.Message}", ex);
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private static string Raw(JsonElement value) => Quote(value.GetRawText());

    private static string Quote(string text) =>
        text.Length <= MaxQuotedChars ? text : string.Concat(text.AsSpan(0, MaxQuotedChars), "…");

    internal static WeightsFormatException Error(string filePath, string? entry, string problem, Exception? inner = null) =>
        new(filePath, entry is null ? null : Quote(entry), problem, inner);
}
