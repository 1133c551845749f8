namespace Vchitect.Training;

/// <summary>
/// One training step's report (immutable, no tensors, so an <see cref="IProgress{T}"/> handler may run it later).
/// </summary>
/// <param name="Phase">What is trained: <c>"vae"</c> or <c>"lavie"</c>.</param>
/// <param name="Step">Steps completed, 1-based (the global step, counting steps before a resume).</param>
/// <param name="TotalSteps">The step the run ends at.</param>
/// <param name="Loss">This step's total loss.</param>
/// <param name="LearningRate">The learning rate this step used (after warm-up).</param>
/// <param name="GradientNorm">The global gradient norm before clipping.</param>
/// <param name="Elapsed">Wall time since this run (not the whole training) began.</param>
public sealed record TrainingProgress(string Phase, long Step, long TotalSteps, double Loss, double LearningRate, double GradientNorm, TimeSpan Elapsed);
