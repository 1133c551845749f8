using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;

namespace Vchitect.Models.TextEncoders;

/// <summary>Source-generated JSON metadata for the text encoders' config records.</summary>
[JsonSourceGenerationOptions(
    NumberHandling = ConfigJson.NumberHandling,
    AllowTrailingCommas = ConfigJson.AllowTrailingCommas,
    ReadCommentHandling = ConfigJson.ReadCommentHandling,
    WriteIndented = ConfigJson.WriteIndented,
    IndentSize = ConfigJson.IndentSize)]
[JsonSerializable(typeof(CLIPTextConfig))]
internal sealed partial class TextEncodersJsonContext : JsonSerializerContext;
