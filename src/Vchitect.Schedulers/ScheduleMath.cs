using Vchitect.Core.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Schedulers;

/// <summary>Names accepted by the configs' string options.</summary>
public static class SchedulerOptions
{
    /// <summary><c>beta_schedule</c> values of the diffusers VP schedulers.</summary>
    public static readonly IReadOnlyList<string> BetaSchedules = ["linear", "scaled_linear", "squaredcos_cap_v2"];

    /// <summary><c>timestep_spacing</c> values.</summary>
    public static readonly IReadOnlyList<string> TimestepSpacings = ["leading", "trailing", "linspace"];

    /// <summary><c>prediction_type</c> values of the VP schedulers.</summary>
    public static readonly IReadOnlyList<string> PredictionTypes = ["epsilon", "v_prediction", "sample"];
}

/// <summary>Shared schedule math, restating diffusers' helpers (<c>betas_for_alpha_bar</c>, <c>rescale_zero_terminal_snr</c>, …).</summary>
internal static class ScheduleMath
{
    /// <summary>
    /// β table in float32 as diffusers builds it: <c>torch.linspace</c> in float32 (scaled_linear: linspace of √β then squared),
    /// squaredcos_cap_v2 from the cosine ᾱ(t) in double then cast, or explicit trained betas; then optionally the
    /// zero-terminal-SNR rescale.
    /// </summary>
    public static Tensor Betas(int numTrainTimesteps, double betaStart, double betaEnd, string betaSchedule, IReadOnlyList<float>? trainedBetas, bool rescaleZeroSnr)
    {
        using var scope = NewDisposeScope();
        Tensor betas;
        if (trainedBetas is not null)
        {
            betas = tensor(trainedBetas.ToArray(), ScalarType.Float32);
        }
        else
        {
            betas = betaSchedule switch
            {
                "linear" => linspace(betaStart, betaEnd, numTrainTimesteps, ScalarType.Float32),
                "scaled_linear" => linspace(Math.Sqrt(betaStart), Math.Sqrt(betaEnd), numTrainTimesteps, ScalarType.Float32).pow(2),
                "squaredcos_cap_v2" => tensor(CosineBetas(numTrainTimesteps, 0.999), ScalarType.Float32),
                "sigmoid" => linspace(-6, 6, numTrainTimesteps, ScalarType.Float32).sigmoid().mul(betaEnd - betaStart).add(betaStart),
                _ => throw new ConfigException(null, "beta_schedule", $"'{betaSchedule}' is not a known beta schedule; allowed: {string.Join(", ", SchedulerOptions.BetaSchedules)}."),
            };
        }

        if (rescaleZeroSnr)
        {
            betas = RescaleZeroTerminalSnr(betas);
        }

        return betas.detach().DetachFromDisposeScope();
    }

    /// <summary>diffusers' <c>betas_for_alpha_bar</c> with the cosine transform (Nichol &amp; Dhariwal), in double.</summary>
    public static double[] CosineBetas(int n, double maxBeta)
    {
        static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        var betas = new double[n];
        for (int i = 0; i < n; i++)
        {
            double t1 = (double)i / n;
            double t2 = (double)(i + 1) / n;
            betas[i] = Math.Min(1 - (AlphaBar(t2) / AlphaBar(t1)), maxBeta);
        }

        return betas;
    }

    /// <summary>Rescales betas to zero terminal SNR (Lin et al. 2023, Algorithm 1), in the betas' dtype.</summary>
    public static Tensor RescaleZeroTerminalSnr(Tensor betas)
    {
        using var scope = NewDisposeScope();
        var alphasBarSqrt = (1.0 - betas).cumprod(0).sqrt();
        var first = alphasBarSqrt[0].clone();
        var last = alphasBarSqrt[-1].clone();
        alphasBarSqrt = alphasBarSqrt - last;
        alphasBarSqrt = alphasBarSqrt * (first / (first - last));
        var alphasBar = alphasBarSqrt.pow(2);
        var alphas = cat([alphasBar[..1], alphasBar[1..] / alphasBar[..^1]]);
        return (1.0 - alphas).MoveToOuterDisposeScope();
    }

    /// <summary>numpy's <c>linspace(start, stop, num)</c> in float64: start + i·step, last element exactly stop.</summary>
    public static double[] NumpyLinspace(double start, double stop, int num)
    {
        var y = new double[num];
        if (num == 0)
        {
            return y;
        }

        double step = num > 1 ? (stop - start) / (num - 1) : 0;
        for (int i = 0; i < num; i++)
        {
            y[i] = start + (i * step);
        }

        if (num > 1)
        {
            y[^1] = stop;
        }

        return y;
    }

