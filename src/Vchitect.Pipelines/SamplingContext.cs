using System.Diagnostics;
using Vchitect.Models.Denoising;
using Vchitect.Schedulers;
using static TorchSharp.torch;

namespace Vchitect.Pipelines;

/// <summary>
/// Everything an <see cref="IVideoSampler"/> needs for one generation. The context does not own its tensors or
/// modules; a decorator may build a modified copy with <c>with</c>.
/// </summary>
public sealed record SamplingContext
{
    /// <summary>The model that predicts noise.</summary>
    public required IVideoDenoiser Denoiser { get; init; }

    /// <summary>A fresh scheduler for this generation (schedulers are stateful); the sampler calls <c>SetTimesteps</c>.</summary>
    public required IScheduler Scheduler { get; init; }

    /// <summary>Number of denoising steps, 1 … the scheduler's training steps.</summary>
    public required int Steps { get; init; }

    /// <summary>Initial latents (B, C, F, h, w), already multiplied by the scheduler's <c>InitNoiseSigma</c>.</summary>
    public required Tensor InitialLatents { get; init; }

    /// <summary>The conditioning for the prompts (batch B).</summary>
    public required VideoConditioning Conditioning { get; init; }

    /// <summary>The unconditional (negative prompt) conditioning (batch B); needed when guidance is on.</summary>
    public VideoConditioning? UnconditionalConditioning { get; init; }

    /// <summary>
    /// Classifier-free guidance scale w: ε = ε_u + w (ε_c − ε_u). Guidance is on when w &gt; 1 (as in diffusers); otherwise
    /// the denoiser runs once on the conditional batch alone.
    /// </summary>
    public double GuidanceScale { get; init; } = 7.5;

    /// <summary>Source of the scheduler's step noise; null for the global generator.</summary>
    public Generator? Generator { get; init; }

    /// <summary>Called after each step; may replace the latents or stop.</summary>
    public DenoisingStepCallback? StepCallback { get; init; }

    /// <summary>Receives one <see cref="GenerationPhase.Denoise"/> report per step.</summary>
    public IProgress<GenerationProgress>? Progress { get; init; }

    /// <summary>Checked before each step.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Clock of the whole generation, for <see cref="GenerationProgress.Elapsed"/>; null starts one.</summary>
    public Stopwatch? Clock { get; init; }

    /// <summary>Whether classifier-free guidance is on (<see cref="GuidanceScale"/> &gt; 1).</summary>
    public bool DoClassifierFreeGuidance => GuidanceScale > 1.0;
}
