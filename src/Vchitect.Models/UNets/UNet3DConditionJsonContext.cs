using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;

namespace Vchitect.Models.UNets;

/// <summary>Source-generated JSON for <see cref="UNet3DConditionConfig"/>, with the library's config settings.</summary>
[JsonSourceGenerationOptions(
    NumberHandling = ConfigJson.NumberHandling,
    AllowTrailingCommas = ConfigJson.AllowTrailingCommas,
    ReadCommentHandling = ConfigJson.ReadCommentHandling,
    WriteIndented = ConfigJson.WriteIndented,
    IndentSize = ConfigJson.IndentSize)]
[JsonSerializable(typeof(UNet3DConditionConfig))]
public sealed partial class UNet3DConditionJsonContext : JsonSerializerContext;