    /// <summary>
    /// Discrete timesteps for a diffusers <c>timestep_spacing</c> (descending):
    /// leading: arange(N)·(T//N) reversed + offset; trailing: round(arange(T, 0, −T/N)) − 1; linspace: round(linspace(0, T−1, N)) reversed.
    /// numpy rounds half to even. Unlike numpy's float <c>arange</c>, trailing always yields exactly N values
    /// (numpy's length ceil(T/(T/N)) is N+1 for some N, e.g. T=1000, N=61, which appends the invalid timestep −1).
    /// </summary>
    public static double[] SpacedTimesteps(string spacing, int numTrainTimesteps, int n, int stepsOffset)
    {
        var t = new double[n];
        switch (spacing)
        {
            case "linspace":
                double[] lin = NumpyLinspace(0, numTrainTimesteps - 1, n);
                for (int i = 0; i < n; i++)
                {
                    t[i] = Math.Round(lin[n - 1 - i], MidpointRounding.ToEven);
                }

                break;
            case "leading":
                int ratio = numTrainTimesteps / n;
                for (int i = 0; i < n; i++)
                {
                    t[i] = ((double)(n - 1 - i) * ratio) + stepsOffset;
                }

                break;
            case "trailing":
                double r = (double)numTrainTimesteps / n;
                for (int i = 0; i < n; i++)
                {
                    t[i] = Math.Round(numTrainTimesteps + (i * -r), MidpointRounding.ToEven) - 1;
                }

                break;
            default:
                throw new ConfigException(null, "timestep_spacing", $"'{spacing}' is not supported; allowed: {string.Join(", ", SchedulerOptions.TimestepSpacings)}.");
        }

        return t;
    }

