using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Vchitect.Core.Configuration;

/// <summary>Reads and writes diffusers-style <c>config.json</c> files as typed <see cref="DiffusersConfig"/> records.</summary>
/// <remarks>
/// Pass the source-generated <see cref="JsonTypeInfo{T}"/> of the record (each package has its own
/// <c>JsonSerializerContext</c>). Unknown keys are tolerated, kept and reported through the logger;
/// malformed JSON, a field of the wrong type and a value <see cref="DiffusersConfig.Validate"/> rejects
/// all give a <see cref="ConfigException"/> that names the file and the field.
/// </remarks>
public static class ConfigFile
{
    /// <summary>Largest config file accepted, in bytes (real configs are a few KB).</summary>
    public const long MaxConfigBytes = 16L * 1024 * 1024;

    /// <summary>Reads and validates a config file.</summary>
    /// <typeparam name="T">The config record.</typeparam>
    /// <param name="path">Path of the JSON file.</param>
    /// <param name="typeInfo">The record's source-generated JSON metadata.</param>
    /// <param name="logger">Receives one warning listing unknown keys; null for none.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ConfigException">The file is too large, not JSON, or a field is of the wrong type or invalid.</exception>
    public static T Read<T>(string path, JsonTypeInfo<T> typeInfo, ILogger? logger = null)
        where T : DiffusersConfig
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
    /// <typeparam name="T">The config record.</typeparam>
    /// <param name="json">The JSON text.</param>
    /// <param name="typeInfo">The record's source-generated JSON metadata.</param>
    /// <param name="sourceName">Named in error messages (a file path, say).</param>
    /// <param name="logger">Receives one warning listing unknown keys; null for none.</param>
    /// <exception cref="ConfigException">Not a JSON object, or a field is of the wrong type or invalid.</exception>
    public static T Parse<T>(string json, JsonTypeInfo<T> typeInfo, string sourceName = "config", ILogger? logger = null)
        where T : DiffusersConfig
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(typeInfo);
        T? config;
        try
        {
            config = JsonSerializer.Deserialize(json, typeInfo);
        }
        catch (JsonException e)
        {
            string? field = FieldFromPath(e.Path);
            string what = field is null
                ? $"not a valid {typeof(T).Name} JSON object ({e.Message})"
                : $"wrong type or malformed value for {typeof(T).Name} ({e.Message})";
            throw new ConfigException(sourceName, field, what, e);
        }
        catch (NotSupportedException e)
        {
            throw new ConfigException(sourceName, null, $"cannot be read as {typeof(T).Name}: {e.Message}", e);
        }

        if (config is null)
        {
            throw new ConfigException(sourceName, null, $"is JSON null; expected a {typeof(T).Name} object.");
        }

        try
        {
            config.Validate();
        }
        catch (ConfigException e) when (e.ConfigSource is null)
        {
            throw new ConfigException(sourceName, e.Field, e.Message[(e.Message.IndexOf(": ", StringComparison.Ordinal) + 2)..], e);
        }

        if (config.UnknownKeys.Count > 0)
        {
            (logger ?? NullLogger.Instance).LogWarning(
                "{Source}: {Type} ignores unknown keys: {Keys}", sourceName, typeof(T).Name, string.Join(", ", config.UnknownKeys));
        }

        return config;
    }

    /// <summary>Serialises a config to indented JSON, unknown keys included.</summary>
    public static string ToJson<T>(T config, JsonTypeInfo<T> typeInfo)
        where T : DiffusersConfig
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(typeInfo);
        return JsonSerializer.Serialize(config, typeInfo);
    }

    /// <summary>Writes a config file atomically (to a temporary name, then moved over the target).</summary>
    public static void Write<T>(string path, T config, JsonTypeInfo<T> typeInfo)
        where T : DiffusersConfig
    {
        ArgumentNullException.ThrowIfNull(path);
        string json = ToJson(config, typeInfo);
        string temp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(temp, json + "\n", new UTF8Encoding(false));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Reads only <c>_class_name</c> from config JSON, without binding a type; null when absent.</summary>
    /// <exception cref="ConfigException">Not a JSON object, or <c>_class_name</c> is not a string.</exception>
    public static string? PeekClassName(string json, string sourceName = "config")
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
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
