using static TorchSharp.torch;

namespace Vchitect.Training;

/// <summary>Global-norm gradient clipping, as PyTorch's <c>torch.nn.utils.clip_grad_norm_</c> (L2 norm).</summary>
public static class GradientClipping
{
    /// <summary>
    /// Computes the L2 norm of all gradients taken together and, when it exceeds <paramref name="maxNorm"/>, scales every
    /// gradient in place by <paramref name="maxNorm"/> / (norm + 1e-6).
    /// </summary>
    /// <param name="parameters">The parameters; those without a gradient are skipped.</param>
    /// <param name="maxNorm">The largest allowed global norm, &gt; 0.</param>
    /// <returns>The global norm before clipping (0 when no parameter has a gradient).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive.</exception>
    public static double ClipGradNorm(IEnumerable<TorchSharp.Modules.Parameter> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be greater than 0.");
        }

        using var scope = NewDisposeScope();
        return ClipGradients(parameters.Select(p => p.grad).ToList(), maxNorm);
    }

    /// <summary>
    /// Clips gradient tensors as <see cref="ClipGradNorm"/> does: scales them in place by <paramref name="maxNorm"/> /
    /// (norm + 1e-6) when their global L2 norm exceeds <paramref name="maxNorm"/>.
    /// </summary>
    /// <param name="gradients">The gradients (nulls are skipped); not disposed.</param>
    /// <param name="maxNorm">The largest allowed global norm, &gt; 0.</param>
    /// <returns>The global norm before clipping (0 when there is no gradient).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not positive.</exception>
    public static double ClipGradients(IEnumerable<Tensor?> gradients, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        if (!(maxNorm > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be greater than 0.");
        }

        var grads = gradients.Where(g => g is not null).Select(g => g!).ToList();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        if (grads.Count == 0)
        {
            return 0;
        }

        var squares = grads.Select(g => g.to_type(ScalarType.Float64).square().sum()).ToArray();
        double total = Math.Sqrt(stack(squares).sum().item<double>());
        double coef = maxNorm / (total + 1e-6);
        if (coef < 1)
        {
            foreach (var g in grads)
            {
                g.mul_(coef);
            }
        }

        return total;
    }

    /// <summary>The global L2 norm of the gradients (no clipping).</summary>
    /// <param name="parameters">The parameters; those without a gradient are skipped.</param>
    /// <returns>√(Σ‖g‖²), computed in float64.</returns>
    public static double GlobalNorm(IEnumerable<TorchSharp.Modules.Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        using var scope = NewDisposeScope();
        double sum = 0;
        foreach (var p in parameters)
        {
            var g = p.grad;
            if (g is not null)
            {
                sum += g.to_type(ScalarType.Float64).square().sum().item<double>();
            }
        }

        return Math.Sqrt(sum);
    }
}
