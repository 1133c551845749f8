using System.Reflection;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Vchitect.Core.Configuration;

namespace Vchitect.Models.TextEncoders;

/// <summary>
/// The <c>config.json</c> of a transformers <c>CLIPTextModel</c> (a Stable Diffusion folder's <c>text_encoder/</c>):
/// field names and defaults as <c>transformers.CLIPTextConfig</c> writes them.
/// </summary>
/// <remarks>
/// transformers' bookkeeping fields (<c>architectures</c>, <c>model_type</c>, <c>torch_dtype</c>/<c>dtype</c>,
/// <c>transformers_version</c>) and training-only fields (dropouts, initialisers) are accepted and kept, but do not
/// change the model. Real-size presets: <see cref="ClipVitL14"/> (SD v1.4) and <see cref="OpenClipVitH14"/>
/// (SD 2.x / x4 upscaler).
/// </remarks>
public sealed record CLIPTextConfig : DiffusersConfig
{
    private static readonly Lazy<CLIPTextConfig> ClipVitL14Preset = new(() => LoadPreset("clip_vit_l14_text.json"));
    private static readonly Lazy<CLIPTextConfig> OpenClipVitH14Preset = new(() => LoadPreset("openclip_vit_h14_text.json"));

    /// <summary>
    /// The text tower of OpenAI CLIP ViT-L/14 (<c>openai/clip-vit-large-patch14</c>, Stable Diffusion v1.4
    /// <c>text_encoder/config.json</c>): vocab 49408, hidden 768, 12 layers, 12 heads, MLP 3072, quick_gelu,
    /// 77 positions, eos_token_id 2 (the legacy argmax pooling rule). 123,060,480 parameters.
    /// </summary>
    public static CLIPTextConfig ClipVitL14 => ClipVitL14Preset.Value;

    /// <summary>
    /// The text tower of OpenCLIP ViT-H/14 as Stable Diffusion 2.x and the x4 upscaler ship it
    /// (<c>text_encoder/config.json</c>): vocab 49408, hidden 1024, <b>23</b> layers (the 24-layer OpenCLIP tower without
    /// its last layer, since those pipelines condition on the penultimate layer), 16 heads, MLP 4096, exact GELU,
    /// 77 positions, projection_dim 512, eos_token_id 2.
    /// </summary>
    /// <remarks>
    /// Written from the published SD 2.x conversion, not checked against a downloaded hub file here; a folder's own
    /// <c>config.json</c> always wins when loading a model folder.
    /// </remarks>
    public static CLIPTextConfig OpenClipVitH14 => OpenClipVitH14Preset.Value;

    /// <summary>The source-generated JSON metadata of this record, for <see cref="ConfigFile"/> and <c>ModelFolder.ReadConfig</c>.</summary>
    public static JsonTypeInfo<CLIPTextConfig> JsonTypeInfo => TextEncodersJsonContext.Default.CLIPTextConfig;

    /// <summary>Number of token ids (<c>vocab_size</c>). Default 49408.</summary>
    [JsonPropertyName("vocab_size")]
    public int VocabSize { get; init; } = 49408;

    /// <summary>Width of the hidden states (<c>hidden_size</c>). Default 512.</summary>
    [JsonPropertyName("hidden_size")]
    public int HiddenSize { get; init; } = 512;

    /// <summary>Width of the MLP's hidden layer (<c>intermediate_size</c>). Default 2048.</summary>
    [JsonPropertyName("intermediate_size")]
    public int IntermediateSize { get; init; } = 2048;

    /// <summary>Width of the projection of <c>CLIPTextModelWithProjection</c> (<c>projection_dim</c>); unused by <see cref="CLIPTextModel"/>. Default 512.</summary>
    [JsonPropertyName("projection_dim")]
    public int ProjectionDim { get; init; } = 512;

    /// <summary>Number of encoder layers (<c>num_hidden_layers</c>). Default 12.</summary>
    [JsonPropertyName("num_hidden_layers")]
    public int NumHiddenLayers { get; init; } = 12;

    /// <summary>Number of attention heads (<c>num_attention_heads</c>); must divide <see cref="HiddenSize"/>. Default 8.</summary>
    [JsonPropertyName("num_attention_heads")]
    public int NumAttentionHeads { get; init; } = 8;

