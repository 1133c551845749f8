using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Vchitect.Models.UNets;
using static TorchSharp.torch;

namespace Vchitect.Benchmarks;

/// <summary>
/// One UNet3DConditionModel forward (one denoising step) under inference mode, CPU, random weights (seed 0):
/// <list type="bullet">
/// <item><c>Tiny</c> (baseline): the test config of <c>lavie_unet_tiny.safetensors</c> (block_out (32, 64), cross_attention_dim 32,
/// one layer per block) on the fixture's input shapes: sample (2, 4, 5, 8, 8), encoder states (2, 7, 32).</item>
/// <item><c>LaVieBase</c>: <see cref="UNet3DConditionPresets.LaVieBase"/> (909M parameters) on a CFG batch of 2, 16 frames
/// of 40×64 latents (320×512 video), encoder states (2, 77, 768).</item>
/// </list>
/// In float32 and bfloat16 (weights and inputs). Each case runs in its own process; the model is built once in
/// [GlobalSetup]. Monitoring strategy (no pilot, one invocation per iteration), 1 warm-up + 3 measured iterations: a
/// real-size forward takes minutes on 2 CPU cores, so override with <c>--warmupCount 0 --iterationCount 1</c> for it.
/// Memory columns: see <see cref="PeakMemory"/>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PeakMemory.Config))]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class UNet3DForwardBenchmarks : IDisposable
{
    private UNet3DConditionModel _model = null!;
    private UNet3DConditionInput _input = null!;

    /// <summary>Weight and input dtype.</summary>
    [Params("fp32", "bf16")]
    public string DType { get; set; } = "fp32";

    /// <summary>The tiny test UNet (config of <c>tests/fixtures/lavie_unet_tiny.safetensors</c>).</summary>
    public static UNet3DConditionConfig TinyConfig => new()
    {
        BlockOutChannels = [32, 64],
        DownBlockTypes = ["CrossAttnDownBlock3D", "DownBlock3D"],
        UpBlockTypes = ["UpBlock3D", "CrossAttnUpBlock3D"],
        AttentionHeadDim = [1, 1],
        CrossAttentionDim = 32,
        LayersPerBlock = 1,
        NormNumGroups = 32,
        SampleSize = 8,
        InChannels = 4,
        OutChannels = 4,
    };

    private ScalarType Type => DType switch
    {
        "fp32" => ScalarType.Float32,
        "bf16" => ScalarType.BFloat16,
        _ => throw new InvalidOperationException($"Unknown dtype {DType}."),
    };

    [GlobalSetup(Target = nameof(Tiny))]
    public void SetupTiny() => Setup(TinyConfig, [2, 4, 5, 8, 8], [2, 7, 32], nameof(Tiny));

    [GlobalSetup(Target = nameof(LaVieBase))]
    public void SetupLaVieBase() => Setup(UNet3DConditionPresets.LaVieBase, [2, 4, 16, 40, 64], [2, 77, 768], nameof(LaVieBase));

    [GlobalCleanup(Target = nameof(Tiny))]
    public void CleanupTiny() => Cleanup(nameof(Tiny));

    [GlobalCleanup(Target = nameof(LaVieBase))]
    public void CleanupLaVieBase() => Cleanup(nameof(LaVieBase));

    /// <summary>Baseline: one forward of the tiny UNet.</summary>
    [Benchmark(Baseline = true)]
    public long Tiny() => Forward();

    /// <summary>One forward of the real-size LaVie base UNet (batch 2, 16 frames, 40×64).</summary>
    [Benchmark]
    public long LaVieBase() => Forward();

    private long Forward()
    {
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        return _model.forward(_input).Sample.numel();
    }

    private void Setup(UNet3DConditionConfig config, long[] sampleShape, long[] statesShape, string method)
    {
        manual_seed(0);
        _model = new UNet3DConditionModel(config, Type);
        _model.eval();
        using var g = new Generator(0);
        _input = new UNet3DConditionInput(
            randn(sampleShape, generator: g).to(Type),
            full([sampleShape[0]], 500L, ScalarType.Int64),
            randn(statesShape, generator: g).to(Type));
        PeakMemory.AfterSetup(PeakMemory.Key(nameof(UNet3DForwardBenchmarks), method, DType), PeakMemory.BytesOf(_model));
    }

    private void Cleanup(string method)
    {
        PeakMemory.AfterRun(PeakMemory.Key(nameof(UNet3DForwardBenchmarks), method, DType));
        Dispose();
    }

    /// <summary>Frees the model and the inputs.</summary>
    public void Dispose()
    {
        _model?.Dispose();
        _input?.Sample.Dispose();
        _input?.Timestep.Dispose();
        _input?.EncoderHiddenStates.Dispose();
        GC.SuppressFinalize(this);
    }
}
