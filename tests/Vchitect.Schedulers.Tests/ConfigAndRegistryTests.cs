using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Schedulers.Tests;

/// <summary>scheduler_config.json loading, class swapping (from_config) and config validation.</summary>
public sealed class ConfigAndRegistryTests
{
    // Stable Diffusion v1.4's scheduler/scheduler_config.json (also what LaVie ships).
    private const string Sd14 = """
        {
          "_class_name": "PNDMScheduler",
          "_diffusers_version": "0.7.0.dev0",
          "beta_end": 0.012,
          "beta_schedule": "scaled_linear",
          "beta_start": 0.00085,
          "num_train_timesteps": 1000,
          "set_alpha_to_one": false,
          "skip_prk_steps": true,
          "steps_offset": 1,
          "trained_betas": null,
          "clip_sample": false
        }
        """;

    [Fact]
    public void Loads_by_class_name()
    {
        var s = SchedulerRegistry.Default.FromJson(Sd14);
        var pndm = Assert.IsType<PNDMScheduler>(s);
        Assert.True(pndm.TypedConfig.SkipPrkSteps);
        Assert.Equal(1, pndm.TypedConfig.StepsOffset);
        Assert.Contains("clip_sample", pndm.Config.UnknownKeys);
        s.SetTimesteps(50);
        Assert.Equal(51, s.Timesteps.shape[0]);
        Assert.Equal(981, s.Timesteps[0].item<long>());
    }

    [Fact]
    public void Swapping_class_keeps_shared_fields_and_takes_target_defaults()
    {
        var pndm = SchedulerRegistry.Default.FromJson(Sd14);
        var ddim = Assert.IsType<DDIMScheduler>(SchedulerRegistry.Default.Create(pndm.Config, "DDIMScheduler"));
        Assert.Equal("scaled_linear", ddim.TypedConfig.BetaSchedule);
        Assert.False(ddim.TypedConfig.SetAlphaToOne);
        Assert.False(ddim.TypedConfig.ClipSample); // from the file's extra key
        Assert.Equal("DDIMScheduler", ddim.Config.ClassName);
        Assert.Contains("skip_prk_steps", ddim.Config.UnknownKeys);

        var euler = Assert.IsType<EulerDiscreteScheduler>(SchedulerRegistry.Default.Create(ddim.Config, "EulerDiscreteScheduler"));
        Assert.Equal("leading", euler.TypedConfig.TimestepSpacing); // DDIM's effective value carries over, as in diffusers
        var back = Assert.IsType<PNDMScheduler>(SchedulerRegistry.Default.Create(euler.Config, "PNDMScheduler"));
        Assert.True(back.TypedConfig.SkipPrkSteps); // kept through the extension data
    }

    [Fact]
    public void Missing_keys_take_the_target_class_defaults()
    {
        var ddim = (DDIMScheduler)SchedulerRegistry.Default.FromJson("""{"_class_name": "DDIMScheduler"}""");
        Assert.True(ddim.TypedConfig.ClipSample);
        Assert.True(ddim.TypedConfig.SetAlphaToOne);
        var euler = (EulerDiscreteScheduler)SchedulerRegistry.Default.FromJson("""{"_class_name": "EulerDiscreteScheduler"}""");
        Assert.Equal("linspace", euler.TypedConfig.TimestepSpacing);
    }

    [Fact]
    public void Python_infinity_literal_is_read()
    {
        var dpm = (DPMSolverMultistepScheduler)SchedulerRegistry.Default.FromJson(
            """{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "solver_order": 2}""");
        Assert.True(double.IsNegativeInfinity(dpm.TypedConfig.LambdaMinClipped!.Value));
        dpm.SetTimesteps(20);
        Assert.Equal(999, dpm.Timesteps[0].item<long>());
    }

