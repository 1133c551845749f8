using static TorchSharp.torch;

namespace Vchitect.Training;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter, decoupled weight decay) over named parameters, with the same update as PyTorch's
/// <c>torch.optim.AdamW</c> (non-amsgrad): p ← p·(1 − lr·λ); m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²;
/// p ← p − (lr / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε). Implemented here, not taken from TorchSharp, so that its moments
/// and step count can be saved and restored exactly (<see cref="State"/>, <see cref="LoadState"/>).
/// </summary>
/// <remarks>The optimizer owns its moment tensors (detached from any dispose scope); dispose it when training ends.</remarks>
public sealed class AdamWOptimizer : IDisposable
{
    private readonly List<(string Name, TorchSharp.Modules.Parameter Parameter, Tensor ExpAvg, Tensor ExpAvgSq)> _slots = [];

    /// <summary>Creates the optimizer with zero moments.</summary>
    /// <param name="parameters">The trained parameters by unique name.</param>
    /// <param name="beta1">First-moment decay β₁, in [0, 1); default 0.9.</param>
    /// <param name="beta2">Second-moment decay β₂, in [0, 1); default 0.999.</param>
    /// <param name="epsilon">ε added to the denominator, &gt; 0; default 1e-8.</param>
    /// <param name="weightDecay">Decoupled weight decay λ, ≥ 0; default 0.01.</param>
    /// <exception cref="ArgumentException">A name repeats.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range.</exception>
    public AdamWOptimizer(IEnumerable<KeyValuePair<string, TorchSharp.Modules.Parameter>> parameters, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.01)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(beta1 is >= 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
        }

        if (!(beta2 is >= 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
        }

        if (!(epsilon > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be greater than 0.");
        }

        if (!(weightDecay >= 0) || double.IsInfinity(weightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weightDecay must be finite and at least 0.");
        }

        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, p) in parameters)
        {
            if (!seen.Add(name))
            {
                throw new ArgumentException($"Parameter name \"{name}\" appears twice.", nameof(parameters));
            }

            var m = zeros_like(p).DetachFromDisposeScope();
            var v = zeros_like(p).DetachFromDisposeScope();
            _slots.Add((name, p, m, v));
        }
    }

    /// <summary>β₁.</summary>
    public double Beta1 { get; }

    /// <summary>β₂.</summary>
    public double Beta2 { get; }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <summary>Decoupled weight decay λ.</summary>
    public double WeightDecay { get; }

    /// <summary>Updates done so far (t in the bias corrections).</summary>
    public long StepCount { get; private set; }

    /// <summary>The parameters, in order.</summary>
    public IEnumerable<TorchSharp.Modules.Parameter> Parameters => _slots.Select(s => s.Parameter);

    /// <summary>Sets every parameter's gradient to zero (allocated gradients are kept, so memory stays flat).</summary>
    public void ZeroGrad()
    {
        using var scope = NewDisposeScope();
        foreach (var g in Gradients())
        {
            g?.zero_();
        }
    }

    /// <summary>
    /// The parameters' gradients in order (null where none has been computed yet): new handles registered with the
    /// caller's dispose scope. Do not keep them across a backward pass (autograd replaces a gradient that has other
    /// references instead of accumulating into it).
    /// </summary>
    public IReadOnlyList<Tensor?> Gradients() => _slots.Select(s => s.Parameter.grad).ToList();

    /// <summary>One AdamW update at <paramref name="learningRate"/>; parameters without a gradient are left as they are.</summary>
    /// <param name="learningRate">The learning rate, ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">The learning rate is negative or not finite.</exception>
    public void Step(double learningRate)
    {
        if (!(learningRate >= 0) || double.IsInfinity(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learningRate must be finite and at least 0.");
        }

        StepCount++;
        double bc1 = 1 - Math.Pow(Beta1, StepCount);
        double bc2 = 1 - Math.Pow(Beta2, StepCount);
        using var scope = NewDisposeScope();
        var grads = Gradients();
        using var noGrad = no_grad();
        for (int i = 0; i < _slots.Count; i++)
        {
            var (_, p, m, v) = _slots[i];
            var g = grads[i];
            if (g is null)
            {
                continue;
            }

            p.mul_(1 - (learningRate * WeightDecay));
            m.mul_(Beta1).add_(g, alpha: 1 - Beta1);
            v.mul_(Beta2).addcmul_(g, g, value: 1 - Beta2);
            var denom = v.sqrt().div_(Math.Sqrt(bc2)).add_(Epsilon);
            p.addcdiv_(m, denom, value: -learningRate / bc1);
        }
    }

    /// <summary>The moments by key: <c>exp_avg.&lt;name&gt;</c> and <c>exp_avg_sq.&lt;name&gt;</c> (views owned by the optimizer).</summary>
    public IReadOnlyDictionary<string, Tensor> State()
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, _, m, v) in _slots)
        {
            state["exp_avg." + name] = m;
            state["exp_avg_sq." + name] = v;
        }

        return state;
    }

    /// <summary>Restores moments and step count saved from an optimizer over the same parameters.</summary>
    /// <param name="read">Returns the tensor stored under a key of <see cref="State"/>, or null when missing.</param>
    /// <param name="stepCount">The saved <see cref="StepCount"/>.</param>
    /// <exception cref="InvalidDataException">A moment is missing or has the wrong shape.</exception>
    public void LoadState(Func<string, Tensor?> read, long stepCount)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        using var noGrad = no_grad();
        foreach (var (name, _, m, v) in _slots)
        {
            CopyInto(m, read("exp_avg." + name), "exp_avg." + name);
            CopyInto(v, read("exp_avg_sq." + name), "exp_avg_sq." + name);
        }

        StepCount = stepCount;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var (_, _, m, v) in _slots)
        {
            m.Dispose();
            v.Dispose();
        }

        _slots.Clear();
    }

    internal static void CopyInto(Tensor target, Tensor? source, string key)
    {
        if (source is null)
        {
            throw new InvalidDataException($"Checkpoint has no tensor \"{key}\".");
        }

        using (source)
        {
            if (!source.shape.SequenceEqual(target.shape))
            {
                throw new InvalidDataException(
                    $"Checkpoint tensor \"{key}\" has shape [{string.Join(", ", source.shape)}]; expected [{string.Join(", ", target.shape)}].");
            }

            target.copy_(source);
        }
    }
}
