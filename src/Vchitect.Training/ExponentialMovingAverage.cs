using static TorchSharp.torch;

namespace Vchitect.Training;

/// <summary>
/// An exponential moving average of parameters (diffusers' <c>EMAModel</c> without power warm-up): after each optimizer
/// step, shadow ← d·shadow + (1 − d)·param with d = min(<see cref="Decay"/>, (1 + n) / (10 + n)), n the number of updates
/// made before this one, so early averages are not dominated by the random initialisation.
/// </summary>
/// <remarks>The shadow tensors are owned by this object (detached from any dispose scope); dispose it when done.</remarks>
public sealed class ExponentialMovingAverage : IDisposable
{
    private readonly List<(string Name, TorchSharp.Modules.Parameter Parameter, Tensor Shadow)> _slots = [];

    /// <summary>Starts the average at the parameters' current values.</summary>
    /// <param name="parameters">The averaged parameters by unique name.</param>
    /// <param name="decay">The largest decay, in [0, 1]; e.g. 0.999.</param>
    /// <exception cref="ArgumentOutOfRangeException">The decay is outside [0, 1].</exception>
    public ExponentialMovingAverage(IEnumerable<KeyValuePair<string, TorchSharp.Modules.Parameter>> parameters, double decay)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(decay is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(decay), decay, "decay must be in [0, 1].");
        }

        Decay = decay;
        using var noGrad = no_grad();
        foreach (var (name, p) in parameters)
        {
            _slots.Add((name, p, p.detach().clone().DetachFromDisposeScope()));
        }
    }

    /// <summary>The largest decay.</summary>
    public double Decay { get; }

    /// <summary>Updates made so far.</summary>
    public long UpdateCount { get; private set; }

    /// <summary>The decay the next <see cref="Update()"/> uses: min(<see cref="Decay"/>, (1 + n) / (10 + n)).</summary>
    public double CurrentDecay => Math.Min(Decay, (1.0 + UpdateCount) / (10.0 + UpdateCount));

    /// <summary>The averaged values by parameter name (owned by this object; do not dispose).</summary>
    public IReadOnlyDictionary<string, Tensor> Shadow => _slots.ToDictionary(s => s.Name, s => s.Shadow, StringComparer.Ordinal);

    /// <summary>One update with <see cref="CurrentDecay"/>.</summary>
    public void Update() => Update(CurrentDecay);

    /// <summary>One update with an explicit decay: shadow ← d·shadow + (1 − d)·param.</summary>
    /// <param name="decay">d, in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException">The decay is outside [0, 1].</exception>
    public void Update(double decay)
    {
        if (!(decay is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(decay), decay, "decay must be in [0, 1].");
        }

        using var noGrad = no_grad();
        foreach (var (_, p, shadow) in _slots)
        {
            shadow.mul_(decay).add_(p, alpha: 1 - decay);
        }

        UpdateCount++;
    }

    /// <summary>Restores shadows and the update count saved from an average over the same parameters.</summary>
    /// <param name="read">Returns the tensor saved for a parameter name, or null when missing.</param>
    /// <param name="updateCount">The saved <see cref="UpdateCount"/>.</param>
    /// <exception cref="InvalidDataException">A shadow is missing or has the wrong shape.</exception>
    public void LoadState(Func<string, Tensor?> read, long updateCount)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentOutOfRangeException.ThrowIfNegative(updateCount);
        using var noGrad = no_grad();
        foreach (var (name, _, shadow) in _slots)
        {
            AdamWOptimizer.CopyInto(shadow, read(name), "ema." + name);
        }

        UpdateCount = updateCount;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var slot in _slots)
        {
            slot.Shadow.Dispose();
        }

        _slots.Clear();
    }
}
