using Vchitect.Core.Configuration;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>
/// Common plumbing of the built-in schedulers: the timestep list (device tensor plus a host copy for look-ups), the
/// step index, argument checks and the scheduler's long-lived tables, which are detached from any dispose scope.
/// </summary>
/// <remarks>Derive from it to write a scheduler in a few lines (see <c>samples/CustomScheduler</c>); implementing
/// <see cref="IScheduler"/> directly works too.</remarks>
public abstract class SchedulerBase : IScheduler
{
    private Tensor? _timesteps;
    private double[] _hostTimesteps = [];

    /// <summary>Creates the base for a config.</summary>
    /// <param name="config">The scheduler's config; validated by the caller.</param>
    /// <exception cref="ArgumentNullException"><paramref name="config"/> is null.</exception>
    protected SchedulerBase(DiffusersConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
    }

    /// <inheritdoc/>
    public DiffusersConfig Config { get; }

    /// <inheritdoc/>
    public virtual int Order => 1;

    /// <inheritdoc/>
    public virtual float InitNoiseSigma => 1f;

    /// <inheritdoc/>
    public int NumInferenceSteps { get; private set; }

    /// <inheritdoc/>
    public Tensor Timesteps => _timesteps ?? throw new InvalidOperationException($"{GetType().Name}: call SetTimesteps before reading Timesteps or stepping.");

    /// <inheritdoc/>
    public virtual Tensor? Sigmas => null;

    /// <inheritdoc/>
    public int? StepIndex { get; protected set; }

    /// <summary>The timesteps as host doubles, in sampling order (empty before <see cref="SetTimesteps"/>).</summary>
    protected IReadOnlyList<double> HostTimesteps => _hostTimesteps;

    /// <summary>Forgets the step position: the next <see cref="Step"/> (or <see cref="ScaleModelInput"/>) locates its index from its timestep.
    /// Lets a caller run single steps out of order, as diffusers' <c>_step_index = None</c> does.</summary>
    public void ResetStepIndex() => StepIndex = null;

    /// <inheritdoc/>
    public abstract void SetTimesteps(int numInferenceSteps, Device? device = null);

    /// <inheritdoc/>
    public virtual Tensor ScaleModelInput(Tensor sample, Tensor timestep)
    {
        ArgumentNullException.ThrowIfNull(sample);
        return sample.alias();
    }

    /// <inheritdoc/>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Justification = "Step is the name of the diffusers contract.")]
    public abstract SchedulerOutput Step(Tensor modelOutput, Tensor timestep, Tensor sample, Generator? generator = null, Tensor? varianceNoise = null);

    /// <inheritdoc/>
    public abstract Tensor AddNoise(Tensor originalSamples, Tensor noise, Tensor timesteps);

    /// <inheritdoc/>
    public abstract Tensor GetVelocity(Tensor sample, Tensor noise, Tensor timesteps);

    /// <inheritdoc/>
    public abstract IScheduler Clone();

    /// <summary>Throws unless 1 ≤ <paramref name="numInferenceSteps"/> ≤ <paramref name="numTrainTimesteps"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The count is out of range.</exception>
    protected void CheckStepCount(int numInferenceSteps, int numTrainTimesteps)
    {
        if (numInferenceSteps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), numInferenceSteps, $"{GetType().Name}: the number of inference steps must be at least 1.");
        }

        if (numInferenceSteps > numTrainTimesteps)
        {
            throw new ArgumentOutOfRangeException(
                nameof(numInferenceSteps), numInferenceSteps,
                $"{GetType().Name}: {numInferenceSteps} inference steps exceed num_train_timesteps = {numTrainTimesteps}; the model was trained on at most that many timesteps.");
        }
    }

    /// <summary>Stores the schedule (host values in sampling order) as a tensor of <paramref name="dtype"/> on <paramref name="device"/>, and resets the step index.</summary>
    /// <param name="hostTimesteps">The timesteps, in sampling order.</param>
    /// <param name="numInferenceSteps">The step count to report in <see cref="NumInferenceSteps"/>.</param>
    /// <param name="dtype">int64 for discrete schedules, float32 for continuous ones.</param>
    /// <param name="device">Target device; null for CPU.</param>
    protected void SetSchedule(double[] hostTimesteps, int numInferenceSteps, ScalarType dtype, Device? device)
    {
        ArgumentNullException.ThrowIfNull(hostTimesteps);
        Tensor t = dtype == ScalarType.Int64
            ? tensor(hostTimesteps.Select(v => (long)v).ToArray(), ScalarType.Int64)
            : tensor(hostTimesteps.Select(v => (float)v).ToArray(), ScalarType.Float32);
        if (device is not null && device.type != TorchSharp.DeviceType.CPU)
        {
            var moved = t.to(device);
            t.Dispose();
            t = moved;
        }

        _timesteps?.Dispose();
        _timesteps = t.DetachFromDisposeScope();
        _hostTimesteps = dtype == ScalarType.Int64
            ? hostTimesteps.Select(v => (double)(long)v).ToArray()
            : hostTimesteps.Select(v => (double)(float)v).ToArray();
        NumInferenceSteps = numInferenceSteps;
        StepIndex = null;
    }

    /// <summary>
    /// The index of <paramref name="timestep"/> in the schedule (diffusers' <c>index_for_timestep</c>: the second match when
    /// the value occurs twice, so that image-to-image starting mid-schedule does not skip a step).
    /// </summary>
    /// <exception cref="InvalidOperationException">No schedule is set.</exception>
    /// <exception cref="ArgumentException">The timestep is not in the schedule.</exception>
    protected int IndexForTimestep(double timestep)
    {
        if (_timesteps is null)
        {
            throw new InvalidOperationException($"{GetType().Name}: call SetTimesteps before stepping.");
        }

        int first = -1;
        for (int i = 0; i < _hostTimesteps.Length; i++)
        {
            if (_hostTimesteps[i] == timestep)
            {
                if (first >= 0)
                {
                    return i;
                }

                first = i;
            }
        }

        return first >= 0
            ? first
            : throw new ArgumentException(
                $"{GetType().Name}: timestep {timestep} is not in the current schedule ({_hostTimesteps.Length} steps: {DescribeSchedule()}). Pass a value taken from Timesteps.",
                nameof(timestep));
    }

    /// <summary>Sets <see cref="StepIndex"/> from the timestep when it is null; returns the index of this step.</summary>
    /// <exception cref="InvalidOperationException">The schedule is exhausted.</exception>
    protected int EnsureStepIndex(Tensor timestep)
    {
        StepIndex ??= IndexForTimestep(ScheduleMath.Scalar(timestep));
        if (StepIndex >= _hostTimesteps.Length)
        {
            throw new InvalidOperationException($"{GetType().Name}: all {_hostTimesteps.Length} steps have been taken; call SetTimesteps for a new generation.");
        }

        return StepIndex.Value;
    }

    /// <summary>A short description of the schedule for messages.</summary>
    protected string DescribeSchedule() => _hostTimesteps.Length <= 6
        ? string.Join(", ", _hostTimesteps)
        : $"{_hostTimesteps[0]}, {_hostTimesteps[1]}, {_hostTimesteps[2]}, …, {_hostTimesteps[^1]}";
}
