using BenchmarkDotNet.Attributes;
using Vchitect.Schedulers;
using static TorchSharp.torch;

namespace Vchitect.Benchmarks;

/// <summary>
/// One scheduler step on a LaVie-sized latent (2, 4, 16, 40, 64) against one UNet-sized op: a 320-channel 3×3
/// convolution over the same 32 frames (LaVie's first down block runs several of these per step). The ratio column
/// shows what a step costs relative to the model. CPU, float32.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class SchedulerStepBenchmarks
{
    private static readonly long[] LatentShape = [2, 4, 16, 40, 64];
    private readonly Dictionary<string, IScheduler> _schedulers = [];
    private readonly Dictionary<string, Tensor> _timesteps = [];
    private Tensor _sample = null!;
    private Tensor _modelOutput = null!;
    private Tensor _noise = null!;
    private Tensor _features = null!;
    private Tensor _convWeight = null!;

    /// <summary>The schedulers compared.</summary>
    [ParamsSource(nameof(Names))]
    public string Scheduler { get; set; } = "DDIM";

    /// <summary>Scheduler names for <see cref="Scheduler"/>.</summary>
    public static IEnumerable<string> Names => ["DDPM", "DDIM", "PNDM", "Euler", "EulerAncestral", "DPMSolver++2M", "FlowMatch", "ADM"];

    [GlobalSetup]
    public void Setup()
    {
        using var g = new Generator(0);
        _sample = randn(LatentShape, generator: g);
        _modelOutput = randn(LatentShape, generator: g);
        _noise = randn(LatentShape, generator: g);
        _features = randn([32, 320, 40, 64], generator: g);   // (b·f, c, h, w) at the UNet's first width
        _convWeight = randn([320, 320, 3, 3], generator: g) * 0.02;
        _schedulers["DDPM"] = new DDPMScheduler();
        _schedulers["DDIM"] = new DDIMScheduler { Eta = 0 };
        _schedulers["PNDM"] = new PNDMScheduler(new PNDMSchedulerConfig { SkipPrkSteps = true });
        _schedulers["Euler"] = new EulerDiscreteScheduler();
        _schedulers["EulerAncestral"] = new EulerAncestralDiscreteScheduler();
        _schedulers["DPMSolver++2M"] = new DPMSolverMultistepScheduler();
        _schedulers["FlowMatch"] = new FlowMatchEulerDiscreteScheduler();
        _schedulers["ADM"] = new GuidedDiffusionScheduler();
        foreach (var (name, s) in _schedulers)
        {
            s.SetTimesteps(50);
            _timesteps[name] = s.Timesteps[10];
        }
    }

    /// <summary>Baseline: one 320→320 3×3 convolution over 32 frames of 40×64.</summary>
    [Benchmark(Baseline = true)]
    public long UNetConv3x3()
    {
        using var scope = NewDisposeScope();
        return nn.functional.conv2d(_features, _convWeight, padding: [1, 1]).numel();
    }

    /// <summary>One Step of the selected scheduler (step index reset so every iteration is the same step).</summary>
    [Benchmark]
    public long Step()
    {
        using var scope = NewDisposeScope();
        var s = _schedulers[Scheduler];
        if (s is SchedulerBase b && Scheduler != "PNDM")
        {
            b.ResetStepIndex();
        }
        else if (Scheduler == "PNDM")
        {
            s.SetTimesteps(50);
        }

        var t = Scheduler == "PNDM" ? s.Timesteps[0] : _timesteps[Scheduler];
        return s.Step(_modelOutput, t, _sample, varianceNoise: _noise).PrevSample.numel();
    }
}
