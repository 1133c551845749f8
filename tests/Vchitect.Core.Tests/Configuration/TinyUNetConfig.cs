using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;

namespace Vchitect.Core.Tests.Configuration;

/// <summary>What the model predicts, stored as diffusers' strings.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PredictionType>))]
public enum PredictionType
{
    [JsonStringEnumMemberName("epsilon")]
    Epsilon,

    [JsonStringEnumMemberName("v_prediction")]
    VPrediction,

    [JsonStringEnumMemberName("sample")]
    Sample,
}

/// <summary>A UNet-like config used only by the tests: ints, int arrays, strings, an enum, floats, nullables.</summary>
public sealed record TinyUNetConfig : DiffusersConfig
{
    [JsonPropertyName("sample_size")]
    public int? SampleSize { get; init; }

    [JsonPropertyName("in_channels")]
    public int InChannels { get; init; } = 4;

    [JsonPropertyName("out_channels")]
    public int OutChannels { get; init; } = 4;

    [JsonPropertyName("down_block_types")]
    public string[] DownBlockTypes { get; init; } = ["CrossAttnDownBlock2D", "DownBlock2D"];

    [JsonPropertyName("block_out_channels")]
    public int[] BlockOutChannels { get; init; } = [32, 64];

    [JsonPropertyName("act_fn")]
    public string ActFn { get; init; } = "silu";

    [JsonPropertyName("norm_eps")]
    public float NormEps { get; init; } = 1e-5f;

    [JsonPropertyName("cross_attention_dim")]
    public int? CrossAttentionDim { get; init; }

    [JsonPropertyName("prediction_type")]
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    [JsonPropertyName("upcast_attention")]
    public bool UpcastAttention { get; init; }

    [JsonPropertyName("scaling_factor")]
    public double ScalingFactor { get; init; } = 0.18215;

    public override void Validate()
    {
        ConfigException.ThrowIfNot(InChannels > 0, "in_channels", $"is {InChannels}; must be positive.");
        ConfigException.ThrowIfNot(OutChannels > 0, "out_channels", $"is {OutChannels}; must be positive.");
        ConfigException.ThrowIfNot(
            BlockOutChannels.Length > 0 && BlockOutChannels.All(c => c > 0),
            "block_out_channels",
            $"is [{string.Join(", ", BlockOutChannels)}]; must be a non-empty list of positive channel counts.");
        ConfigException.ThrowIfNot(
            DownBlockTypes.Length == BlockOutChannels.Length,
            "down_block_types",
            $"has {DownBlockTypes.Length} entries; must have one per block_out_channels entry ({BlockOutChannels.Length}).");
        ConfigException.ThrowIfNot(NormEps > 0, "norm_eps", $"is {NormEps}; must be positive.");
        ConfigException.ThrowIfNot(
            Enum.IsDefined(PredictionType),
            "prediction_type",
            $"is {(int)PredictionType}; allowed: \"epsilon\", \"v_prediction\", \"sample\".");
    }
}

[JsonSourceGenerationOptions(
    NumberHandling = ConfigJson.NumberHandling,
    AllowTrailingCommas = ConfigJson.AllowTrailingCommas,
    ReadCommentHandling = ConfigJson.ReadCommentHandling,
    WriteIndented = ConfigJson.WriteIndented,
    IndentSize = ConfigJson.IndentSize)]
[JsonSerializable(typeof(TinyUNetConfig))]
internal sealed partial class TestConfigJsonContext : JsonSerializerContext;
