using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Vchitect.Models.Autoencoders;
using static TorchSharp.torch;

namespace Vchitect.Benchmarks;

/// <summary>
/// SD v1.4 VAE (<see cref="AutoencoderKLPresets.StableDiffusionV14"/>, random weights, seed 0) decoding 16 frames of
/// 40×64 latents, (1, 4, 16, 40, 64), to 320×512 video with <see cref="AutoencoderKL.DecodeVideo"/>, float32, CPU,
/// inference mode: all 16 frames in one decoder call (baseline) against 4 and 1 frame per call. Chunking does not change
/// the result; its point is the Run Δ / Peak RSS columns (see <see cref="PeakMemory"/>): peak activation memory is one
/// chunk's. Each case runs in its own process; Monitoring strategy, 1 warm-up + 2 measured iterations (override with
/// <c>--warmupCount 0 --iterationCount 1</c> on a slow machine).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PeakMemory.Config))]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 2)]
public class VaeDecodeBenchmarks : IDisposable
{
    private static readonly long[] LatentShape = [1, 4, 16, 40, 64];
    private AutoencoderKL _vae = null!;
    private Tensor _latents = null!;

    [GlobalSetup(Target = nameof(Whole))]
    public void SetupWhole() => Setup(nameof(Whole));

    [GlobalSetup(Target = nameof(Chunk4))]
    public void SetupChunk4() => Setup(nameof(Chunk4));

    [GlobalSetup(Target = nameof(Chunk1))]
    public void SetupChunk1() => Setup(nameof(Chunk1));

    [GlobalCleanup(Target = nameof(Whole))]
    public void CleanupWhole() => Cleanup(nameof(Whole));

    [GlobalCleanup(Target = nameof(Chunk4))]
    public void CleanupChunk4() => Cleanup(nameof(Chunk4));

    [GlobalCleanup(Target = nameof(Chunk1))]
    public void CleanupChunk1() => Cleanup(nameof(Chunk1));

    /// <summary>Baseline: the 16 frames in one decoder call.</summary>
    [Benchmark(Baseline = true)]
    public long Whole() => Decode(0);

    /// <summary>4 frames per decoder call.</summary>
    [Benchmark]
    public long Chunk4() => Decode(4);

    /// <summary>1 frame per decoder call.</summary>
    [Benchmark]
    public long Chunk1() => Decode(1);

    private long Decode(int framesPerChunk)
    {
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        return _vae.DecodeVideo(_latents, framesPerChunk).numel();
    }

    private void Setup(string method)
    {
        manual_seed(0);
        _vae = new AutoencoderKL(AutoencoderKLPresets.StableDiffusionV14);
        using var g = new Generator(0);
        _latents = randn(LatentShape, generator: g);
        PeakMemory.AfterSetup(PeakMemory.Key(nameof(VaeDecodeBenchmarks), method, null), PeakMemory.BytesOf(_vae));
    }

    private void Cleanup(string method)
    {
        PeakMemory.AfterRun(PeakMemory.Key(nameof(VaeDecodeBenchmarks), method, null));
        Dispose();
    }

    /// <summary>Frees the VAE and the latents.</summary>
    public void Dispose()
    {
        _vae?.Dispose();
        _latents?.Dispose();
        GC.SuppressFinalize(this);
    }
}
