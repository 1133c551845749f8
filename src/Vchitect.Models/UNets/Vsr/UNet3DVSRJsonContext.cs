using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;

namespace Vchitect.Models.UNets.Vsr;

/// <summary>Source-generated JSON for <see cref="UNet3DVSRConfig"/>, with the library's config settings.</summary>
[JsonSourceGenerationOptions(
    NumberHandling = ConfigJson.NumberHandling,
    AllowTrailingCommas = ConfigJson.AllowTrailingCommas,
    ReadCommentHandling = ConfigJson.ReadCommentHandling,
    WriteIndented = ConfigJson.WriteIndented,
    IndentSize = ConfigJson.IndentSize)]
[JsonSerializable(typeof(UNet3DVSRConfig))]
public sealed partial class UNet3DVSRJsonContext : JsonSerializerContext;
