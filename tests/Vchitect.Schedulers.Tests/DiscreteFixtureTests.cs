using System.Text.Json;
using Vchitect.Core.Configuration;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Schedulers.Tests;

/// <summary>Parity against schedulers_ddpm, schedulers_ddim and schedulers_lavie016 (diffusers main and v0.16).</summary>
public sealed class DiscreteFixtureTests(ITestOutputHelper output)
{
    private static readonly Lazy<FixtureReader> Ddpm = new(() => new FixtureReader(Fixtures.Path("schedulers_ddpm.safetensors")));
    private static readonly Lazy<FixtureReader> Ddim = new(() => new FixtureReader(Fixtures.Path("schedulers_ddim.safetensors")));
    private static readonly Lazy<FixtureReader> Lavie = new(() => new FixtureReader(Fixtures.Path("schedulers_lavie016.safetensors")));

    [Theory]
    [InlineData("ddpm_linear_eps")]
    [InlineData("ddpm_linear_v")]
    [InlineData("ddpm_linear_lavie_like")]
    [InlineData("ddpm_scaled_linear")]
    public void Ddpm_matches_diffusers(string name)
    {
        var f = Ddpm.Value;
        var config = ConfigFile.Parse(f.MetaJson("config").GetProperty(name).GetRawText(), SchedulerJsonContext.Default.DDPMSchedulerConfig);
        CheckCase(f, "schedulers_ddpm", name, new DDPMScheduler(config), ddim: false);
    }

    [Theory]
    [InlineData("ddim_linear_eps")]
    [InlineData("ddim_linear_v")]
    [InlineData("ddim_linear_lavie_like")]
    [InlineData("ddim_scaled_linear_sd")]
    public void Ddim_matches_diffusers(string name)
    {
        var f = Ddim.Value;
        var config = ConfigFile.Parse(f.MetaJson("config").GetProperty(name).GetRawText(), SchedulerJsonContext.Default.DDIMSchedulerConfig);
        CheckCase(f, "schedulers_ddim", name, new DDIMScheduler(config), ddim: true);
    }

    [Fact]
    public void Lavie016_ddpm_from_sd_pndm_config()
    {
        var f = Lavie.Value;
        var (pndm, overrides) = LavieConfigs(f, "ddpm_lavie");
        // from_config(PNDM file, overrides) as DDPM, then diffusers 0.16's DDPM ignoring steps_offset.
        var swapped = (DDPMScheduler)SchedulerRegistry.Default.Create(pndm, DDPMScheduler.ClassName);
        var config = swapped.TypedConfig with
        {
            BetaStart = overrides.GetProperty("beta_start").GetDouble(),
            BetaEnd = overrides.GetProperty("beta_end").GetDouble(),
            BetaSchedule = overrides.GetProperty("beta_schedule").GetString()!,
        };
        Assert.False(config.ClipSample);
        Assert.Equal(1, config.StepsOffset);
        CheckCase(f, "schedulers_lavie016", "ddpm_lavie", new DDPMScheduler(config.AsDiffusers016()), ddim: false);
    }

    [Fact]
    public void Lavie016_ddim_from_sd_pndm_config()
    {
        var f = Lavie.Value;
        var (pndm, overrides) = LavieConfigs(f, "ddim_lavie");
        var swapped = (DDIMScheduler)SchedulerRegistry.Default.Create(pndm, DDIMScheduler.ClassName);
        var config = swapped.TypedConfig with
        {
            BetaStart = overrides.GetProperty("beta_start").GetDouble(),
            BetaEnd = overrides.GetProperty("beta_end").GetDouble(),
            BetaSchedule = overrides.GetProperty("beta_schedule").GetString()!,
        };
        Assert.False(config.SetAlphaToOne);
        Assert.Contains("skip_prk_steps", config.UnknownKeys);
        CheckCase(f, "schedulers_lavie016", "ddim_lavie", new DDIMScheduler(config), ddim: true);
    }

