using static TorchSharp.torch;

namespace Vchitect.Pipelines;

/// <summary>What a <see cref="DenoisingStepCallback"/> sees after one denoising step.</summary>
/// <param name="Index">Index of the step just taken, 0 … <paramref name="Total"/> − 1.</param>
/// <param name="Total">Number of steps.</param>
/// <param name="Timestep">The timestep of the step just taken (e.g. 980 for the first of 50 DDPM steps).</param>
/// <param name="Latents">
/// The latents after the step, (B, C, F, h, w). Valid only during the call: the loop disposes them when the next step
/// begins. Clone them to keep them.
/// </param>
public sealed record DenoisingStepInfo(int Index, int Total, double Timestep, Tensor Latents);

/// <summary>A callback's answer: go on, go on with replaced latents, or stop early.</summary>
public sealed record DenoisingStepResult
{
    /// <summary>Go on with the loop's latents.</summary>
    public static DenoisingStepResult Continue { get; } = new();

    /// <summary>Stop after this step; the pipeline decodes the current latents (diffusers' <c>interrupt</c>).</summary>
    public static DenoisingStepResult Stop { get; } = new() { StopRequested = true };

    /// <summary>
    /// Latents to use instead of the loop's, the same shape; null to keep them. The loop copies them, so the caller keeps
    /// ownership of the tensor it passes.
    /// </summary>
    public Tensor? ReplacementLatents { get; init; }

    /// <summary>Whether to end the loop after this step.</summary>
    public bool StopRequested { get; init; }

    /// <summary>Go on with <paramref name="latents"/> instead of the loop's.</summary>
    /// <param name="latents">The new latents; copied by the loop.</param>
    /// <returns>A result carrying the replacement.</returns>
    public static DenoisingStepResult Replace(Tensor latents) => new() { ReplacementLatents = latents };
}

/// <summary>
/// Called synchronously on the generating thread after each denoising step (diffusers' <c>callback_on_step_end</c>):
/// may read the latents, replace them, or ask to stop.
/// </summary>
/// <param name="step">The step just taken and its latents.</param>
/// <returns>What to do next; <see cref="DenoisingStepResult.Continue"/> to go on.</returns>
public delegate DenoisingStepResult DenoisingStepCallback(DenoisingStepInfo step);
