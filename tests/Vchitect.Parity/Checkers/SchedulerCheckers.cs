using System.Text.Json;
using System.Text.Json.Nodes;
using Vchitect.Schedulers;
using static TorchSharp.torch;

namespace Vchitect.Parity.Checkers;

/// <summary>
/// <c>schedulers_ddpm</c>, <c>schedulers_ddim</c>, <c>schedulers_lavie016</c>: for each case of <c>__metadata__.config</c>,
/// the β/ᾱ tables, the timesteps (exact), single steps (DDIM with η = 0 and η = 1 and explicit variance noise),
/// <c>add_noise</c>, <c>get_velocity</c> and the full loop with the stand-in model 0.5·x + 0.1·t/1000.
/// LaVie's file was made with diffusers 0.16: its cases are from_config(SD v1.4 PNDM config, overrides), and 0.16's DDPM ignores steps_offset.
/// </summary>
public sealed class DiscreteSchedulerChecker : IParityChecker
{
    private const double StepTol = 1e-5;
    private const double LoopTol = 1e-4;

    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["schedulers_ddpm", "schedulers_ddim", "schedulers_lavie016"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        bool legacy016 = fixture.Metadata.TryGetValue("reference", out string? reference) && reference.Contains("\"0.16.", StringComparison.Ordinal);
        foreach (var property in fixture.Config.EnumerateObject())
        {
            var results = new List<ParityResult>();
            try
            {
                CheckCase(fixture, property.Name, property.Value, legacy016, results);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                results.Add(ParityResult.Failed(property.Name, $"{e.GetType().Name}: {e.Message}"));
            }

            foreach (var r in results)
            {
                yield return r;
            }
        }
    }

    private static void CheckCase(Fixture f, string name, JsonElement config, bool legacy016, List<ParityResult> results)
    {
        using var scope = NewDisposeScope();
        var notes = f.Notes.GetProperty(name);
        string className = notes.GetProperty("class").GetString()!;
        string json = config.TryGetProperty("from_config", out var fromConfig)
            ? Merge(fromConfig, config.GetProperty("overrides"))
            : config.GetRawText();
        IScheduler s = SchedulerRegistry.Default.FromJson(json, className, $"{f.Path}:{name}");
        if (legacy016 && s is DDPMScheduler ddpm)
        {
            s = new DDPMScheduler(ddpm.TypedConfig.AsDiffusers016());
        }

        var vp = (VpSchedulerBase)s;
        results.Add(ParityResult.Close($"{name}.betas", f.Out($"{name}.betas"), vp.Betas, StepTol, StepTol));
        results.Add(ParityResult.Close($"{name}.alphas_cumprod", f.Out($"{name}.alphas_cumprod"), vp.AlphasCumprod, StepTol, StepTol));
        s.SetTimesteps(notes.GetProperty("num_inference_steps").GetInt32());
        results.Add(ParityResult.Exact($"{name}.timesteps", f.Out($"{name}.timesteps"), s.Timesteps));

        for (int k = 0; f.HasInput($"{name}.step{k}.timestep"); k++)
        {
            string st = $"{name}.step{k}";
            var timestep = f.In($"{st}.timestep");
            var sample = f.In($"{st}.sample");
            var modelOutput = f.In($"{st}.model_output");
            if (s is DDIMScheduler ddim)
            {
                foreach (float eta in new[] { 0f, 1f })
                {
                    ddim.Eta = eta;
                    string tag = eta == 0 ? "eta0" : "eta1";
                    var r = ddim.Step(modelOutput, timestep, sample, varianceNoise: f.In($"{st}.variance_noise"));
                    results.Add(ParityResult.Close($"{st}.{tag}.prev_sample", f.Out($"{st}.{tag}.prev_sample"), r.PrevSample, StepTol, StepTol));
                    results.Add(ParityResult.Close($"{st}.{tag}.pred_original_sample", f.Out($"{st}.{tag}.pred_original_sample"), r.PredOriginalSample!, StepTol, StepTol));
                }
            }
            else
            {
                var r = s.Step(modelOutput, timestep, sample, varianceNoise: f.In($"{st}.noise"));
                results.Add(ParityResult.Close($"{st}.prev_sample", f.Out($"{st}.prev_sample"), r.PrevSample, StepTol, StepTol));
                results.Add(ParityResult.Close($"{st}.pred_original_sample", f.Out($"{st}.pred_original_sample"), r.PredOriginalSample!, StepTol, StepTol));
            }
        }

        var original = f.In($"{name}.add_noise.original_samples");
        var noise = f.In($"{name}.add_noise.noise");
        var ts = f.In($"{name}.add_noise.timesteps");
        results.Add(ParityResult.Close($"{name}.add_noise.noisy", f.Out($"{name}.add_noise.noisy"), s.AddNoise(original, noise, ts), StepTol, StepTol));
        results.Add(ParityResult.Close($"{name}.get_velocity", f.Out($"{name}.get_velocity"), s.GetVelocity(original, noise, ts), StepTol, StepTol));

        if (s is DDIMScheduler loopDdim)
        {
            loopDdim.Eta = 1f; // the DDIM loops run with eta = 1 and explicit noise
        }

        var x = f.In($"{name}.loop.x_T");
        var loopNoise = f.In($"{name}.loop.noise");
        long[] timesteps = s.Timesteps.data<long>().ToArray();
        for (int k = 0; k < timesteps.Length; k++)
        {
            var mo = (x * 0.5) + (0.1f * (timesteps[k] / 1000f));
            x = s.Step(mo, tensor(timesteps[k]), x, varianceNoise: loopNoise[k]).PrevSample;
        }

        results.Add(ParityResult.Close($"{name}.loop.x_0", f.Out($"{name}.loop.x_0"), x, LoopTol, LoopTol));
    }

