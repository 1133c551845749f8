using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vchitect.Core.Configuration;

/// <summary>
/// Base of every typed <c>config.json</c> record (models and schedulers), as diffusers writes them:
/// snake_case fields, plus <c>_class_name</c> and <c>_diffusers_version</c>.
/// </summary>
/// <remarks>
/// Derived records declare one <c>init</c> property per field with <see cref="JsonPropertyNameAttribute"/> and the
/// reference default, and override <see cref="Validate"/>. Keys the record does not know are kept in
/// <see cref="ExtensionData"/> (and written back on save), and listed by <see cref="UnknownKeys"/>.
/// Read and write configs with <see cref="ConfigFile"/>; configure the JSON context as <see cref="ConfigJson"/> shows.
/// Record equality compares <see cref="ExtensionData"/> by JSON value, but array fields of derived records by
/// reference (as all C# records do); <see cref="ConfigFile.JsonEquals{T}"/> compares whole configs by value.
/// </remarks>
public abstract record DiffusersConfig
{
    /// <summary>The diffusers class this config belongs to (<c>_class_name</c>), e.g. <c>DDIMScheduler</c>.</summary>
    [JsonPropertyName("_class_name")]
    [JsonPropertyOrder(-2)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ClassName { get; init; }

    /// <summary>The diffusers version that wrote the file (<c>_diffusers_version</c>), informational only.</summary>
    [JsonPropertyName("_diffusers_version")]
    [JsonPropertyOrder(-1)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? DiffusersVersion { get; init; }

    /// <summary>Fields of the file that this record does not declare; kept so that saving loses nothing.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }

    /// <summary>
    /// The keys of the file that this record does not declare, other than diffusers' private bookkeeping keys
    /// (those starting with an underscore, such as <c>_name_or_path</c>).
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<string> UnknownKeys =>
        ExtensionData is null
            ? Array.Empty<string>()
            : ExtensionData.Keys.Where(k => !k.StartsWith('_')).Order(StringComparer.Ordinal).ToArray();

    /// <summary>
    /// Checks every field. Throws <see cref="ConfigException"/> naming the field, the value and what is allowed,
    /// or <see cref="NotSupportedException"/> for a valid value this library does not implement.
    /// The base implementation accepts everything.
    /// </summary>
    public virtual void Validate()
    {
    }

    /// <summary>
    /// Equal when of the same record type with equal <see cref="ClassName"/>, <see cref="DiffusersVersion"/> and
    /// <see cref="ExtensionData"/> (compared by JSON value; null and empty are equal); derived records add their fields.
    /// </summary>
    /// <param name="other">The config to compare with.</param>
    public virtual bool Equals(DiffusersConfig? other) =>
        ReferenceEquals(this, other)
        || (other is not null
            && EqualityContract == other.EqualityContract
            && string.Equals(ClassName, other.ClassName, StringComparison.Ordinal)
            && string.Equals(DiffusersVersion, other.DiffusersVersion, StringComparison.Ordinal)
            && ExtensionDataEquals(ExtensionData, other.ExtensionData));

    /// <inheritdoc/>
    public override int GetHashCode() =>
        HashCode.Combine(EqualityContract, ClassName, DiffusersVersion, ExtensionData?.Count ?? 0);

    private static bool ExtensionDataEquals(Dictionary<string, JsonElement>? a, Dictionary<string, JsonElement>? b)
    {
        int countA = a?.Count ?? 0;
        int countB = b?.Count ?? 0;
        if (countA != countB)
        {
            return false;
        }

        if (countA == 0)
        {
            return true;
        }

        foreach (var (key, value) in a!)
        {
            if (!b!.TryGetValue(key, out JsonElement other) || !JsonElement.DeepEquals(value, other))
            {
                return false;
            }
        }

        return true;
    }
}