    private static (PNDMSchedulerConfig Pndm, JsonElement Overrides) LavieConfigs(FixtureReader f, string name)
    {
        var c = f.MetaJson("config").GetProperty(name);
        var pndm = (PNDMScheduler)SchedulerRegistry.Default.FromJson(c.GetProperty("from_config").GetRawText());
        return (pndm.TypedConfig, c.GetProperty("overrides"));
    }

    private void CheckCase(FixtureReader f, string file, string name, VpSchedulerBase s, bool ddim)
    {
        using var scope = NewDisposeScope();
        string p = $"{file}/{name}";
        Parity.Close(f.Read($"out.{name}.betas"), s.Betas, Parity.StepTol, $"{p}.betas", output);
        Parity.Close(f.Read($"out.{name}.alphas_cumprod"), s.AlphasCumprod, Parity.StepTol, $"{p}.alphas_cumprod", output);
        s.SetTimesteps(50);
        Parity.Exact(f.Read($"out.{name}.timesteps"), s.Timesteps, $"{p}.timesteps", output);

        for (int k = 0; k < 3; k++)
        {
            string st = $"{name}.step{k}";
            var timestep = f.Read($"in.{st}.timestep");
            var sample = f.Read($"in.{st}.sample");
            var modelOutput = f.Read($"in.{st}.model_output");
            if (ddim)
            {
                var d = (DDIMScheduler)s;
                foreach (float eta in new[] { 0f, 1f })
                {
                    d.Eta = eta;
                    string tag = eta == 0 ? "eta0" : "eta1";
                    var r = d.Step(modelOutput, timestep, sample, varianceNoise: f.Read($"in.{st}.variance_noise"));
                    Parity.Close(f.Read($"out.{st}.{tag}.prev_sample"), r.PrevSample, Parity.StepTol, $"{p}.step{k}.{tag}.prev_sample", output);
                    Parity.Close(f.Read($"out.{st}.{tag}.pred_original_sample"), r.PredOriginalSample!, Parity.StepTol, $"{p}.step{k}.{tag}.pred_original_sample", output);
                }
            }
            else
            {
                var r = s.Step(modelOutput, timestep, sample, varianceNoise: f.Read($"in.{st}.noise"));
                Parity.Close(f.Read($"out.{st}.prev_sample"), r.PrevSample, Parity.StepTol, $"{p}.step{k}.prev_sample", output);
                Parity.Close(f.Read($"out.{st}.pred_original_sample"), r.PredOriginalSample!, Parity.StepTol, $"{p}.step{k}.pred_original_sample", output);
            }
        }

        var original = f.Read($"in.{name}.add_noise.original_samples");
        var noise = f.Read($"in.{name}.add_noise.noise");
        var ts = f.Read($"in.{name}.add_noise.timesteps");
        Parity.Close(f.Read($"out.{name}.add_noise.noisy"), s.AddNoise(original, noise, ts), Parity.StepTol, $"{p}.add_noise", output);
        Parity.Close(f.Read($"out.{name}.get_velocity"), s.GetVelocity(original, noise, ts), Parity.StepTol, $"{p}.get_velocity", output);

        if (ddim)
        {
            ((DDIMScheduler)s).Eta = 1f;
        }

        var x = f.Read($"in.{name}.loop.x_T");
        var loopNoise = f.Read($"in.{name}.loop.noise");
        long[] timesteps = s.Timesteps.data<long>().ToArray();
        for (int k = 0; k < timesteps.Length; k++)
        {
            var t = tensor(timesteps[k]);
            var mo = (x * 0.5) + (0.1f * (timesteps[k] / 1000f));
            x = s.Step(mo, t, x, varianceNoise: loopNoise[k]).PrevSample;
        }

        Parity.Close(f.Read($"out.{name}.loop.x_0"), x, Parity.LoopTol, $"{p}.loop.x_0", output);
    }
}