    private static string Merge(JsonElement baseConfig, JsonElement overrides)
    {
        var node = JsonNode.Parse(baseConfig.GetRawText())!.AsObject();
        foreach (var p in overrides.EnumerateObject())
        {
            node[p.Name] = JsonNode.Parse(p.Value.GetRawText());
        }

        return node.ToJsonString();
    }
}

/// <summary>
/// <c>schedulers_flowmatch</c>: timesteps and σs (exact, float32), single steps with the step index reset before each,
/// <c>scale_noise</c>, and the loop with the stand-in model.
/// </summary>
public sealed class FlowMatchChecker : IParityChecker
{
    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["schedulers_flowmatch"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        foreach (var property in fixture.Config.EnumerateObject())
        {
            var results = new List<ParityResult>();
            string name = property.Name;
            try
            {
                using var scope = NewDisposeScope();
                var s = (FlowMatchEulerDiscreteScheduler)SchedulerRegistry.Default.FromJson(property.Value.GetRawText(), FlowMatchEulerDiscreteScheduler.ClassName, $"{fixture.Path}:{name}");
                int steps = fixture.Notes.GetProperty(name).GetProperty("num_inference_steps").GetInt32();
                s.SetTimesteps(steps);
                results.Add(ParityResult.Exact($"{name}.timesteps", fixture.Out($"{name}.timesteps"), s.Timesteps));
                results.Add(ParityResult.Exact($"{name}.sigmas", fixture.Out($"{name}.sigmas"), s.Sigmas!));
                for (int k = 0; fixture.HasInput($"{name}.step{k}.timestep"); k++)
                {
                    string st = $"{name}.step{k}";
                    s.ResetStepIndex();
                    var r = s.Step(fixture.In($"{st}.model_output"), fixture.In($"{st}.timestep"), fixture.In($"{st}.sample"));
                    results.Add(ParityResult.Close($"{st}.prev_sample", fixture.Out($"{st}.prev_sample"), r.PrevSample, 1e-5, 1e-5));
                }

                var noisy = s.AddNoise(fixture.In($"{name}.scale_noise.sample"), fixture.In($"{name}.scale_noise.noise"), fixture.In($"{name}.scale_noise.timesteps"));
                results.Add(ParityResult.Close($"{name}.scale_noise.noisy", fixture.Out($"{name}.scale_noise.noisy"), noisy, 1e-5, 1e-5));

                s.SetTimesteps(steps);
                var x = fixture.In($"{name}.loop.x_T");
                foreach (float t in s.Timesteps.data<float>().ToArray())
                {
                    x = s.Step((x * 0.5) + (0.1f * (t / 1000f)), tensor(t), x).PrevSample;
                }

                results.Add(ParityResult.Close($"{name}.loop.x_0", fixture.Out($"{name}.loop.x_0"), x, 1e-4, 1e-4));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                results.Add(ParityResult.Failed(name, $"{e.GetType().Name}: {e.Message}"));
            }

            foreach (var r in results)
            {
                yield return r;
            }
        }
    }
}