    /// <summary>Longest token sequence (<c>max_position_embeddings</c>). Default 77.</summary>
    [JsonPropertyName("max_position_embeddings")]
    public int MaxPositionEmbeddings { get; init; } = 77;

    /// <summary>
    /// The MLP activation (<c>hidden_act</c>): <c>quick_gelu</c> (x·σ(1.702x), OpenAI CLIP), <c>gelu</c> (exact erf GELU,
    /// OpenCLIP), or <c>gelu_new</c>/<c>gelu_pytorch_tanh</c> (tanh approximation). Default <c>quick_gelu</c>.
    /// </summary>
    [JsonPropertyName("hidden_act")]
    public string HiddenAct { get; init; } = "quick_gelu";

    /// <summary>LayerNorm epsilon (<c>layer_norm_eps</c>). Default 1e-5.</summary>
    [JsonPropertyName("layer_norm_eps")]
    public double LayerNormEps { get; init; } = 1e-5;

    /// <summary>Attention dropout (<c>attention_dropout</c>); training only, ignored at inference. Default 0.</summary>
    [JsonPropertyName("attention_dropout")]
    public double AttentionDropout { get; init; }

    /// <summary>Dropout (<c>dropout</c>, written by older transformers); training only, ignored. Default 0.</summary>
    [JsonPropertyName("dropout")]
    public double Dropout { get; init; }

