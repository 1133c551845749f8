using Vchitect.Core.Configuration;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Schedulers.Tests;

/// <summary>Parity against schedulers_flowmatch (diffusers main) and adm_sampler (SEINE / LaVie-interpolation / VideoBooth ADM copies).</summary>
public sealed class FlowAndAdmFixtureTests(ITestOutputHelper output)
{
    private static readonly Lazy<FixtureReader> Flow = new(() => new FixtureReader(Fixtures.Path("schedulers_flowmatch.safetensors")));
    private static readonly Lazy<FixtureReader> Adm = new(() => new FixtureReader(Fixtures.Path("adm_sampler.safetensors")));

    [Theory]
    [InlineData("flow_shift1p0")]
    [InlineData("flow_shift3p0")]
    public void FlowMatch_matches_diffusers(string name)
    {
        var f = Flow.Value;
        using var scope = NewDisposeScope();
        string p = $"schedulers_flowmatch/{name}";
        var config = ConfigFile.Parse(f.MetaJson("config").GetProperty(name).GetRawText(), SchedulerJsonContext.Default.FlowMatchEulerDiscreteSchedulerConfig);
        var s = new FlowMatchEulerDiscreteScheduler(config);
        s.SetTimesteps(30);
        Parity.Exact(f.Read($"out.{name}.timesteps"), s.Timesteps, $"{p}.timesteps", output);
        Parity.Exact(f.Read($"out.{name}.sigmas"), s.Sigmas!, $"{p}.sigmas", output);
        for (int k = 0; k < 3; k++)
        {
            string st = $"{name}.step{k}";
            s.ResetStepIndex();
            var r = s.Step(f.Read($"in.{st}.model_output"), f.Read($"in.{st}.timestep"), f.Read($"in.{st}.sample"));
            Parity.Close(f.Read($"out.{st}.prev_sample"), r.PrevSample, Parity.StepTol, $"{p}.step{k}.prev_sample", output);
        }

        var noisy = s.AddNoise(f.Read($"in.{name}.scale_noise.sample"), f.Read($"in.{name}.scale_noise.noise"), f.Read($"in.{name}.scale_noise.timesteps"));
        Parity.Close(f.Read($"out.{name}.scale_noise.noisy"), noisy, Parity.StepTol, $"{p}.scale_noise", output);

        s.SetTimesteps(30);
        var x = f.Read($"in.{name}.loop.x_T");
        float[] ts = s.Timesteps.data<float>().ToArray();
        foreach (float t in ts)
        {
            var mo = (x * 0.5) + (0.1f * (t / 1000f));
            x = s.Step(mo, tensor(t), x).PrevSample;
        }

        Parity.Close(f.Read($"out.{name}.loop.x_0"), x, Parity.LoopTol, $"{p}.loop.x_0", output);
    }

    [Theory]
    [InlineData("50")]
    [InlineData("250")]
    [InlineData("ddim50")]
    public void Adm_schedule_and_steps_match_reference(string r)
    {
        var f = Adm.Value;
        using var scope = NewDisposeScope();
        string p = $"adm_sampler/{r}";
        var large = new GuidedDiffusionScheduler(new GuidedDiffusionSchedulerConfig { TimestepRespacing = r });
        var small = new GuidedDiffusionScheduler(new GuidedDiffusionSchedulerConfig { TimestepRespacing = r, VarianceType = "fixed_small" });
        Parity.Close(f.Read("out.base.betas"), large.BaseBetas, Parity.StepTol, "adm_sampler/base.betas", output);
        Parity.Close(f.Read("out.base.alphas_cumprod"), large.BaseAlphasCumprod, Parity.StepTol, "adm_sampler/base.alphas_cumprod", output);
        if (f.Contains($"out.{r}.use_timesteps"))
        {
            Parity.Exact(f.Read($"out.{r}.use_timesteps"), tensor(GuidedDiffusionScheduler.SpaceTimesteps(1000, r)), $"{p}.use_timesteps", output);
            Parity.Exact(f.Read($"out.{r}.timestep_map"), tensor(large.TimestepMap.ToArray()), $"{p}.timestep_map", output);
        }

        foreach (string table in new[]
        {
            "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
            "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
            "fixed_large_variance", "fixed_large_log_variance",
        })
        {
            if (f.Contains($"out.{r}.{table}"))
            {
                Parity.Close(f.Read($"out.{r}.{table}"), large.Table(table), Parity.StepTol, $"{p}.{table}", output);
            }
        }

        var qt = f.Read($"in.{r}.q.t");
        Parity.Close(f.Read($"out.{r}.q.x_t"), large.QSample(f.Read($"in.{r}.q.x_start"), qt, f.Read($"in.{r}.q.noise")), Parity.StepTol, $"{p}.q", output);

        for (int k = 0; k < 4; k++)
        {
            string st = $"{r}.step{k}";
            if (!f.Contains($"in.{st}.x"))
            {
                continue;
            }

            var x = f.Read($"in.{st}.x");
            var eps = f.Read($"in.{st}.eps");
            var noise = f.Read($"in.{st}.noise");
            var t = f.Read($"in.{st}.t");
            Parity.Exact(f.Read($"out.{st}.model_t"), large.ModelTimesteps(t), $"{p}.step{k}.model_t", output);

            Check(st, "p_large", large.PSample(eps, t, x, noise));
            large.ClipDenoised = true;
            Check(st, "p_large_clip", large.PSample(eps, t, x, noise));
            large.ClipDenoised = false;
            Check(st, "p_small", small.PSample(eps, t, x, noise));
            Check(st, "ddim_eta0", large.DdimSample(eps, t, x, noise, 0f));
            Check(st, "ddim_eta1", large.DdimSample(eps, t, x, noise, 1f));
        }

        void Check(string st, string variant, AdmStepOutput o)
        {
            Parity.Close(f.Read($"out.{st}.{variant}.sample"), o.Sample, Parity.StepTol, $"adm_sampler/{st}.{variant}.sample", output);
            Parity.Close(f.Read($"out.{st}.{variant}.pred_xstart"), o.PredXStart, Parity.StepTol, $"adm_sampler/{st}.{variant}.pred_xstart", output);
        }
    }

