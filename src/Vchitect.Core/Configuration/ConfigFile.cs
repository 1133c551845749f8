using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Vchitect.Core.Configuration;

/// <summary>Reads and writes diffusers-style <c>config.json</c> files as typed <see cref="DiffusersConfig"/> records.</summary>
/// <remarks>
/// Pass the source-generated <see cref="JsonTypeInfo{T}"/> of the record (each package has its own
/// <c>JsonSerializerContext</c>, configured as <see cref="ConfigJson"/> recommends). Unknown keys are tolerated, kept
/// (written back by <see cref="Write{T}"/>) and reported through the logger in one warning;
/// malformed JSON, a field of the wrong type and a value <see cref="DiffusersConfig.Validate"/> rejects
/// all give a <see cref="ConfigException"/> that names the file and, where one is at fault, the field.
/// Python's bare <c>NaN</c>/<c>Infinity</c> tokens are accepted (see <see cref="ConfigJson"/>).
/// </remarks>
public static class ConfigFile
{
    /// <summary>Largest config file accepted, in bytes (real configs are a few KB).</summary>
    public const long MaxConfigBytes = 16L * 1024 * 1024;

    /// <summary>Reads and validates a config file.</summary>
    /// <typeparam name="T">The config record; its parameterless constructor gives the defaults of keys the file lacks.</typeparam>
    /// <param name="path">Path of the JSON file.</param>
    /// <param name="typeInfo">The record's source-generated JSON metadata.</param>
    /// <param name="logger">Receives one warning listing unknown keys; null for none.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ConfigException">The file is too large, not JSON, or a field is of the wrong type or invalid.</exception>
    public static T Read<T>(string path, JsonTypeInfo<T> typeInfo, ILogger? logger = null)
        where T : DiffusersConfig, new()
    {
        ArgumentNullException.ThrowIfNull(path);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"Config file not found: {path}", path);
        }

        if (info.Length > MaxConfigBytes)
        {
            throw new ConfigException(path, null, $"file is {info.Length} bytes; a config may be at most {MaxConfigBytes} bytes.");
        }

        return Parse(File.ReadAllText(path, Encoding.UTF8), typeInfo, path, logger);
    }

    /// <summary>Parses and validates config JSON text.</summary>
    /// <typeparam name="T">The config record; its parameterless constructor gives the defaults of keys the file lacks.</typeparam>
    /// <param name="json">The JSON text.</param>
    /// <param name="typeInfo">The record's source-generated JSON metadata.</param>
    /// <param name="sourceName">Named in error messages (a file path, say).</param>
    /// <param name="logger">Receives one warning listing unknown keys; null for none.</param>
    /// <exception cref="ConfigException">Not a JSON object, or a field is of the wrong type or invalid.</exception>
    public static T Parse<T>(string json, JsonTypeInfo<T> typeInfo, string sourceName = "config", ILogger? logger = null)
        where T : DiffusersConfig, new()
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(typeInfo);
        ArgumentNullException.ThrowIfNull(sourceName);
        if (json.Length > MaxConfigBytes)
        {
            throw new ConfigException(sourceName, null, $"is {json.Length} characters long; a config may be at most {MaxConfigBytes} bytes.");
        }

        // The source generator sets every init-only property it knows, to default(T) when the key is absent, which
        // would lose the record's own defaults (dotnet/runtime#84484). So the file is laid over the serialised
        // defaults of `new T()`, and that complete object is what gets deserialised.
        JsonSerializerOptions options = typeInfo.Options;
        var documentOptions = new JsonDocumentOptions
        {
            AllowTrailingCommas = options.AllowTrailingCommas,
            CommentHandling = options.ReadCommentHandling == JsonCommentHandling.Disallow ? JsonCommentHandling.Disallow : JsonCommentHandling.Skip,
            MaxDepth = options.MaxDepth,
        };
        byte[] merged;
        try
        {
            using JsonDocument file = JsonDocument.Parse(ConfigJson.QuoteNonFiniteLiterals(json), documentOptions);
            JsonElement root = file.RootElement;
            if (root.ValueKind == JsonValueKind.Null)
            {
                throw new ConfigException(sourceName, null, $"is JSON null; expected a {typeof(T).Name} JSON object.");
            }

            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigException(sourceName, null, $"is a JSON {root.ValueKind}; expected a {typeof(T).Name} JSON object.");
            }

            merged = OverlayOnDefaults(root, typeInfo);
        }
        catch (JsonException e)
        {
            throw new ConfigException(sourceName, null, $"not valid JSON, so not a {typeof(T).Name} ({e.Message})", e);
        }

        T? config;
        try
        {
            config = JsonSerializer.Deserialize(merged, typeInfo);
        }
        catch (JsonException e)
        {
            // Paths name the key only: line numbers would refer to the merged text, not the file.
            string? field = FieldFromPath(e.Path);
            string what = $"wrong type or malformed value for {typeof(T).Name} ({e.Message.Split(" Path: ")[0]})";
            throw new ConfigException(sourceName, field, what, e);
        }
        catch (NotSupportedException e)
        {
            throw new ConfigException(sourceName, null, $"cannot be read as {typeof(T).Name}: {e.Message}", e);
        }

        if (config is null)
        {
            throw new ConfigException(sourceName, null, $"is JSON null; expected a {typeof(T).Name} JSON object.");
        }

        try
        {
            config.Validate();
        }
        catch (ConfigException e) when (e.ConfigSource is null)
        {
            // Validate() knows the field, not the file: add the file.
            throw new ConfigException(sourceName, e.Field, e.Problem ?? e.Message, e);
        }

        if (config.UnknownKeys.Count > 0)
        {
            (logger ?? NullLogger.Instance).LogWarning(
                "{Source}: {Type} ignores unknown keys: {Keys}", sourceName, typeof(T).Name, string.Join(", ", config.UnknownKeys));
        }

        return config;
    }

    /// <summary>Serialises a config to JSON (indented when the context says so), unknown keys included.</summary>
    /// <typeparam name="T">The config record.</typeparam>
    /// <param name="config">The config to write.</param>
    /// <param name="typeInfo">The record's source-generated JSON metadata.</param>
    public static string ToJson<T>(T config, JsonTypeInfo<T> typeInfo)
        where T : DiffusersConfig
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(typeInfo);
        return JsonSerializer.Serialize(config, typeInfo);
    }

    /// <summary>
    /// Whether two configs serialise to the same JSON (same fields, same values, unknown keys included; key order ignored).
    /// Record equality compares array fields by reference, so use this to ask "same config?".
    /// </summary>
    /// <typeparam name="T">The config record.</typeparam>
    /// <param name="a">One config.</param>
    /// <param name="b">The other config.</param>
    /// <param name="typeInfo">The record's source-generated JSON metadata.</param>
    public static bool JsonEquals<T>(T a, T b, JsonTypeInfo<T> typeInfo)
        where T : DiffusersConfig
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(typeInfo);
        using JsonDocument da = JsonSerializer.SerializeToDocument(a, typeInfo);
        using JsonDocument db = JsonSerializer.SerializeToDocument(b, typeInfo);
        return JsonElement.DeepEquals(da.RootElement, db.RootElement);
    }

    /// <summary>Writes a config file atomically (to a temporary name in the same folder, then moved over the target).</summary>
    /// <typeparam name="T">The config record.</typeparam>
    /// <param name="path">Path of the JSON file; its folder must exist.</param>
    /// <param name="config">The config to write.</param>
    /// <param name="typeInfo">The record's source-generated JSON metadata.</param>
    /// <exception cref="IOException">The file cannot be written; no partial file is left behind.</exception>
    public static void Write<T>(string path, T config, JsonTypeInfo<T> typeInfo)
        where T : DiffusersConfig
    {
        ArgumentNullException.ThrowIfNull(path);
        string json = ToJson(config, typeInfo);
        string temp = path + ".tmp-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            File.WriteAllText(temp, json + "\n", new UTF8Encoding(false));
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>Reads only <c>_class_name</c> from config JSON, without binding a type; null when absent.</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="sourceName">Named in error messages (a file path, say).</param>
    /// <exception cref="ConfigException">Not a JSON object, or <c>_class_name</c> is not a string.</exception>
    public static string? PeekClassName(string json, string sourceName = "config")
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var doc = JsonDocument.Parse(ConfigJson.QuoteNonFiniteLiterals(json), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigException(sourceName, null, $"expected a JSON object, got {doc.RootElement.ValueKind}.");
            }

            if (!doc.RootElement.TryGetProperty("_class_name", out JsonElement name) || name.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            return name.ValueKind == JsonValueKind.String
                ? name.GetString()
                : throw new ConfigException(sourceName, "_class_name", $"expected a string, got {name.ValueKind}.");
        }
        catch (JsonException e)
        {
            throw new ConfigException(sourceName, null, $"not valid JSON ({e.Message})", e);
        }
    }

    private static byte[] OverlayOnDefaults<T>(JsonElement file, JsonTypeInfo<T> typeInfo)
        where T : DiffusersConfig, new()
    {
        StringComparer names = typeInfo.Options.PropertyNameCaseInsensitive ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
        var present = new HashSet<string>(names);
        foreach (JsonProperty property in file.EnumerateObject())
        {
            present.Add(property.Name);
        }

        using JsonDocument defaults = JsonSerializer.SerializeToDocument(new T(), typeInfo);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (JsonProperty property in defaults.RootElement.EnumerateObject())
            {
                if (!present.Contains(property.Name))
                {
                    property.WriteTo(writer);
                }
            }

            foreach (JsonProperty property in file.EnumerateObject())
            {
                property.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static string? FieldFromPath(string? path)
    {
        // System.Text.Json paths look like "$.block_out_channels[1]" or "$['odd key']".
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return null;
        }

        string p = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
        if (p.StartsWith("['", StringComparison.Ordinal))
        {
            int end = p.IndexOf("']", StringComparison.Ordinal);
            return end > 2 ? p[2..end] : p;
        }

        int cut = p.IndexOfAny(['.', '[']);
        return cut > 0 ? p[..cut] : p;
    }
}
