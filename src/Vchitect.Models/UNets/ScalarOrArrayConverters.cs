using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vchitect.Models.UNets;

/// <summary>
/// Reads a config field that diffusers allows as one int or a per-block list (<c>attention_head_dim: 8</c> or
/// <c>[5, 10, 20, 20]</c>); a single value becomes a one-element array and is written back as a single value.
/// </summary>
public sealed class IntOrArrayConverter : JsonConverter<int[]>
{
    /// <inheritdoc/>
    public override int[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            return [reader.GetInt32()];
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException($"Expected an integer or an array of integers, got {reader.TokenType}.");
        }

        var values = new List<int>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            values.Add(reader.GetInt32());
        }

        return [.. values];
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, int[] value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length == 1)
        {
            writer.WriteNumberValue(value[0]);
            return;
        }

        writer.WriteStartArray();
        foreach (int v in value)
        {
            writer.WriteNumberValue(v);
        }

        writer.WriteEndArray();
    }
}

/// <summary>
/// Reads a config field that diffusers allows as one bool or a per-block list (<c>only_cross_attention</c>); a single
/// value becomes a one-element array and is written back as a single value.
/// </summary>
public sealed class BoolOrArrayConverter : JsonConverter<bool[]>
{
    /// <inheritdoc/>
    public override bool[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType is JsonTokenType.True or JsonTokenType.False)
        {
            return [reader.GetBoolean()];
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException($"Expected a boolean or an array of booleans, got {reader.TokenType}.");
        }

        var values = new List<bool>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            values.Add(reader.GetBoolean());
        }

        return [.. values];
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, bool[] value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length == 1)
        {
            writer.WriteBooleanValue(value[0]);
            return;
        }

        writer.WriteStartArray();
        foreach (bool v in value)
        {
            writer.WriteBooleanValue(v);
        }

        writer.WriteEndArray();
    }
}
