using System.Text.Json;
using FsCheck;
using FsCheck.Xunit;
using Microsoft.Extensions.Logging;
using Vchitect.Core.Configuration;
using Xunit;

namespace Vchitect.Core.Tests.Configuration;

public sealed class ConfigFileTests : IDisposable
{
    // As diffusers writes it (json.dumps(indent=2, sort_keys=True)), with an unknown key and a private one.
    private const string DiffusersJson = """
        {
          "_class_name": "TinyUNetModel",
          "_diffusers_version": "0.30.0",
          "_name_or_path": "some/where",
          "act_fn": "gelu",
          "attention_type": "default",
          "block_out_channels": [
            32,
            64,
            64
          ],
          "cross_attention_dim": 768,
          "down_block_types": [
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "DownBlock2D"
          ],
          "in_channels": 8,
          "mid_block_scale_factor": 1.5,
          "norm_eps": 1e-06,
          "out_channels": 4,
          "prediction_type": "v_prediction",
          "sample_size": null,
          "scaling_factor": 0.13025,
          "upcast_attention": true
        }
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("vchitect-config-").FullName;

    private static System.Text.Json.Serialization.Metadata.JsonTypeInfo<TinyUNetConfig> Info => TestConfigJsonContext.Default.TinyUNetConfig;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteFile(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Reads_every_field_kind_from_snake_case_json()
    {
        var config = ConfigFile.Parse(DiffusersJson, Info);

        Assert.Equal("TinyUNetModel", config.ClassName);
        Assert.Equal("0.30.0", config.DiffusersVersion);
        Assert.Equal(8, config.InChannels);
        Assert.Equal(4, config.OutChannels);
        Assert.Equal([32, 64, 64], config.BlockOutChannels);
        Assert.Equal(["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"], config.DownBlockTypes);
        Assert.Equal("gelu", config.ActFn);
        Assert.Equal(1e-6f, config.NormEps);
        Assert.Equal(768, config.CrossAttentionDim);
        Assert.Null(config.SampleSize);
        Assert.Equal(PredictionType.VPrediction, config.PredictionType);
        Assert.True(config.UpcastAttention);
        Assert.Equal(0.13025, config.ScalingFactor);
    }

    [Fact]
    public void Missing_fields_take_the_record_defaults()
    {
        var config = ConfigFile.Parse("{}", Info);

        Assert.Equal(new TinyUNetConfig().InChannels, config.InChannels);
        Assert.Equal([32, 64], config.BlockOutChannels);
        Assert.Equal(PredictionType.Epsilon, config.PredictionType);
        Assert.Null(config.ClassName);
        Assert.Empty(config.UnknownKeys);
    }

    [Fact]
    public void A_partial_file_keeps_the_record_defaults_of_absent_keys_with_source_generation()
    {
        // The source generator alone would set absent init-only properties to default(T) (dotnet/runtime#84484).
        var config = ConfigFile.Parse("""{"in_channels": 3, "cross_attention_dim": null}""", Info);

        Assert.Equal(3, config.InChannels);
        Assert.Equal(4, config.OutChannels);
        Assert.Equal([32, 64], config.BlockOutChannels);
        Assert.Equal("silu", config.ActFn);
        Assert.Equal(1e-5f, config.NormEps);
        Assert.Equal(0.18215, config.ScalingFactor);
        Assert.Null(config.CrossAttentionDim);
        Assert.Null(config.ExtensionData);
    }

    [Fact]
    public void Read_write_read_round_trip_keeps_every_field_and_key()
    {
        string path = WriteFile("config.json", DiffusersJson);
        var first = ConfigFile.Read(path, Info);

        string saved = Path.Combine(_dir, "saved.json");
        ConfigFile.Write(saved, first, Info);
        var second = ConfigFile.Read(saved, Info);

        Assert.True(ConfigFile.JsonEquals(first, second, Info));
        Assert.Equal("TinyUNetModel", second.ClassName);
        Assert.Equal("0.30.0", second.DiffusersVersion);
        Assert.Equal(first.BlockOutChannels, second.BlockOutChannels);
        Assert.Equal(first.DownBlockTypes, second.DownBlockTypes);
        Assert.Equal(first with { BlockOutChannels = second.BlockOutChannels, DownBlockTypes = second.DownBlockTypes }, second);

        // The file written is snake_case, diffusers' keys first, nulls kept, unknown keys kept, and nothing left behind.
        using var doc = JsonDocument.Parse(File.ReadAllText(saved));
        var keys = doc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal("_class_name", keys[0]);
        Assert.Equal("_diffusers_version", keys[1]);
        Assert.Contains("block_out_channels", keys);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("sample_size").ValueKind);
        Assert.Equal("v_prediction", doc.RootElement.GetProperty("prediction_type").GetString());
        Assert.Equal(1.5, doc.RootElement.GetProperty("mid_block_scale_factor").GetDouble());
        Assert.Equal("default", doc.RootElement.GetProperty("attention_type").GetString());
        Assert.Equal("some/where", doc.RootElement.GetProperty("_name_or_path").GetString());
        Assert.Equal(["config.json", "saved.json"], Directory.GetFiles(_dir).Select(f => Path.GetFileName(f)).Order().ToArray());
    }

    [Fact]
    public void Configs_with_equal_unknown_keys_compare_equal_by_value()
    {
        var a = ConfigFile.Parse(DiffusersJson, Info);
        var b = ConfigFile.Parse(DiffusersJson, Info);
        var bSameArrays = b with { BlockOutChannels = a.BlockOutChannels, DownBlockTypes = a.DownBlockTypes };

        Assert.Equal(a, bSameArrays);
        Assert.Equal(a.GetHashCode(), bSameArrays.GetHashCode());
        Assert.NotEqual(a, bSameArrays with { InChannels = 5 });
        var c = ConfigFile.Parse(DiffusersJson.Replace("\"default\"", "\"other\"", StringComparison.Ordinal), Info);
        Assert.NotEqual(a, c with { BlockOutChannels = a.BlockOutChannels, DownBlockTypes = a.DownBlockTypes });
        Assert.False(ConfigFile.JsonEquals(a, c, Info));
    }

    [Fact]
    public void Unknown_keys_are_tolerated_listed_and_logged_once()
    {
        var logger = new ListLogger();
        string path = WriteFile("config.json", DiffusersJson);

        var config = ConfigFile.Read(path, Info, logger);

        Assert.Equal(["attention_type", "mid_block_scale_factor"], config.UnknownKeys);
        Assert.True(config.ExtensionData!.ContainsKey("_name_or_path"));
        var entry = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Contains(path, entry.Message, StringComparison.Ordinal);
        Assert.Contains("attention_type", entry.Message, StringComparison.Ordinal);
        Assert.Contains("mid_block_scale_factor", entry.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("_name_or_path", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_warning_when_every_key_is_known()
    {
        var logger = new ListLogger();
        ConfigFile.Parse("""{"_class_name": "X", "_diffusers_version": "0.1", "_name_or_path": "p", "in_channels": 3}""", Info, logger: logger);
        Assert.Empty(logger.Entries);
    }

    [Theory]
    [InlineData("""{"in_channels": "four"}""", "in_channels")]
    [InlineData("""{"norm_eps": [1, 2]}""", "norm_eps")]
    [InlineData("""{"block_out_channels": 64}""", "block_out_channels")]
    [InlineData("""{"block_out_channels": [32, "64"]}""", "block_out_channels")]
    [InlineData("""{"in_channels": 4.5}""", "in_channels")]
    [InlineData("""{"upcast_attention": "yes"}""", "upcast_attention")]
    [InlineData("""{"prediction_type": "x_prediction"}""", "prediction_type")]
    [InlineData("""{"act_fn": 3}""", "act_fn")]
    [InlineData("""{"_class_name": 3}""", "_class_name")]
    public void A_field_of_the_wrong_type_names_the_file_and_the_field(string json, string field)
    {
        string path = WriteFile("config.json", json);

        var e = Assert.Throws<ConfigException>(() => ConfigFile.Read(path, Info));

        Assert.Equal(field, e.Field);
        Assert.Equal(path, e.ConfigSource);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains($"'{field}'", e.Message, StringComparison.Ordinal);
        Assert.IsType<JsonException>(e.InnerException, exactMatch: false);
    }

    [Theory]
    [InlineData("""{"in_channels": 0}""", "in_channels", "0")]
    [InlineData("""{"block_out_channels": [32, -64]}""", "block_out_channels", "[32, -64]")]
    [InlineData("""{"norm_eps": -1.0}""", "norm_eps", "-1")]
    [InlineData("""{"prediction_type": 7}""", "prediction_type", "7")]
    [InlineData("""{"block_out_channels": [32, 64, 64]}""", "down_block_types", "2")]
    public void An_invalid_value_names_the_file_the_field_and_the_value(string json, string field, string value)
    {
        string path = WriteFile("config.json", json);

        var e = Assert.Throws<ConfigException>(() => ConfigFile.Read(path, Info));

        Assert.Equal(field, e.Field);
        Assert.Equal(path, e.ConfigSource);
        Assert.StartsWith($"{path}: field '{field}': ", e.Message, StringComparison.Ordinal);
        Assert.Contains(value, e.Message, StringComparison.Ordinal);
        Assert.IsType<ConfigException>(e.InnerException);
    }

    [Fact]
    public void Validate_called_directly_names_the_field_without_a_source()
    {
        var e = Assert.Throws<ConfigException>(() => new TinyUNetConfig { OutChannels = -2 }.Validate());
        Assert.Equal("out_channels", e.Field);
        Assert.Null(e.ConfigSource);
        Assert.Equal("config field 'out_channels': is -2; must be positive.", e.Message);
        Assert.Equal("is -2; must be positive.", e.Problem);
    }

    [Theory]
    [InlineData("""{"in_channels": 4""")]
    [InlineData("""{"in_channels": 4,, "out_channels": 3}""")]
    [InlineData("""{in_channels: 4}""")]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1, 2, 3]")]
    [InlineData("42")]
    [InlineData("\"a string\"")]
    [InlineData("null")]
    public void Malformed_or_non_object_json_names_the_file(string json)
    {
        string path = WriteFile("config.json", json);

        var e = Assert.Throws<ConfigException>(() => ConfigFile.Read(path, Info));

        Assert.Equal(path, e.ConfigSource);
        Assert.StartsWith(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(TinyUNetConfig), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_over_the_size_limit_is_refused_before_reading()
    {
        string path = Path.Combine(_dir, "huge.json");
        using (var stream = File.Create(path))
        {
            stream.SetLength(ConfigFile.MaxConfigBytes + 1);
        }

        var e = Assert.Throws<ConfigException>(() => ConfigFile.Read(path, Info));

        Assert.Equal(path, e.ConfigSource);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(ConfigFile.MaxConfigBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_a_file_not_found_exception_naming_it()
    {
        string path = Path.Combine(_dir, "nope", "config.json");
        var e = Assert.Throws<FileNotFoundException>(() => ConfigFile.Read(path, Info));
        Assert.Equal(path, e.FileName);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Python_non_finite_literals_comments_and_trailing_commas_are_read()
    {
        const string json = """
            {
              // written by hand
              "scaling_factor": NaN, /* Python's json.dumps writes NaN bare */
              "norm_eps": Infinity,
              "act_fn": "NaN Infinity -Infinity",
              "extra": [-Infinity, 1],
            }
            """;

        var config = ConfigFile.Parse(json, Info);

        Assert.True(double.IsNaN(config.ScalingFactor));
        Assert.True(float.IsPositiveInfinity(config.NormEps));
        Assert.Equal("NaN Infinity -Infinity", config.ActFn);
        Assert.Equal("-Infinity", config.ExtensionData!["extra"][0].GetString());

        var again = ConfigFile.Parse(ConfigFile.ToJson(config, Info), Info);
        Assert.True(double.IsNaN(again.ScalingFactor));
    }

    [Fact]
    public void Context_built_from_CreateOptions_reads_the_same()
    {
        var context = new TestConfigJsonContext(ConfigJson.CreateOptions());
        var config = ConfigFile.Parse("""{"norm_eps": "Infinity", "in_channels": 3,}""", context.TinyUNetConfig);
        Assert.Equal(3, config.InChannels);
        Assert.True(float.IsPositiveInfinity(config.NormEps));
    }

    [Theory]
    [InlineData("""{"_class_name": "DDIMScheduler", "beta_start": 0.00085}""", "DDIMScheduler")]
    [InlineData("""{"beta_start": 0.00085}""", null)]
    [InlineData("""{"_class_name": null}""", null)]
    public void PeekClassName_reads_only_the_class_name(string json, string? expected) =>
        Assert.Equal(expected, ConfigFile.PeekClassName(json));

    [Theory]
    [InlineData("[1]", null)]
    [InlineData("""{"_class_name": 5}""", "_class_name")]
    [InlineData("{", null)]
    public void PeekClassName_refuses_what_is_not_a_config(string json, string? field)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigFile.PeekClassName(json, "model_index.json"));
        Assert.Equal(field, e.Field);
        Assert.StartsWith("model_index.json", e.Message, StringComparison.Ordinal);
    }

    [Property(MaxTest = 300)]
    public void Parse_of_arbitrary_text_gives_a_config_or_a_ConfigException(NonNull<string> text)
    {
        try
        {
            ConfigFile.Parse(text.Get, Info);
        }
        catch (ConfigException)
        {
        }
    }

    [Property(MaxTest = 300)]
    public void Parse_of_arbitrary_json_objects_gives_a_config_or_a_ConfigException(NonNull<string> key, int number, NonNull<string> value)
    {
        string json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            [key.Get] = number,
            ["in_channels"] = value.Get,
            ["block_out_channels"] = new[] { number, 1 },
        });
        try
        {
            ConfigFile.Parse(json, Info);
        }
        catch (ConfigException)
        {
        }
    }

    [Property(MaxTest = 300)]
    public void Non_finite_literals_inside_strings_are_left_alone(NonNull<string> text)
    {
        string json = JsonSerializer.Serialize(new[] { text.Get + "NaN", "Infinity" + text.Get });
        Assert.Equal(json, ConfigJson.QuoteNonFiniteLiterals(json));
    }

    [Fact]
    public void Non_finite_literals_outside_strings_are_quoted()
    {
        Assert.Equal("""[ "NaN", "-Infinity","Infinity" , 1]""", ConfigJson.QuoteNonFiniteLiterals("[ NaN, -Infinity,Infinity , 1]"));
        Assert.Equal("""{"a\"NaN": "Infinity"}""", ConfigJson.QuoteNonFiniteLiterals("""{"a\"NaN": Infinity}"""));
        Assert.Equal("[NaNa]", ConfigJson.QuoteNonFiniteLiterals("[NaNa]"));
    }
}
