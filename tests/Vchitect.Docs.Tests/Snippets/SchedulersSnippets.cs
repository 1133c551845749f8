// <snippet>
using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;
using Vchitect.Schedulers;
using static TorchSharp.torch;
// </snippet>
using Xunit;

namespace Vchitect.Docs.Tests.Snippets;

/// <summary>docs/schedulers.md</summary>
public sealed class SchedulersSnippets
{
    [Fact]
    public void Load_swap_and_loop()
    {
        string folder = Path.Combine(Path.GetTempPath(), "vchitect-docs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(folder, "scheduler"));
        File.WriteAllText(Path.Combine(folder, "scheduler", "scheduler_config.json"),
            """{"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "skip_prk_steps": true, "steps_offset": 1}""");
        try
        {
            Tensor x0 = zeros(1, 4, 8, 8);
            Tensor Model(Tensor x, Tensor t) => x; // stand-in denoiser
            using var generator = new Generator(1);
            string path = Path.Combine(folder, "scheduler", "scheduler_config.json");
            // <snippet>
            IScheduler scheduler = SchedulerRegistry.Default.FromFile(path);                      // by _class_name
            IScheduler ddim = SchedulerRegistry.Default.Create(scheduler.Config, "DDIMScheduler"); // from_config

            ddim.SetTimesteps(25);
            Tensor latents = randn([1, 4, 8, 8], generator: generator) * ddim.InitNoiseSigma;
            for (int i = 0; i < ddim.Timesteps.shape[0]; i++)
            {
                using var step = NewDisposeScope();
                Tensor t = ddim.Timesteps[i];
                Tensor noisePred = Model(ddim.ScaleModelInput(latents, t), t);
                latents = ddim.Step(noisePred, t, latents, generator).PrevSample.MoveToOuterDisposeScope();
            }
            // </snippet>
            Assert.IsType<PNDMScheduler>(scheduler);
            Assert.Equal(new long[] { 1, 4, 8, 8 }, latents.shape);
            Assert.NotNull(x0);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Custom_scheduler_runs_and_registers()
    {
        // <snippet>
        SchedulerRegistry.Default.Register("EulerFlowScheduler", DocsJson.Default.EulerFlowConfig, c => new EulerFlowScheduler(c));
        IScheduler mine = SchedulerRegistry.Default.FromJson("""{"_class_name": "EulerFlowScheduler", "shift": 3.0}""");
        // </snippet>
        var x0 = ones(1, 4, 2, 2);
        mine.SetTimesteps(10);
        var x = randn(1, 4, 2, 2);
        for (int i = 0; i < 10; i++)
        {
            var t = mine.Timesteps[i];
            x = mine.Step((x - x0) / (t.item<float>() / 1000f), t, x).PrevSample;
        }

        Assert.True((x - x0).abs().max().item<float>() < 1e-4);
    }
}

// <snippet>
public sealed record EulerFlowConfig : DiffusersConfig
{
    [JsonPropertyName("num_train_timesteps")] public int NumTrainTimesteps { get; init; } = 1000;
    [JsonPropertyName("shift")] public double Shift { get; init; } = 1.0;

    public override void Validate() => ConfigException.ThrowIfNot(Shift > 0, "shift", $"{Shift} must be > 0.");
}

[JsonSerializable(typeof(EulerFlowConfig))]
internal sealed partial class DocsJson : JsonSerializerContext;

/// <summary>Euler steps for a flow-matching model on a shifted linear σ grid.</summary>
public sealed class EulerFlowScheduler(EulerFlowConfig config) : SchedulerBase(config)
{
    private float[] _sigmas = [];

    public override void SetTimesteps(int numInferenceSteps, Device? device = null)
    {
        CheckStepCount(numInferenceSteps, config.NumTrainTimesteps);
        double s = config.Shift;
        _sigmas = Enumerable.Range(0, numInferenceSteps + 1)
            .Select(i => 1.0 - ((double)i / numInferenceSteps))
            .Select(t => (float)(s * t / (1 + ((s - 1) * t)))).ToArray();
        SetSchedule(_sigmas[..^1].Select(x => (double)x * config.NumTrainTimesteps).ToArray(), numInferenceSteps, ScalarType.Float32, device);
    }

    public override SchedulerOutput Step(Tensor modelOutput, Tensor timestep, Tensor sample, Generator? generator = null, Tensor? varianceNoise = null)
    {
        int i = EnsureStepIndex(timestep);          // locates the step, throws if the timestep is not scheduled
        StepIndex = i + 1;
        return new SchedulerOutput(sample + ((_sigmas[i + 1] - _sigmas[i]) * modelOutput), sample - (_sigmas[i] * modelOutput));
    }

    public override Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps)
    {
        var sigma = (timesteps.to_type(ScalarType.Float32) / config.NumTrainTimesteps).reshape(-1, 1, 1, 1);
        return (sigma * noise) + ((1 - sigma) * originalSamples);
    }

    public override Tensor GetVelocity(Tensor sample, Tensor noise, Tensor timesteps) => noise - sample;

    public override IScheduler Clone() => new EulerFlowScheduler(config);
}
// </snippet>
