using System.Diagnostics;
using Vchitect.Core;
using Vchitect.Core.Configuration;
using Vchitect.Core.Weights;
using Vchitect.Models.Autoencoders;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.Autoencoders;

public sealed class AutoencoderKLStructureTests(ITestOutputHelper output)
{
    [Fact]
    public void SD14_vae_has_the_manifest_keys_and_shapes()
    {
        var config = AutoencoderKLPresets.StableDiffusionV14;
        var watch = Stopwatch.StartNew();
        using var vae = new AutoencoderKL(config, device: META);
        var actual = vae.state_dict().ToDictionary(p => p.Key, p => p.Value.shape, StringComparer.Ordinal);
        output.WriteLine($"built on meta in {watch.ElapsedMilliseconds} ms; {actual.Count} tensors, {actual.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)):N0} elements");

        string diff = Manifests.Compare(Manifests.Shapes("manifest_sd14_vae.json"), actual);
        Assert.True(diff.Length == 0, diff);
        Assert.Equal(248, actual.Count);
        Assert.Equal(83_653_863L, actual.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)));
    }

    [Fact]
    public void Presets_carry_the_published_scaling_factors()
    {
        var sd = AutoencoderKLPresets.StableDiffusionV14;
        Assert.Equal(0.18215, sd.ScalingFactor);
        Assert.Equal(8, sd.SpatialScaleFactor);
        Assert.Equal(512, sd.SampleSize);

        var x4 = AutoencoderKLPresets.X4Upscaler;
        Assert.Equal(0.08333, x4.ScalingFactor);
        Assert.Equal(4, x4.SpatialScaleFactor);
        using var vae = new AutoencoderKL(x4, device: META);
        var keys = vae.state_dict().Keys.ToHashSet(StringComparer.Ordinal);
        Assert.Contains("encoder.down_blocks.1.downsamplers.0.conv.weight", keys);
        Assert.DoesNotContain("encoder.down_blocks.2.downsamplers.0.conv.weight", keys);
        Assert.Contains("decoder.up_blocks.2.resnets.2.conv2.weight", keys);
        Assert.DoesNotContain("decoder.up_blocks.2.upsamplers.0.conv.weight", keys);
    }

    [Fact]
    public void Config_without_quant_convs_or_mid_attention_has_no_such_keys()
    {
        var config = new AutoencoderKLConfig
        {
            BlockOutChannels = [32, 64],
            DownBlockTypes = [AutoencoderKLConfig.DownEncoderBlock2D, AutoencoderKLConfig.DownEncoderBlock2D],
            UpBlockTypes = [AutoencoderKLConfig.UpDecoderBlock2D, AutoencoderKLConfig.UpDecoderBlock2D],
            UseQuantConv = false,
            UsePostQuantConv = false,
            MidBlockAddAttention = false,
        };
        using var vae = new AutoencoderKL(config, device: META);
        var keys = vae.state_dict().Keys.ToArray();
        Assert.DoesNotContain(keys, k => k.Contains("quant_conv", StringComparison.Ordinal) || k.Contains("attentions", StringComparison.Ordinal));
    }

    [Fact]
    public void Old_attention_key_names_load_to_the_same_weights()
    {
        using var file = TinyVae.OpenFixture();
        var renamed = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, tensor) in TinyVae.Weights(file))
        {
            string old = key.Replace(".to_q.", ".query.", StringComparison.Ordinal)
                .Replace(".to_k.", ".key.", StringComparison.Ordinal)
                .Replace(".to_v.", ".value.", StringComparison.Ordinal)
                .Replace(".to_out.0.", ".proj_attn.", StringComparison.Ordinal);
            renamed.Add(old, tensor);
        }

        Assert.Contains("encoder.mid_block.attentions.0.proj_attn.weight", renamed.Keys);
        using var source = new TensorDictionaryWeightSource(renamed, ownsTensors: true);
        using var vae = new AutoencoderKL(TinyVae.Config(file));
        var report = vae.LoadWeights(source);
        Assert.True(report.IsComplete, report.Describe());

        using var reference = TinyVae.Load();
        var expected = reference.state_dict();
        foreach (var (key, value) in vae.state_dict())
        {
            TensorAssert.Equal(expected[key], value, key);
        }
    }

    [Theory]
    [InlineData("encoder.mid_block.attentions.0.query.weight", "encoder.mid_block.attentions.0.to_q.weight")]
    [InlineData("decoder.mid_block.attentions.0.proj_attn.bias", "decoder.mid_block.attentions.0.to_out.0.bias")]
    [InlineData("decoder.mid_block.attentions.0.to_v.bias", "decoder.mid_block.attentions.0.to_v.bias")]
    [InlineData("decoder.up_blocks.0.resnets.0.conv1.weight", "decoder.up_blocks.0.resnets.0.conv1.weight")]
    [InlineData("encoder.mid_block.attentions.0.group_norm.weight", "encoder.mid_block.attentions.0.group_norm.weight")]
    public void Legacy_key_map(string key, string expected) =>
        Assert.Equal(expected, AutoencoderKL.MapLegacyAttentionKey(key));

    [Fact]
    public void Strict_load_reports_missing_keys()
    {
        using var file = TinyVae.OpenFixture();
        var weights = TinyVae.Weights(file);
        weights.Remove("decoder.conv_out.bias", out var removed);
        removed!.Dispose();
        using var source = new TensorDictionaryWeightSource(weights, ownsTensors: true);
        using var vae = new AutoencoderKL(TinyVae.Config(file));
        var e = Assert.Throws<StateDictMismatchException>(() => vae.LoadWeights(source));
        Assert.Contains("decoder.conv_out.bias", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"block_out_channels": [30], "down_block_types": ["DownEncoderBlock2D"], "up_block_types": ["UpDecoderBlock2D"]}""", "block_out_channels")]
    [InlineData("""{"block_out_channels": [32, 64], "down_block_types": ["DownEncoderBlock2D"], "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"]}""", "down_block_types")]
    [InlineData("""{"layers_per_block": 0}""", "layers_per_block")]
    [InlineData("""{"latent_channels": -4}""", "latent_channels")]
    [InlineData("""{"scaling_factor": 0}""", "scaling_factor")]
    [InlineData("""{"block_out_channels": "wide"}""", "block_out_channels")]
    public void Bad_config_names_the_field(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigFile.Parse(json, AutoencoderJsonContext.Default.AutoencoderKLConfig, "bad.json"));
        Assert.Equal(field, e.Field);
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_block_type_or_activation_is_not_supported()
    {
        Assert.Throws<NotSupportedException>(() => ConfigFile.Parse(
            """{"down_block_types": ["AttnDownEncoderBlock2D"]}""", AutoencoderJsonContext.Default.AutoencoderKLConfig));
        Assert.Throws<NotSupportedException>(() => ConfigFile.Parse(
            """{"act_fn": "tanh"}""", AutoencoderJsonContext.Default.AutoencoderKLConfig));
        Assert.Throws<ConfigException>(() => new AutoencoderKL(new AutoencoderKLConfig { NormNumGroups = 0 }, device: META));
    }

    [Fact]
    public void Config_round_trips_through_json_with_defaults()
    {
        var config = ConfigFile.Parse("{}", AutoencoderJsonContext.Default.AutoencoderKLConfig);
        Assert.Equal(0.18215, config.ScalingFactor);
        Assert.Null(config.ShiftFactor);
        Assert.True(config.ForceUpcast && config.UseQuantConv && config.UsePostQuantConv && config.MidBlockAddAttention);
        var sd = AutoencoderKLPresets.StableDiffusionV14;
        string json = ConfigFile.ToJson(sd, AutoencoderJsonContext.Default.AutoencoderKLConfig);
        var back = ConfigFile.Parse(json, AutoencoderJsonContext.Default.AutoencoderKLConfig);
        Assert.True(ConfigFile.JsonEquals(sd, back, AutoencoderJsonContext.Default.AutoencoderKLConfig));
    }

    [Fact]
    public void Sampling_is_seeded_and_checks_the_noise_shape()
    {
        using var vae = TinyVae.Load();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var posterior = vae.Encode(zeros(1, 3, 8, 8));
        using var g1 = new RandomGenerator(42);
        using var g2 = new RandomGenerator(42);
        TensorAssert.Equal(posterior.Sample(g1), posterior.Sample(g2), "same seed");
        using var g3 = new RandomGenerator(42);
        TensorAssert.Close(posterior.Mean + posterior.Std * g3.Randn([1, 4, 4, 4]), posterior.Sample(new RandomGenerator(42)), 1e-7, what: "mean + std·eps");
        Assert.Throws<ArgumentException>(() => posterior.Sample(zeros(1, 4, 4, 5)));
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, 0.1)]
    [InlineData(ScalarType.Float16, 0.02)]
    public void Half_precision_runs_and_stays_close(ScalarType dtype, double atol)
    {
        using var file = TinyVae.OpenFixture();
        using var vae = TinyVae.Load(dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var decoded = vae.Decode(file.ReadTensor("in.latents", dtype));
        Assert.Equal(dtype, decoded.dtype);
        using var posterior = vae.Encode(file.ReadTensor("in.image", dtype));
        Assert.Equal(dtype, posterior.Mean.dtype);
        double err = (decoded.to(ScalarType.Float32) - file.ReadTensor("out.decoded")).abs().max().item<float>();
        output.WriteLine($"{dtype}: decoded max abs error {err:G4}");
        TensorAssert.Close(file.ReadTensor("out.decoded"), decoded, atol, what: $"{dtype} decoded");
    }

    [Fact]
    public void Built_and_loaded_inside_a_scope_survives_the_scope()
    {
        Models.Autoencoders.AutoencoderKL vae;
        using (var scope = NewDisposeScope())
        {
            vae = TinyVae.Load();
        }

        using (vae)
        {
            using var file = TinyVae.OpenFixture();
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            TensorAssert.Close(file.ReadTensor("out.decoded"), vae.Decode(file.ReadTensor("in.latents")), 1e-4, what: "decoded");
        }
    }

    [Theory]
    [InlineData(3, 2, 8, 8, true, true, true, "silu")]
    [InlineData(2, 2, 16, 4, false, false, false, "gelu")]
    [InlineData(1, 1, 8, 3, true, false, true, "mish")]
    public void Variant_configs_encode_and_decode_with_the_right_shapes(
        int levels, int layers, int groups, int latentChannels, bool quant, bool postQuant, bool attention, string act)
    {
        int[] channels = Enumerable.Range(0, levels).Select(i => 16 << i).ToArray();
        var config = new Models.Autoencoders.AutoencoderKLConfig
        {
            BlockOutChannels = channels,
            DownBlockTypes = Enumerable.Repeat(Models.Autoencoders.AutoencoderKLConfig.DownEncoderBlock2D, levels).ToArray(),
            UpBlockTypes = Enumerable.Repeat(Models.Autoencoders.AutoencoderKLConfig.UpDecoderBlock2D, levels).ToArray(),
            LayersPerBlock = layers,
            NormNumGroups = groups,
            LatentChannels = latentChannels,
            UseQuantConv = quant,
            UsePostQuantConv = postQuant,
            MidBlockAddAttention = attention,
            ActFn = act,
        };
        using var vae = new Models.Autoencoders.AutoencoderKL(config);
        int f = vae.SpatialScaleFactor;
        Assert.Equal(1 << (levels - 1), f);
        Assert.Equal(layers + 1, vae.state_dict().Keys.Count(k => k.StartsWith("decoder.up_blocks.0.resnets.", StringComparison.Ordinal) && k.EndsWith(".conv1.weight", StringComparison.Ordinal)));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var posterior = vae.Encode(zeros(2, 3, 8 * f, 4 * f));
        Assert.Equal([2L, latentChannels, 8, 4], posterior.Mean.shape);
        Assert.Equal([2L, 3, 8 * f, 4 * f], vae.Decode(posterior.Mean).shape);
        using var rng = new RandomGenerator(2);
        var video = rng.Randn([1, latentChannels, 3, 4, 4]);
        TensorAssert.Close(vae.DecodeVideo(video), vae.DecodeVideo(video, framesPerChunk: 2), 1e-5, what: "chunked");
    }

    [Fact]
    public void Fresh_model_has_pytorch_default_norm_parameters()
    {
        using var vae = new Models.Autoencoders.AutoencoderKL(new Models.Autoencoders.AutoencoderKLConfig { BlockOutChannels = [16], NormNumGroups = 8 });
        foreach (var (key, value) in vae.state_dict().Where(p => p.Key.Contains("norm", StringComparison.Ordinal)))
        {
            float expected = key.EndsWith(".weight", StringComparison.Ordinal) ? 1 : 0;
            Assert.True(value.eq(expected).all().item<bool>(), $"{key} is not all {expected}");
        }
    }
}