    [Theory]
    [InlineData("seine_ddpm250")]
    [InlineData("ddpm50_plain")]
    [InlineData("ddpm50_small")]
    [InlineData("ddim50_eta0")]
    [InlineData("ddim50_eta1")]
    [InlineData("lavie_interp_ddim50")]
    [InlineData("videobooth_ddpm50")]
    public void Adm_loops_match_reference(string name)
    {
        var f = Adm.Value;
        using var scope = NewDisposeScope();
        var loop = f.MetaJson("config").GetProperty("loops").EnumerateArray().Single(l => l.GetProperty("name").GetString() == name);
        string respacing = loop.GetProperty("respacing").GetString()!;
        bool sigmaSmall = loop.TryGetProperty("sigma_small", out var ss) && ss.GetBoolean();
        var s = new GuidedDiffusionScheduler(new GuidedDiffusionSchedulerConfig
        {
            TimestepRespacing = respacing,
            VarianceType = sigmaSmall ? "fixed_small" : "fixed_large",
        })
        {
            SamplingMethod = loop.GetProperty("method").GetString() == "ddim" ? AdmSamplingMethod.Ddim : AdmSamplingMethod.Ddpm,
            Eta = loop.TryGetProperty("eta", out var eta) ? eta.GetSingle() : 0f,
        };
        string model = loop.GetProperty("model").GetString()!;
        var x = f.Read($"in.loop.{name}.x_T");
        var noise = f.Read($"in.loop.{name}.noise");
        Tensor? xStart = f.Contains($"in.loop.{name}.x_start") ? f.Read($"in.loop.{name}.x_start") : null;
        Tensor? mask = f.Contains($"in.loop.{name}.mask") ? f.Read($"in.loop.{name}.mask") : null;
        long[] timesteps = s.Timesteps.data<long>().ToArray();
        var modelTimesteps = new List<long>();
        for (int k = 0; k < timesteps.Length; k++)
        {
            long t = timesteps[k];
            // Stand-in models of the fixture (notes.loops.*.fake_model); the model is fed the ORIGINAL timestep.
            var eps = (x * 0.9f) + (0.1f * (t / 1000f));
            if (model == "seine_concat")
            {
                eps = (x * 0.9f) + (mask! * 0.02f) + (xStart! * 0.05f) + (0.1f * (t / 1000f));
            }
            else if (model == "copy_concat")
            {
                eps = (x * 0.9f) + (xStart! * 0.05f) + (0.1f * (t / 1000f));
                modelTimesteps.Add(t); // the LaVie copy calls the stand-in twice per step (`.sample` fails, then retries)
            }

            modelTimesteps.Add(t);
            x = s.Step(eps, tensor(t), x, varianceNoise: noise[k]).PrevSample;
        }

        Parity.Exact(f.Read($"out.loop.{name}.model_t"), tensor(modelTimesteps.ToArray()), $"adm_sampler/loop.{name}.model_t", output);
        Parity.Close(f.Read($"out.loop.{name}.x_0"), x, Parity.LoopTol, $"adm_sampler/loop.{name}.x_0", output);
    }
}
