using System.Text.Json;
using Vchitect.Core.Configuration;

namespace Vchitect.Core.Models;

/// <summary>Which library and class implement one component of a pipeline, e.g. <c>("diffusers", "UNet2DConditionModel")</c>.</summary>
/// <param name="Library">The Python library: <c>diffusers</c>, <c>transformers</c>, ...</param>
/// <param name="ClassName">The class in that library.</param>
public sealed record ModelComponentType(string Library, string ClassName);

/// <summary>
/// A pipeline folder's <c>model_index.json</c>: the pipeline class, and each component's library and class
/// (<c>"unet": ["diffusers", "UNet2DConditionModel"]</c>). A component listed as <c>[null, null]</c> is part of the
/// pipeline but absent (diffusers' <c>None</c>, e.g. a removed safety checker).
/// </summary>
public sealed class ModelIndex
{
    /// <summary>Largest <c>model_index.json</c> accepted, in bytes.</summary>
    public const long MaxBytes = 1024 * 1024;

    private ModelIndex(
        string? className,
        string? diffusersVersion,
        IReadOnlyDictionary<string, ModelComponentType?> components,
        IReadOnlyDictionary<string, JsonElement> otherKeys)
    {
        ClassName = className;
        DiffusersVersion = diffusersVersion;
        Components = components;
        OtherKeys = otherKeys;
    }

    /// <summary>The pipeline class (<c>_class_name</c>), e.g. <c>StableDiffusionPipeline</c>; null when absent.</summary>
    public string? ClassName { get; }

    /// <summary>The diffusers version that wrote the file (<c>_diffusers_version</c>); null when absent.</summary>
    public string? DiffusersVersion { get; }

    /// <summary>Components by name, in file order; the value is null for a component listed as <c>[null, null]</c>.</summary>
    public IReadOnlyDictionary<string, ModelComponentType?> Components { get; }

    /// <summary>Every other key: pipeline settings such as <c>requires_safety_checker</c>, and private keys such as <c>_name_or_path</c>.</summary>
    public IReadOnlyDictionary<string, JsonElement> OtherKeys { get; }

    /// <summary>Reads a <c>model_index.json</c> file.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ConfigException">The file is too large, not a JSON object, or a component entry is malformed.</exception>
    public static ModelIndex Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"model_index.json not found: {path}", path);
        }

        if (info.Length > MaxBytes)
        {
            throw new ConfigException(path, null, $"file is {info.Length} bytes; a model index may be at most {MaxBytes} bytes.");
        }

        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses <c>model_index.json</c> text.</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="sourceName">Named in error messages.</param>
    /// <exception cref="ConfigException">Not a JSON object, or a component entry is malformed.</exception>
    public static ModelIndex Parse(string json, string sourceName = "model_index.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        var components = new Dictionary<string, ModelComponentType?>(StringComparer.Ordinal);
        var other = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        string? className = null;
        string? version = null;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(
                ConfigJson.QuoteNonFiniteLiterals(json),
                new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigException(sourceName, null, $"is a JSON {doc.RootElement.ValueKind}; expected an object.");
            }

            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                switch (p.Name)
                {
                    case "_class_name":
                        className = StringOrNull(p, sourceName);
                        break;
                    case "_diffusers_version":
                        version = StringOrNull(p, sourceName);
                        break;
                    default:
                        if (!p.Name.StartsWith('_') && p.Value.ValueKind == JsonValueKind.Array)
                        {
                            components[p.Name] = ParseComponent(p, sourceName);
                        }
                        else
                        {
                            other[p.Name] = p.Value.Clone();
                        }

                        break;
                }
            }
        }
        catch (JsonException e)
        {
            throw new ConfigException(sourceName, null, $"not valid JSON ({e.Message})", e);
        }

        return new ModelIndex(className, version, components, other);
    }

    private static string? StringOrNull(JsonProperty p, string sourceName) => p.Value.ValueKind switch
    {
        JsonValueKind.String => p.Value.GetString(),
        JsonValueKind.Null => null,
        _ => throw new ConfigException(sourceName, p.Name, $"expected a string, got {p.Value.ValueKind}."),
    };

    private static ModelComponentType? ParseComponent(JsonProperty p, string sourceName)
    {
        JsonElement v = p.Value;
        if (v.GetArrayLength() != 2)
        {
            throw new ConfigException(sourceName, p.Name, $"a component entry is [library, class name]; got {v.GetArrayLength()} elements: {v.GetRawText()}.");
        }

        JsonElement library = v[0];
        JsonElement type = v[1];
        if (library.ValueKind == JsonValueKind.Null && type.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (library.ValueKind != JsonValueKind.String || type.ValueKind != JsonValueKind.String)
        {
            throw new ConfigException(sourceName, p.Name, $"a component entry is [library, class name] as two strings (or [null, null]); got {v.GetRawText()}.");
        }

        return new ModelComponentType(library.GetString()!, type.GetString()!);
    }
}
