using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vchitect.Core.Configuration;

/// <summary>
/// The JSON settings every config <see cref="JsonSerializerContext"/> of this library should use, so that files written
/// by Python's <c>json</c> module (what diffusers and transformers use) read as they do in Python.
/// </summary>
/// <remarks>
/// <para>
/// Source-generated contexts take their options from an attribute, so the settings are offered as constants that an
/// attribute can name, and as <see cref="CreateOptions"/> for a context built at run time:
/// </para>
/// <code><![CDATA[
/// [JsonSourceGenerationOptions(
///     NumberHandling = ConfigJson.NumberHandling,            // "NaN", "Infinity", "-Infinity" in float fields
///     AllowTrailingCommas = ConfigJson.AllowTrailingCommas,  // hand-edited files
///     ReadCommentHandling = ConfigJson.ReadCommentHandling,  // // and /* */ comments are skipped
///     WriteIndented = ConfigJson.WriteIndented,
///     IndentSize = ConfigJson.IndentSize)]                   // json.dumps(indent=2), as diffusers writes
/// [JsonSerializable(typeof(UNet3DConfig))]
/// internal sealed partial class ModelsJsonContext : JsonSerializerContext;
/// ]]></code>
/// <para>
/// Leave <c>DefaultIgnoreCondition</c> at <see cref="JsonIgnoreCondition.Never"/>: diffusers writes <c>null</c> for
/// fields that are <c>None</c>, and a round trip should too. Enum fields are stored as the reference's strings
/// (<c>"scaled_linear"</c>, <c>"epsilon"</c>): put <see cref="JsonConverterAttribute"/> with
/// <see cref="JsonStringEnumConverter{TEnum}"/> on the enum type and <see cref="JsonStringEnumMemberNameAttribute"/>
/// on each member, and reject numeric values in <see cref="DiffusersConfig.Validate"/> with
/// <see cref="Enum.IsDefined{TEnum}(TEnum)"/> (the converter accepts integers).
/// </para>
/// <para>
/// Python also writes bare <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c> tokens, which are not JSON;
/// <see cref="ConfigFile"/> turns them into the quoted forms that <see cref="NumberHandling"/> accepts before parsing.
/// Such values are written back quoted, which Python reads as strings: avoid non-finite values in configs meant for Python.
/// </para>
/// </remarks>
public static class ConfigJson
{
    /// <summary>Number handling for config contexts: named floating-point literals (<c>"NaN"</c>, <c>"Infinity"</c>) allowed.</summary>
    public const JsonNumberHandling NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;

    /// <summary>Trailing commas in objects and arrays are tolerated (hand-edited files).</summary>
    public const bool AllowTrailingCommas = true;

    /// <summary>Comments are skipped when reading.</summary>
    public const JsonCommentHandling ReadCommentHandling = JsonCommentHandling.Skip;

    /// <summary>Configs are written indented, as diffusers writes them.</summary>
    public const bool WriteIndented = true;

    /// <summary>Indentation width when writing: 2 spaces, as <c>json.dumps(indent=2)</c>.</summary>
    public const int IndentSize = 2;

    /// <summary>
    /// Creates a new, mutable <see cref="JsonSerializerOptions"/> with the recommended config settings, for a context
    /// constructed at run time (<c>new MyContext(ConfigJson.CreateOptions())</c>; a context takes ownership of its options,
    /// so each context needs its own instance).
    /// </summary>
    public static JsonSerializerOptions CreateOptions() => new()
    {
        NumberHandling = NumberHandling,
        AllowTrailingCommas = AllowTrailingCommas,
        ReadCommentHandling = ReadCommentHandling,
        WriteIndented = WriteIndented,
        IndentSize = IndentSize,
    };

    /// <summary>
    /// Rewrites Python's bare non-finite number tokens (<c>NaN</c>, <c>Infinity</c>, <c>-Infinity</c>) outside strings
    /// as JSON strings, which <see cref="NumberHandling"/> reads as numbers. Returns the input itself when there are none.
    /// </summary>
    internal static string QuoteNonFiniteLiterals(string json)
    {
        if (!json.Contains("NaN", StringComparison.Ordinal) && !json.Contains("Infinity", StringComparison.Ordinal))
        {
            return json;
        }

        StringBuilder? sb = null;
        bool inString = false;
        int copied = 0;
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                }

                continue;
            }

            if (c == '"')
            {
                inString = true;
                continue;
            }

            string? token = MatchToken(json, i);
            if (token is null)
            {
                continue;
            }

            sb ??= new StringBuilder(json.Length + 16);
            sb.Append(json, copied, i - copied).Append('"').Append(token).Append('"');
            i += token.Length - 1;
            copied = i + 1;
        }

        return sb is null ? json : sb.Append(json, copied, json.Length - copied).ToString();
    }

    private static string? MatchToken(string json, int at)
    {
        foreach (string token in (ReadOnlySpan<string>)["NaN", "Infinity", "-Infinity"])
        {
            if (string.CompareOrdinal(json, at, token, 0, token.Length) == 0)
            {
                int end = at + token.Length;
                if (end == json.Length || !char.IsAsciiLetterOrDigit(json[end]))
                {
                    return token;
                }
            }
        }

        return null;
    }
}
