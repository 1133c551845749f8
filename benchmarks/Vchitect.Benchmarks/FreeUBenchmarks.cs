using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Vchitect.Models.Denoising;
using Vchitect.Models.UNets;
using Vchitect.Pipelines.Plugins;
using static TorchSharp.torch;

namespace Vchitect.Benchmarks;

/// <summary>
/// FreeU's cost per denoising step: one <see cref="IVideoDenoiser.Predict"/> of a small LaVie UNet (block_out (64, 128),
/// one layer per block, 2/4 heads of 32 channels, cross-attention 64 — the size class of the embedded tiny-world model),
/// random weights (seed 0), on a CFG batch of 2 with 16 frames of 16×16 latents, float32, inference mode:
/// <c>Plain</c> (baseline) is the UNet adapter; <c>WithFreeU</c> wraps it with <see cref="FreeU"/> (the video preset, FFT
/// filters on the decoder skips). Monitoring strategy, 1 warm-up + 5 measured iterations.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class FreeUBenchmarks : IDisposable
{
    private UNet3DConditionModel _model = null!;
    private IVideoDenoiser _plain = null!;
    private IVideoDenoiser _freeU = null!;
    private Tensor _sample = null!;
    private Tensor _timestep = null!;
    private VideoConditioning _conditioning = null!;

    /// <summary>The benchmark's UNet config.</summary>
    public static UNet3DConditionConfig SmallConfig => new()
    {
        BlockOutChannels = [64, 128],
        DownBlockTypes = ["CrossAttnDownBlock3D", "CrossAttnDownBlock3D"],
        UpBlockTypes = ["CrossAttnUpBlock3D", "CrossAttnUpBlock3D"],
        AttentionHeadDim = [2, 4],
        CrossAttentionDim = 64,
        LayersPerBlock = 1,
        NormNumGroups = 32,
        SampleSize = 16,
        InChannels = 4,
        OutChannels = 4,
    };

    /// <summary>Builds the model, both denoisers and the inputs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        manual_seed(0);
        _model = new UNet3DConditionModel(SmallConfig);
        _model.eval();
        _plain = new UNet3DDenoiser(_model);
        _freeU = new FreeU(FreeUOptions.Video).WrapDenoiser(_plain);
        using var g = new Generator(0);
        _sample = randn([2, 4, 16, 16, 16], generator: g);
        _timestep = full([2], 500L, ScalarType.Int64);
        _conditioning = new VideoConditioning(randn([2, 8, 64], generator: g));
    }

    /// <summary>Baseline: the UNet alone.</summary>
    [Benchmark(Baseline = true)]
    public long Plain() => Predict(_plain);

    /// <summary>The UNet under FreeU.</summary>
    [Benchmark]
    public long WithFreeU() => Predict(_freeU);

    /// <summary>Frees the model and the inputs.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _model?.Dispose();
        _sample?.Dispose();
        _timestep?.Dispose();
        _conditioning?.TextEmbeddings.Dispose();
        GC.SuppressFinalize(this);
    }

    private long Predict(IVideoDenoiser denoiser)
    {
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        return denoiser.Predict(_sample, _timestep, _conditioning).numel();
    }
}
