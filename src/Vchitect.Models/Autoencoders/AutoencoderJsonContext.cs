using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;

namespace Vchitect.Models.Autoencoders;

/// <summary>Source-generated JSON metadata for the autoencoder configs, with the settings of <see cref="ConfigJson"/>.</summary>
[JsonSourceGenerationOptions(
    NumberHandling = ConfigJson.NumberHandling,
    AllowTrailingCommas = ConfigJson.AllowTrailingCommas,
    ReadCommentHandling = ConfigJson.ReadCommentHandling,
    WriteIndented = ConfigJson.WriteIndented,
    IndentSize = ConfigJson.IndentSize)]
[JsonSerializable(typeof(AutoencoderKLConfig))]
public sealed partial class AutoencoderJsonContext : JsonSerializerContext;