    /// <summary>numpy's <c>interp(x, arange(len(fp)), fp)</c> in float64 (fp given as float32 values).</summary>
    public static double[] InterpOnIndex(double[] x, float[] fp)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double xi = x[i];
            if (xi <= 0)
            {
                y[i] = fp[0];
            }
            else if (xi >= fp.Length - 1)
            {
                y[i] = fp[^1];
            }
            else
            {
                int j = (int)Math.Floor(xi);
                double slope = ((double)fp[j + 1] - fp[j]) / 1.0;
                y[i] = (slope * (xi - j)) + fp[j];
            }
        }

        return y;
    }

    /// <summary>diffusers' <c>_sigma_to_t</c>: the fractional timestep whose log σ interpolates to log <paramref name="sigma"/>.</summary>
    public static double SigmaToT(double sigma, double[] logSigmas)
    {
        double logSigma = Math.Log(Math.Max(sigma, 1e-10));
        int count = 0;
        for (int i = 0; i < logSigmas.Length; i++)
        {
            if (logSigma - logSigmas[i] >= 0)
            {
                count = i;
            }
        }

        // cumsum(dists >= 0).argmax() = index of the last i with dists >= 0 (0 when none).
        int low = Math.Min(count, logSigmas.Length - 2);
        int high = low + 1;
        double w = (logSigmas[low] - logSigma) / (logSigmas[low] - logSigmas[high]);
        w = Math.Clamp(w, 0, 1);
        return ((1 - w) * low) + (w * high);
    }

    /// <summary>Karras et al. (2022) σ spacing with ρ = 7, in float64.</summary>
    public static double[] KarrasSigmas(double sigmaMin, double sigmaMax, int n)
    {
        const double rho = 7.0;
        double[] ramp = NumpyLinspace(0, 1, n);
        double minInv = Math.Pow(sigmaMin, 1 / rho);
        double maxInv = Math.Pow(sigmaMax, 1 / rho);
        return ramp.Select(r => Math.Pow(maxInv + (r * (minInv - maxInv)), rho)).ToArray();
    }

    /// <summary>Exponential (log-linear) σ spacing, in float64.</summary>
    public static double[] ExponentialSigmas(double sigmaMin, double sigmaMax, int n) =>
        NumpyLinspace(Math.Log(sigmaMax), Math.Log(sigmaMin), n).Select(v => Math.Exp(v)).ToArray();

    /// <summary>Converts a model output to x̂₀ under a VP parameterisation with per-row √ᾱ and √(1−ᾱ) (broadcastable).</summary>
    public static Tensor PredictOriginal(string predictionType, Tensor modelOutput, Tensor sample, Scalar sqrtAlpha, Scalar sqrtOneMinusAlpha) => predictionType switch
    {
        "epsilon" => (sample - (modelOutput * sqrtOneMinusAlpha)) / sqrtAlpha,
        "sample" => modelOutput.alias(),
        "v_prediction" => (sample * sqrtAlpha) - (modelOutput * sqrtOneMinusAlpha),
        _ => throw new NotSupportedException($"prediction_type '{predictionType}' is not supported here; allowed: {string.Join(", ", SchedulerOptions.PredictionTypes)}."),
    };

    /// <summary>
    /// Dynamic thresholding (Imagen): per batch row s = clamp(quantile(|x̂₀|, ratio), 1, maxValue), x̂₀ = clamp(x̂₀, −s, s)/s.
    /// Half precision is upcast to float32 for the quantile, as diffusers does.
    /// </summary>
    public static Tensor Threshold(Tensor sample, double ratio, double maxValue)
    {
        using var scope = NewDisposeScope();
        var dtype = sample.dtype;
        var x = dtype is ScalarType.Float32 or ScalarType.Float64 ? sample : sample.to_type(ScalarType.Float32);
        long batch = x.shape[0];
        var flat = x.reshape(batch, -1);
        var q = tensor(ratio, x.dtype, x.device);
        var s = quantile(flat.abs(), q, dim: 1).clamp(1, maxValue).unsqueeze(1);
        var result = (flat.clamp(-s, s) / s).reshape(sample.shape).to_type(dtype);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Gathers table[idx] for per-row indices and shapes it [B, 1, 1, …] to broadcast against a tensor of rank <paramref name="rank"/>.</summary>
    public static Tensor Broadcastable(Tensor values, long rank)
    {
        var v = values.flatten();
        while (v.dim() < rank)
        {
            v = v.unsqueeze(-1);
        }

        return v;
    }

    /// <summary>Checks a step's inputs and throws naming the problem.</summary>
    public static void CheckStepInputs(Tensor modelOutput, Tensor sample, bool allowDoubleChannels = false, string scheduler = "scheduler")
    {
        ArgumentNullException.ThrowIfNull(modelOutput);
        ArgumentNullException.ThrowIfNull(sample);
        bool same = modelOutput.shape.SequenceEqual(sample.shape);
        bool doubled = allowDoubleChannels && modelOutput.dim() == sample.dim() && sample.dim() >= 2
            && modelOutput.shape[1] == 2 * sample.shape[1]
            && modelOutput.shape.Where((d, i) => i != 1).SequenceEqual(sample.shape.Where((d, i) => i != 1));
        if (!same && !doubled)
        {
            throw new ArgumentException(
                $"{scheduler}: model output has shape [{string.Join(", ", modelOutput.shape)}] but the sample has shape [{string.Join(", ", sample.shape)}]" +
                (allowDoubleChannels ? " (a learned-variance output may have twice the channels)." : "."),
                nameof(modelOutput));
        }

        if (modelOutput.is_floating_point() && modelOutput.isnan().any().item<bool>())
        {
            throw new ArgumentException($"{scheduler}: model output contains NaN.", nameof(modelOutput));
        }

        if (sample.is_floating_point() && sample.isnan().any().item<bool>())
        {
            throw new ArgumentException($"{scheduler}: sample contains NaN.", nameof(sample));
        }
    }

    /// <summary>Draws unit Gaussian noise of a shape, on the generator's device (CPU unless the generator says otherwise), then moves it to <paramref name="device"/> (diffusers' <c>randn_tensor</c>).</summary>
    public static Tensor Randn(long[] shape, ScalarType dtype, Device device, Generator? generator)
    {
        if (generator is null)
        {
            return randn(shape, dtype, device);
        }

        using var cpu = randn(shape, dtype, CPU, generator: generator);
        return cpu.to(device);
    }

    /// <summary>The value of a 0-d (or one-element) timestep tensor as double.</summary>
    public static double Scalar(Tensor timestep)
    {
        ArgumentNullException.ThrowIfNull(timestep);
        if (timestep.numel() != 1)
        {
            throw new ArgumentException($"timestep must be a single value (0-d tensor), got shape [{string.Join(", ", timestep.shape)}].", nameof(timestep));
        }

        return timestep.ToDouble();
    }
}