/// <summary>
/// <c>adm_sampler</c>: the guided-diffusion schedules per respacing (float32 casts of the float64 tables), kept timesteps
/// and timestep map (exact), <c>p_sample</c> (fixed-large, clipped, fixed-small) and <c>ddim_sample</c> (η 0, 1) on per-row
/// indices, the model timesteps, <c>q_sample</c>, and every loop of <c>config.loops</c> with its stand-in model.
/// </summary>
public sealed class AdmSamplerChecker : IParityChecker
{
    private static readonly string[] Tables =
    [
        "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
        "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
        "fixed_large_variance", "fixed_large_log_variance",
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["adm_sampler"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        var groups = new List<(string Name, Action<List<ParityResult>> Run)>();
        int steps = fixture.Config.TryGetProperty("diffusion_steps", out var ds) ? ds.GetInt32() : 1000;
        foreach (var r in fixture.Config.GetProperty("respacings").EnumerateArray().Select(e => e.GetString()!))
        {
            groups.Add((r, results => CheckRespacing(fixture, steps, r, results)));
        }

        foreach (var loop in fixture.Config.GetProperty("loops").EnumerateArray())
        {
            groups.Add(($"loop.{loop.GetProperty("name").GetString()}", results => CheckLoop(fixture, steps, loop, results)));
        }

        foreach (var (name, run) in groups)
        {
            var results = new List<ParityResult>();
            try
            {
                using var scope = NewDisposeScope();
                run(results);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                results.Add(ParityResult.Failed(name, $"{e.GetType().Name}: {e.Message}"));
            }

            foreach (var result in results)
            {
                yield return result;
            }
        }
    }

    private static void CheckRespacing(Fixture f, int steps, string r, List<ParityResult> results)
    {
        var large = new GuidedDiffusionScheduler(new GuidedDiffusionSchedulerConfig { NumTrainTimesteps = steps, TimestepRespacing = r });
        var small = new GuidedDiffusionScheduler(new GuidedDiffusionSchedulerConfig { NumTrainTimesteps = steps, TimestepRespacing = r, VarianceType = "fixed_small" });
        if (f.File.Contains("out.base.betas"))
        {
            results.Add(ParityResult.Close("base.betas", f.Out("base.betas"), large.BaseBetas, 1e-5, 1e-5));
            results.Add(ParityResult.Close("base.alphas_cumprod", f.Out("base.alphas_cumprod"), large.BaseAlphasCumprod, 1e-5, 1e-5));
        }

        if (f.File.Contains($"out.{r}.use_timesteps"))
        {
            results.Add(ParityResult.Exact($"{r}.use_timesteps", f.Out($"{r}.use_timesteps"), tensor(GuidedDiffusionScheduler.SpaceTimesteps(steps, r))));
        }

        if (f.File.Contains($"out.{r}.timestep_map"))
        {
            results.Add(ParityResult.Exact($"{r}.timestep_map", f.Out($"{r}.timestep_map"), tensor(large.TimestepMap.ToArray())));
        }

        foreach (string table in Tables.Where(t => f.File.Contains($"out.{r}.{t}")))
        {
            results.Add(ParityResult.Close($"{r}.{table}", f.Out($"{r}.{table}"), large.Table(table), 1e-5, 1e-5));
        }

        if (f.HasInput($"{r}.q.t"))
        {
            var q = large.QSample(f.In($"{r}.q.x_start"), f.In($"{r}.q.t"), f.In($"{r}.q.noise"));
            results.Add(ParityResult.Close($"{r}.q.x_t", f.Out($"{r}.q.x_t"), q, 1e-5, 1e-5));
        }

        for (int k = 0; f.HasInput($"{r}.step{k}.x"); k++)
        {
            string st = $"{r}.step{k}";
            var x = f.In($"{st}.x");
            var eps = f.In($"{st}.eps");
            var noise = f.In($"{st}.noise");
            var t = f.In($"{st}.t");
            results.Add(ParityResult.Exact($"{st}.model_t", f.Out($"{st}.model_t"), large.ModelTimesteps(t)));
            Add(st, "p_large", large.PSample(eps, t, x, noise));
            large.ClipDenoised = true;
            Add(st, "p_large_clip", large.PSample(eps, t, x, noise));
            large.ClipDenoised = false;
            Add(st, "p_small", small.PSample(eps, t, x, noise));
            Add(st, "ddim_eta0", large.DdimSample(eps, t, x, noise, 0f));
            Add(st, "ddim_eta1", large.DdimSample(eps, t, x, noise, 1f));
        }

        void Add(string st, string variant, AdmStepOutput o)
        {
            results.Add(ParityResult.Close($"{st}.{variant}.sample", f.Out($"{st}.{variant}.sample"), o.Sample, 1e-5, 1e-5));
            results.Add(ParityResult.Close($"{st}.{variant}.pred_xstart", f.Out($"{st}.{variant}.pred_xstart"), o.PredXStart, 1e-5, 1e-5));
        }
    }

    private static void CheckLoop(Fixture f, int steps, JsonElement loop, List<ParityResult> results)
    {
        string name = loop.GetProperty("name").GetString()!;
        bool sigmaSmall = loop.TryGetProperty("sigma_small", out var ss) && ss.GetBoolean();
        var s = new GuidedDiffusionScheduler(new GuidedDiffusionSchedulerConfig
        {
            NumTrainTimesteps = steps,
            TimestepRespacing = loop.GetProperty("respacing").GetString()!,
            VarianceType = sigmaSmall ? "fixed_small" : "fixed_large",
        })
        {
            SamplingMethod = loop.GetProperty("method").GetString() == "ddim" ? AdmSamplingMethod.Ddim : AdmSamplingMethod.Ddpm,
            Eta = loop.TryGetProperty("eta", out var eta) ? eta.GetSingle() : 0f,
        };
        string model = loop.GetProperty("model").GetString()!;
        var x = f.In($"loop.{name}.x_T");
        var noise = f.In($"loop.{name}.noise");
        Tensor? xStart = f.HasInput($"loop.{name}.x_start") ? f.In($"loop.{name}.x_start") : null;
        Tensor? mask = f.HasInput($"loop.{name}.mask") ? f.In($"loop.{name}.mask") : null;
        var modelTimesteps = new List<long>();
        long[] timesteps = s.Timesteps.data<long>().ToArray();
        for (int k = 0; k < timesteps.Length; k++)
        {
            long t = timesteps[k];
            float tt = 0.1f * (t / 1000f);
            // The fixture's stand-in models (notes.loops.*.fake_model), fed the original timestep.
            var eps = model switch
            {
                "seine_concat" => (x * 0.9f) + (mask! * 0.02f) + (xStart! * 0.05f) + tt,
                "copy_concat" => (x * 0.9f) + (xStart! * 0.05f) + tt,
                _ => (x * 0.9f) + tt,
            };
            if (model == "copy_concat")
            {
                modelTimesteps.Add(t); // LaVie's copy calls the model twice per step (`.sample` fails, it retries)
            }

            modelTimesteps.Add(t);
            x = s.Step(eps, tensor(t), x, varianceNoise: noise[k]).PrevSample;
        }

        results.Add(ParityResult.Exact($"loop.{name}.model_t", f.Out($"loop.{name}.model_t"), tensor(modelTimesteps.ToArray())));
        results.Add(ParityResult.Close($"loop.{name}.x_0", f.Out($"loop.{name}.x_0"), x, 1e-4, 1e-4));
    }
}