    [Fact]
    public void Unknown_class_name_throws_naming_it()
    {
        var e = Assert.Throws<ConfigException>(() => SchedulerRegistry.Default.FromJson("""{"_class_name": "LMSDiscreteSchedulerX"}"""));
        Assert.Contains("LMSDiscreteSchedulerX", e.Message, StringComparison.Ordinal);
        Assert.Contains("DDIMScheduler", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_class_name_throws() =>
        Assert.Throws<ConfigException>(() => SchedulerRegistry.Default.FromJson("""{"beta_start": 0.001}"""));

    [Fact]
    public void Unknown_beta_schedule_throws_naming_field_value_and_allowed()
    {
        var e = Assert.Throws<ConfigException>(() => SchedulerRegistry.Default.FromJson("""{"_class_name": "DDIMScheduler", "beta_schedule": "quadratic"}"""));
        Assert.Equal("beta_schedule", e.Field);
        Assert.Contains("quadratic", e.Message, StringComparison.Ordinal);
        Assert.Contains("scaled_linear", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"_class_name": "DDIMScheduler", "prediction_type": "flow"}""", "prediction_type")]
    [InlineData("""{"_class_name": "DDIMScheduler", "timestep_spacing": "cosine"}""", "timestep_spacing")]
    [InlineData("""{"_class_name": "DDPMScheduler", "variance_type": "huge"}""", "variance_type")]
    [InlineData("""{"_class_name": "DDPMScheduler", "trained_betas": [0.1, 0.2]}""", "trained_betas")]
    [InlineData("""{"_class_name": "DPMSolverMultistepScheduler", "solver_order": 4}""", "solver_order")]
    [InlineData("""{"_class_name": "GuidedDiffusionScheduler", "timestep_respacing": "ddim37"}""", "timestep_respacing")]
    [InlineData("""{"_class_name": "DDIMScheduler", "beta_start": "x"}""", "beta_start")]
    public void Invalid_values_name_the_field(string json, string field) =>
        Assert.Equal(field, Assert.Throws<ConfigException>(() => SchedulerRegistry.Default.FromJson(json)).Field);

    [Theory]
    [InlineData("""{"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "sde-dpmsolver"}""", "algorithm_type")]
    [InlineData("""{"_class_name": "EulerDiscreteScheduler", "use_beta_sigmas": true}""", "use_beta_sigmas")]
    [InlineData("""{"_class_name": "FlowMatchEulerDiscreteScheduler", "use_beta_sigmas": true}""", "use_beta_sigmas")]
    [InlineData("""{"_class_name": "DDPMScheduler", "variance_type": "fixed_large_log"}""", "variance_type")]
    [InlineData("""{"_class_name": "EulerDiscreteScheduler", "interpolation_type": "log_linear"}""", "interpolation_type")]
    public void Unsupported_options_throw_NotSupported_naming_the_option(string json, string option) =>
        Assert.Contains(option, Assert.Throws<NotSupportedException>(() => SchedulerRegistry.Default.FromJson(json)).Message, StringComparison.Ordinal);

    [Fact]
    public void Users_register_their_own_scheduler()
    {
        var registry = new SchedulerRegistry();
        registry.Register("TinyScheduler", TinyJson.Default.TinyConfig, c => new DDIMScheduler(new DDIMSchedulerConfig { NumTrainTimesteps = c.NumTrainTimesteps }));
        var s = registry.FromJson("""{"_class_name": "TinyScheduler", "num_train_timesteps": 100}""");
        s.SetTimesteps(10);
        Assert.Equal(10, s.Timesteps.shape[0]);
        Assert.False(SchedulerRegistry.Default.IsRegistered("TinyScheduler"));
    }

    [Fact]
    public void Config_round_trips_through_json()
    {
        var config = new DPMSolverMultistepSchedulerConfig { SolverOrder = 3, UseKarrasSigmas = true, ClassName = "DPMSolverMultistepScheduler" };
        string json = ConfigFile.ToJson(config, SchedulerJsonContext.Default.DPMSolverMultistepSchedulerConfig);
        var back = ConfigFile.Parse(json, SchedulerJsonContext.Default.DPMSolverMultistepSchedulerConfig);
        Assert.Equal(3, back.SolverOrder);
        Assert.True(back.UseKarrasSigmas);
        Assert.Contains("\"solver_order\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Trained_betas_are_used()
    {
        float[] betas = Enumerable.Range(0, 10).Select(i => 0.01f + (0.01f * i)).ToArray();
        var s = new DDPMScheduler(new DDPMSchedulerConfig { NumTrainTimesteps = 10, TrainedBetas = betas });
        Assert.Equal(betas, s.Betas.data<float>().ToArray());
    }

    [Fact]
    public void Zero_snr_rescale_ends_at_zero()
    {
        var s = new DDIMScheduler(new DDIMSchedulerConfig { RescaleBetasZeroSnr = true, BetaSchedule = "scaled_linear", BetaStart = 0.00085, BetaEnd = 0.012 });
        Assert.Equal(0f, s.AlphasCumprod[-1].item<float>(), 6);
        var e = new EulerDiscreteScheduler(new EulerDiscreteSchedulerConfig { RescaleBetasZeroSnr = true });
        Assert.Equal(MathF.Pow(2, -24), e.AlphasCumprod[-1].item<float>());
    }

    [Fact]
    public void Thresholding_bounds_x0()
    {
        using var scope = NewDisposeScope();
        var s = new DDIMScheduler(new DDIMSchedulerConfig { Thresholding = true, SampleMaxValue = 2.0, PredictionType = "sample" });
        s.SetTimesteps(10);
        var x = randn(new long[] { 2, 4, 8, 8 });
        var r = s.Step(x * 10, s.Timesteps[0], x);
        Assert.True(r.PredOriginalSample!.abs().max().item<float>() <= 1.0001f);
    }

    [Fact]
    public void Squaredcos_schedule_matches_the_closed_form()
    {
        var s = new DDPMScheduler(new DDPMSchedulerConfig { BetaSchedule = "squaredcos_cap_v2" });
        static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        Assert.Equal(1 - (AlphaBar(0.001) / AlphaBar(0)), s.Betas[0].item<float>(), 6);
        Assert.Equal(0.999f, s.Betas[-1].item<float>(), 5);
    }
}

public sealed record TinyConfig : DiffusersConfig
{
    [JsonPropertyName("num_train_timesteps")] public int NumTrainTimesteps { get; init; } = 1000;
}

[JsonSerializable(typeof(TinyConfig))]
internal sealed partial class TinyJson : JsonSerializerContext;