    /// <summary>Weight initialisation scale (<c>initializer_range</c>); training only. Default 0.02.</summary>
    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; init; } = 0.02;

    /// <summary>Weight initialisation factor (<c>initializer_factor</c>); training only. Default 1.</summary>
    [JsonPropertyName("initializer_factor")]
    public double InitializerFactor { get; init; } = 1.0;

    /// <summary>Padding token id (<c>pad_token_id</c>); informational, the tokenizer decides padding. Default 1.</summary>
    [JsonPropertyName("pad_token_id")]
    public int? PadTokenId { get; init; } = 1;

    /// <summary>Beginning-of-text token id (<c>bos_token_id</c>); informational. Default 49406.</summary>
    [JsonPropertyName("bos_token_id")]
    public int? BosTokenId { get; init; } = 49406;

    /// <summary>
    /// End-of-text token id (<c>eos_token_id</c>), which decides the pooling rule: 2 (the value of legacy configs such as
    /// SD v1.4's) pools at the argmax of the ids (the end-of-text id is the largest); any other value pools at the first
    /// position whose id equals it. Default 49407.
    /// </summary>
    [JsonPropertyName("eos_token_id")]
    public int EosTokenId { get; init; } = 49407;

    /// <summary>transformers' architecture list (<c>architectures</c>), e.g. <c>["CLIPTextModel"]</c>; informational.</summary>
    [JsonPropertyName("architectures")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Architectures { get; init; }

    /// <summary>transformers' model type (<c>model_type</c>), <c>clip_text_model</c>; informational.</summary>
    [JsonPropertyName("model_type")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ModelType { get; init; }

    /// <summary>The dtype the weights were saved in (<c>torch_dtype</c>), e.g. <c>float32</c>; informational.</summary>
    [JsonPropertyName("torch_dtype")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TorchDType { get; init; }

    /// <summary>The dtype field of transformers 5 (<c>dtype</c>, which replaced <c>torch_dtype</c>); informational.</summary>
    [JsonPropertyName("dtype")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? DType { get; init; }

    /// <summary>The transformers version that wrote the file (<c>transformers_version</c>); informational.</summary>
    [JsonPropertyName("transformers_version")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TransformersVersion { get; init; }

    /// <summary>Channels per attention head: <see cref="HiddenSize"/> / <see cref="NumAttentionHeads"/>.</summary>
    [JsonIgnore]
    public int HeadDim => NumAttentionHeads > 0 ? HiddenSize / NumAttentionHeads : 0;

    /// <summary>Whether pooling uses the legacy rule (argmax of the ids), which transformers applies when <see cref="EosTokenId"/> is 2.</summary>
    [JsonIgnore]
    public bool UsesLegacyPooling => EosTokenId == 2;

    /// <summary>The activations <see cref="HiddenAct"/> may name.</summary>
    public static IReadOnlyList<string> SupportedActivations { get; } = ["quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh"];

    /// <inheritdoc/>
    /// <exception cref="ConfigException">A field is out of range; the message names the field, the value and what is allowed.</exception>
    /// <exception cref="NotSupportedException"><see cref="HiddenAct"/> names an activation this library does not implement.</exception>
    public override void Validate()
    {
        ConfigException.ThrowIfNot(VocabSize > 0, "vocab_size", $"is {VocabSize}; must be positive.");
        ConfigException.ThrowIfNot(HiddenSize > 0, "hidden_size", $"is {HiddenSize}; must be positive.");
        ConfigException.ThrowIfNot(IntermediateSize > 0, "intermediate_size", $"is {IntermediateSize}; must be positive.");
        ConfigException.ThrowIfNot(ProjectionDim > 0, "projection_dim", $"is {ProjectionDim}; must be positive.");
        ConfigException.ThrowIfNot(NumHiddenLayers > 0, "num_hidden_layers", $"is {NumHiddenLayers}; must be positive.");
        ConfigException.ThrowIfNot(NumAttentionHeads > 0, "num_attention_heads", $"is {NumAttentionHeads}; must be positive.");
        ConfigException.ThrowIfNot(
            HiddenSize % NumAttentionHeads == 0,
            "num_attention_heads",
            $"is {NumAttentionHeads}; must divide hidden_size ({HiddenSize}).");
        ConfigException.ThrowIfNot(MaxPositionEmbeddings > 0, "max_position_embeddings", $"is {MaxPositionEmbeddings}; must be positive.");
        ConfigException.ThrowIfNot(
            LayerNormEps > 0 && double.IsFinite(LayerNormEps),
            "layer_norm_eps",
            $"is {LayerNormEps}; must be a positive finite number.");
        ConfigException.ThrowIfNot(
            AttentionDropout is >= 0 and <= 1,
            "attention_dropout",
            $"is {AttentionDropout}; must be in [0, 1].");
        ConfigException.ThrowIfNot(Dropout is >= 0 and <= 1, "dropout", $"is {Dropout}; must be in [0, 1].");
        ConfigException.ThrowIfNot(
            !string.IsNullOrEmpty(HiddenAct),
            "hidden_act",
            $"is empty; allowed: {string.Join(", ", SupportedActivations)}.");
        if (!SupportedActivations.Contains(HiddenAct, StringComparer.Ordinal))
        {
            throw new NotSupportedException(
                $"config field 'hidden_act': \"{HiddenAct}\" is not supported by CLIPTextModel; supported: {string.Join(", ", SupportedActivations)}.");
        }
    }

    /// <summary>Reads and validates a <c>config.json</c> file (see <see cref="ConfigFile.Read{T}"/>).</summary>
    /// <param name="path">The JSON file.</param>
    /// <param name="logger">Receives one warning listing unknown keys; null for none.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ConfigException">The file is not JSON, or a field is of the wrong type or out of range (named).</exception>
    /// <exception cref="NotSupportedException"><c>hidden_act</c> is not supported.</exception>
    public static CLIPTextConfig Read(string path, ILogger? logger = null) => ConfigFile.Read(path, JsonTypeInfo, logger);

    /// <summary>Parses and validates config JSON text (see <see cref="ConfigFile.Parse{T}"/>).</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="sourceName">Named in error messages.</param>
    /// <param name="logger">Receives one warning listing unknown keys; null for none.</param>
    /// <exception cref="ConfigException">Not JSON, or a field is of the wrong type or out of range (named).</exception>
    /// <exception cref="NotSupportedException"><c>hidden_act</c> is not supported.</exception>
    public static CLIPTextConfig Parse(string json, string sourceName = "config", ILogger? logger = null) =>
        ConfigFile.Parse(json, JsonTypeInfo, sourceName, logger);

    private static CLIPTextConfig LoadPreset(string fileName)
    {
        string resource = $"Vchitect.Models.TextEncoders.Presets.{fileName}";
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded preset '{resource}' is missing from {typeof(CLIPTextConfig).Assembly.GetName().Name}.");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd(), resource);
    }
}
