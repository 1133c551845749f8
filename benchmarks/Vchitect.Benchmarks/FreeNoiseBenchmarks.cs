using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Vchitect.Models.Blocks;
using Vchitect.Models.UNets;
using static TorchSharp.torch;

namespace Vchitect.Benchmarks;

/// <summary>
/// FreeNoise's cost per denoising step: one forward of the tiny UNet (<see cref="UNet3DForwardBenchmarks.TinyConfig"/>,
/// random weights, seed 0) on a CFG batch of 2 with 64 frames of 8×8 latents, float32, inference mode:
/// <list type="bullet">
/// <item><c>Direct</c> (baseline): temporal attention over all 64 frames.</item>
/// <item><c>FreeNoise</c>: <see cref="UNet3DConditionModel.TemporalWindowing"/> with window 16, stride 4, pyramid
/// weights (13 windows).</item>
/// <item><c>Chunks16</c>: four independent 16-frame forwards (the "independent clips" alternative).</item>
/// </list>
/// The tiny model's temporal attention is a larger share of its cost than in the real one, so the ratio here bounds the
/// real overhead from above. Monitoring strategy, 1 warm-up + 5 measured iterations.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class FreeNoiseBenchmarks : IDisposable
{
    private const int Frames = 64;
    private UNet3DConditionModel _model = null!;
    private Tensor _sample = null!;
    private Tensor _timestep = null!;
    private Tensor _text = null!;

    /// <summary>Builds the model and the inputs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        manual_seed(0);
        _model = new UNet3DConditionModel(UNet3DForwardBenchmarks.TinyConfig);
        _model.eval();
        using var g = new Generator(0);
        _sample = randn([2, 4, Frames, 8, 8], generator: g);
        _timestep = full([2], 500L, ScalarType.Int64);
        _text = randn([2, 7, 32], generator: g);
    }

    /// <summary>Baseline: temporal attention over all frames.</summary>
    [Benchmark(Baseline = true)]
    public long Direct()
    {
        _model.TemporalWindowing = null;
        return Forward(_sample);
    }

    /// <summary>FreeNoise's windowed temporal attention (16/4, pyramid).</summary>
    [Benchmark]
    public long FreeNoise()
    {
        _model.TemporalWindowing = new TemporalWindowing { WindowSize = 16, Stride = 4 };
        try
        {
            return Forward(_sample);
        }
        finally
        {
            _model.TemporalWindowing = null;
        }
    }

    /// <summary>Four independent 16-frame forwards.</summary>
    [Benchmark]
    public long Chunks16()
    {
        _model.TemporalWindowing = null;
        long n = 0;
        for (int start = 0; start < Frames; start += 16)
        {
            using var chunk = _sample.narrow(2, start, 16);
            n += Forward(chunk);
        }

        return n;
    }

    /// <summary>Frees the model and the inputs.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _model?.Dispose();
        _sample?.Dispose();
        _timestep?.Dispose();
        _text?.Dispose();
        GC.SuppressFinalize(this);
    }

    private long Forward(Tensor sample)
    {
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        return _model.forward(new UNet3DConditionInput(sample, _timestep, _text)).Sample.numel();
    }
}
