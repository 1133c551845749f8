using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>
/// A diffusion noise scheduler: the timestep schedule of one generation and the update rule that turns a model's
/// prediction at timestep t into the sample at the next (less noisy) timestep. The contract is diffusers'
/// <c>SchedulerMixin</c>: <see cref="SetTimesteps"/>, then for each t in <see cref="Timesteps"/>:
/// <c>input = ScaleModelInput(x, t)</c>, <c>output = model(input, t)</c>, <c>x = Step(output, t, x).PrevSample</c>.
/// </summary>
/// <remarks>
/// <para>Schedulers are <b>stateful</b> (a step index, and multistep solvers keep previous model outputs), so use one
/// instance per generation: <see cref="Clone"/> or <see cref="SchedulerRegistry.Create"/>
/// give a fresh one with the same config. Instances are not thread-safe.</para>
/// <para>Tables (betas, ᾱ) are computed in the reference's dtype (float32 for diffusers classes). Tensors returned by
/// the scheduler are owned by the caller's dispose scope; the scheduler's own tables are detached from any scope.</para>
/// <para>Pipelines accept any <see cref="IScheduler"/>; a researcher's scheduler is one class implementing it
/// (see <c>docs/schedulers.md</c>).</para>
/// </remarks>
public interface IScheduler
{
    /// <summary>The scheduler's configuration (a diffusers <c>scheduler_config.json</c> record).</summary>
    DiffusersConfig Config { get; }

    /// <summary>
    /// How many model evaluations the method needs per step (diffusers' <c>order</c>): 1 for DDPM, DDIM, Euler,
    /// DPM-Solver multistep, PNDM and flow matching.
    /// </summary>
    int Order { get; }

    /// <summary>Standard deviation of the initial noise: multiply unit Gaussian noise by this before the first step (1 for VP schedulers, σ_max for Euler).</summary>
    float InitNoiseSigma { get; }

    /// <summary>Number of inference steps set by <see cref="SetTimesteps"/>; 0 before it is called.</summary>
    int NumInferenceSteps { get; }

    /// <summary>
    /// The timesteps to feed the model, in sampling order (1-D; int64 for discrete schedulers, float32 for Euler and
    /// flow matching). Valid after <see cref="SetTimesteps"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="SetTimesteps"/> was not called.</exception>
    Tensor Timesteps { get; }

    /// <summary>The noise levels σ per step with a final entry (float32, length N+1), for methods that have them; null otherwise.</summary>
    Tensor? Sigmas { get; }

    /// <summary>
    /// The index into <see cref="Timesteps"/> of the next <see cref="Step"/>; null before the first step (the first
    /// step then locates it from its timestep).
    /// </summary>
    int? StepIndex { get; }

    /// <summary>Sets the schedule for <paramref name="numInferenceSteps"/> steps and resets the step state.</summary>
    /// <param name="numInferenceSteps">Number of denoising steps, 1 … <c>num_train_timesteps</c>.</param>
    /// <param name="device">Device of <see cref="Timesteps"/>; null for CPU.</param>
    /// <exception cref="ArgumentOutOfRangeException">The step count is below 1 or above the training steps.</exception>
    void SetTimesteps(int numInferenceSteps, Device? device = null);

    /// <summary>Scales the sample before it is given to the model at <paramref name="timestep"/> (identity for most VP schedulers; x/√(σ²+1) for Euler).</summary>
    /// <param name="sample">The current sample.</param>
    /// <param name="timestep">The current timestep, one of <see cref="Timesteps"/>.</param>
    /// <returns>A new tensor (or an alias of <paramref name="sample"/>).</returns>
    Tensor ScaleModelInput(Tensor sample, Tensor timestep);

    /// <summary>One reverse-diffusion step: from the model output at <paramref name="timestep"/> to the previous (less noisy) sample.</summary>
    /// <param name="modelOutput">The model's prediction (ε, v, x₀ or flow, per the config's <c>prediction_type</c>), the shape of <paramref name="sample"/>
    /// (twice its channels for learned-variance models).</param>
    /// <param name="timestep">The current timestep, a 0-d tensor taken from <see cref="Timesteps"/>.</param>
    /// <param name="sample">The current sample x_t.</param>
    /// <param name="generator">Source of the step's noise for stochastic methods; null uses the global generator.</param>
    /// <param name="varianceNoise">Explicit unit Gaussian noise of the sample's shape, used instead of drawing; null to draw.</param>
    /// <returns>The previous sample and, where the method computes one, the predicted clean sample.</returns>
    /// <exception cref="InvalidOperationException"><see cref="SetTimesteps"/> was not called, or the schedule is exhausted.</exception>
    /// <exception cref="ArgumentException">The model output's shape does not match, it contains NaN, or the timestep is not in the schedule.</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Justification = "Step is the name of the diffusers contract this interface restates.")]
    SchedulerOutput Step(Tensor modelOutput, Tensor timestep, Tensor sample, Generator? generator = null, Tensor? varianceNoise = null);

    /// <summary>Forward diffusion: noises clean samples to the given timesteps (img2img, FreeInit re-noising, training).</summary>
    /// <param name="originalSamples">Clean samples x₀, batch first.</param>
    /// <param name="noise">Unit Gaussian noise of the same shape.</param>
    /// <param name="timesteps">One timestep per batch row (1-D) or a single one (0-d).</param>
    Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps);

    /// <summary>The v-prediction target √ᾱ·ε − √(1−ᾱ)·x₀ at the given timesteps (for training v-prediction models).</summary>
    /// <param name="sample">Clean samples x₀.</param>
    /// <param name="noise">The noise ε.</param>
    /// <param name="timesteps">One timestep per batch row (1-D) or a single one (0-d).</param>
    Tensor GetVelocity(Tensor sample, Tensor noise, Tensor timesteps);

    /// <summary>A fresh scheduler of the same class and config, with no timesteps set.</summary>
    IScheduler Clone();
}

/// <summary>The result of <see cref="IScheduler.Step"/>.</summary>
/// <param name="PrevSample">The sample at the previous timestep, x_{t−1}; the input of the next step.</param>
/// <param name="PredOriginalSample">The predicted clean sample x̂₀ at this step, where the method computes it; otherwise null.</param>
public sealed record SchedulerOutput(Tensor PrevSample, Tensor? PredOriginalSample);
