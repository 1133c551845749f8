using Vchitect.Schedulers;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Plugins;

/// <summary>What a <see cref="FreeInitIterationCallback"/> sees after one FreeInit pass.</summary>
/// <param name="Index">The pass just finished, 0 … <paramref name="Count"/> − 1.</param>
/// <param name="Count">Number of passes K.</param>
/// <param name="Steps">Denoising steps the pass ran.</param>
/// <param name="Latents">
/// The pass's clean latents (B, C, F, h, w). Valid only during the call (FreeInit disposes them when the next pass ends);
/// clone them to keep them, e.g. to decode every pass's video.
/// </param>
public sealed record FreeInitIteration(int Index, int Count, int Steps, Tensor Latents);

/// <summary>Called synchronously on the generating thread after each FreeInit pass.</summary>
/// <param name="iteration">The pass and its latents.</param>
public delegate void FreeInitIterationCallback(FreeInitIteration iteration);

/// <summary>
/// FreeInit (Wu et al., ECCV 2024): samples K times; between passes it re-noises the clean result to the last training
/// step with the <b>same</b> initial noise (the scheduler's <c>AddNoise</c> at t = T − 1), keeps that volume's low
/// spatio-temporal frequencies (3-D FFT over frames, height, width, with a low-pass filter) and takes the high ones from
/// fresh Gaussian noise, then samples again. A sampler decorator: <c>pipe.Use(new FreeInit())</c>.
/// </summary>
/// <remarks>
/// <para><b>Randomness.</b> Fresh noise is drawn from the context's <see cref="SamplingContext.Generator"/> (the pipeline's
/// seeded CPU generator, shared with the scheduler's step noise) on the CPU in float32, then moved, so a seed reproduces
/// the same video on every device. With a null generator torch's global generator is used.</para>
/// <para><b>Steps and progress.</b> Pass k runs N steps, or max(1, ⌊N/K·(k+1)⌋) with fast sampling (diffusers). Progress
/// reports count across passes: <c>Step</c> runs 1 … Σ steps and <c>Total</c> is that sum (K·N without fast sampling).
/// The step callback sees each pass's own <c>Index</c>/<c>Total</c>; if it asks to stop, FreeInit returns that pass's
/// latents and runs no further pass. The token is checked before each pass (and by the inner sampler before each step).</para>
/// <para><b>Schedulers.</b> The re-noising is defined for variance-preserving schedulers with unit initial noise (DDPM,
/// DDIM, PNDM, DPM-Solver); σ-parameterised ones (Euler) are rejected with <see cref="NotSupportedException"/>.</para>
/// <para>Maths: TianxingWu/FreeInit <c>freeinit_utils.py</c> (filters, <c>freq_mix_3d</c>) and its AnimateDiff pipeline
/// loop; diffusers <c>FreeInitMixin</c>. The filter is evaluated in double and stored as float32, the mix runs in float32.</para>
/// </remarks>
public sealed class FreeInit : IPipelinePlugin
{
    private readonly FreeInitIterationCallback? _onIteration;

    /// <summary>Creates the plugin.</summary>
    /// <param name="options">Options; null for the defaults (3 passes, Butterworth n = 4, d_s = d_t = 0.25).</param>
    /// <param name="onIteration">Called after each pass with its latents; null for none.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the parameter name is the option's).</exception>
    public FreeInit(FreeInitOptions? options = null, FreeInitIterationCallback? onIteration = null)
    {
        options ??= new FreeInitOptions();
        options.Validate();
        Options = options;
        _onIteration = onIteration;
    }

    /// <summary>The options.</summary>
    public FreeInitOptions Options { get; }

    /// <inheritdoc/>
    public IVideoSampler WrapSampler(IVideoSampler inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        return new FreeInitSampler(inner, this);
    }

    /// <summary>Denoising steps of pass <paramref name="index"/>: N, or max(1, ⌊N/K·(k+1)⌋) with fast sampling.</summary>
    /// <param name="steps">The requested steps N, ≥ 1.</param>
    /// <param name="iterations">The passes K, ≥ 1.</param>
    /// <param name="index">The pass k, 0 … K − 1.</param>
    /// <param name="fastSampling">Whether coarse-to-fine sampling is on.</param>
    /// <returns>The pass's step count.</returns>
    public static int StepsForIteration(int steps, int iterations, int index, bool fastSampling)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, iterations);
        // diffusers: max(1, int(num_inference_steps / num_iters * (iter + 1))), in double as Python does.
        return fastSampling ? Math.Max(1, (int)((double)steps / iterations * (index + 1))) : steps;
    }

    /// <summary>
    /// The low-pass filter over (F, H, W), evaluated in double and returned as float32 on the CPU, as the reference builds it.
    /// With d² = ((d_s/d_t)·(2f/F − 1))² + (2h/H − 1)² + (2w/W − 1)²: see <see cref="FreeInitFilter"/>. All zeros when d_s
    /// or d_t is 0.
    /// </summary>
    /// <param name="filter">The filter type.</param>
    /// <param name="order">Butterworth order n, ≥ 1.</param>
    /// <param name="spatialStop">d_s, 0 … 1.</param>
    /// <param name="temporalStop">d_t, 0 … 1.</param>
    /// <param name="frames">F, ≥ 1.</param>
    /// <param name="height">H, ≥ 1.</param>
    /// <param name="width">W, ≥ 1.</param>
    /// <returns>A new (F, H, W) float32 tensor.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public static Tensor LowPassFilter(FreeInitFilter filter, int order, double spatialStop, double temporalStop, long frames, long height, long width)
    {
        new FreeInitOptions { Filter = filter, Order = order, SpatialStopFrequency = spatialStop, TemporalStopFrequency = temporalStop }.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        double ds = spatialStop, dt = temporalStop;
        var mask = new float[frames * height * width];
        if (ds == 0 || dt == 0)
        {
            return tensor(mask, [frames, height, width]);
        }

        if (filter == FreeInitFilter.Box)
        {
            // box_low_pass_filter: Python round() is round-half-to-even, as Math.Round.
            long ts = (long)Math.Round(height / 2 * ds, MidpointRounding.ToEven);
            long tt = (long)Math.Round(frames / 2 * dt, MidpointRounding.ToEven);
            long cf = frames / 2, ch = height / 2, cw = width / 2;
            for (long f = Math.Max(cf - tt, 0); f < Math.Min(cf + tt, frames); f++)
            {
                for (long h = Math.Max(ch - ts, 0); h < Math.Min(ch + ts, height); h++)
                {
                    for (long w = Math.Max(cw - ts, 0); w < Math.Min(cw + ts, width); w++)
                    {
                        mask[(((f * height) + h) * width) + w] = 1f;
                    }
                }
            }

            return tensor(mask, [frames, height, width]);
        }

        for (long f = 0; f < frames; f++)
        {
            double a = ds / dt * ((2.0 * f / frames) - 1);
            for (long h = 0; h < height; h++)
            {
                double b = (2.0 * h / height) - 1;
                for (long w = 0; w < width; w++)
                {
                    double c = (2.0 * w / width) - 1;
                    double d2 = (a * a) + (b * b) + (c * c);
                    double value = filter switch
                    {
                        FreeInitFilter.Gaussian => Math.Exp(-1 / (2 * ds * ds) * d2),
                        FreeInitFilter.Butterworth => 1 / (1 + Math.Pow(d2 / (ds * ds), order)),
                        _ => d2 <= ds * 2 ? 1 : 0, // Ideal, as written in the reference (2·d_s, not d_s²)
                    };
                    mask[(((f * height) + h) * width) + w] = (float)value;
                }
            }
        }

        return tensor(mask, [frames, height, width]);
    }

    /// <summary>
    /// The reference's <c>freq_mix_3d</c>: FFT over the last three dims (F, H, W) of both inputs, fftshift, keep
    /// <paramref name="lowPass"/> of <paramref name="x"/> and 1 − <paramref name="lowPass"/> of <paramref name="noise"/>,
    /// inverse shift and FFT, real part. Runs in float32 (float64 inputs in float64).
    /// </summary>
    /// <param name="x">The re-noised latents (…, F, H, W).</param>
    /// <param name="noise">Fresh noise, the shape of <paramref name="x"/>.</param>
    /// <param name="lowPass">The filter, broadcastable to <paramref name="x"/> (e.g. (F, H, W)).</param>
    /// <returns>A new float32 (or float64) tensor of <paramref name="x"/>'s shape, on its device.</returns>
    /// <exception cref="ArgumentException">The inputs have fewer than 3 dims or different shapes.</exception>
    public static Tensor FrequencyMix(Tensor x, Tensor noise, Tensor lowPass)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(noise);
        ArgumentNullException.ThrowIfNull(lowPass);
        if (x.ndim < 3 || !x.shape.SequenceEqual(noise.shape))
        {
            throw new ArgumentException(
                $"FreeInit's frequency mix needs latents and noise of the same shape (…, F, H, W); got [{string.Join(", ", x.shape)}] and [{string.Join(", ", noise.shape)}].",
                nameof(noise));
        }

        using var scope = NewDisposeScope();
        var dtype = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        long[] dims = [-3, -2, -1];
        var lpf = lowPass.to(dtype, x.device);
        var xFreq = fft.fftshift(fft.fftn(x.to(dtype), dim: dims), dims);
        var noiseFreq = fft.fftshift(fft.fftn(noise.to(dtype, x.device), dim: dims), dims);
        var mixed = (xFreq * lpf) + (noiseFreq * (1 - lpf));
        return fft.ifftn(fft.ifftshift(mixed, dims), dim: dims).real.MoveToOuterDisposeScope();
    }

    private sealed class FreeInitSampler(IVideoSampler inner, FreeInit plugin) : IVideoSampler
    {
        public Tensor Sample(SamplingContext context)
        {
            ArgumentNullException.ThrowIfNull(context);
            var options = plugin.Options;
            var scheduler = context.Scheduler;
            if (scheduler is not VpSchedulerBase vp || scheduler is SigmaSchedulerBase)
            {
                throw new NotSupportedException(
                    $"FreeInit re-noises with add_noise at the last training step, which needs a variance-preserving scheduler with unit initial noise (DDPM, DDIM, PNDM, DPM-Solver); {scheduler.GetType().Name} is not one.");
            }

            var initial = context.InitialLatents;
            if (initial.ndim != 5)
            {
                throw new ArgumentException($"FreeInit needs latents (B, C, F, h, w); got [{string.Join(", ", initial.shape)}].", nameof(context));
            }

            var token = context.CancellationToken;
            int k = options.Iterations;
            var steps = Enumerable.Range(0, k).Select(i => StepsForIteration(context.Steps, k, i, options.FastSampling)).ToArray();
            int grandTotal = steps.Sum();

            using var inference = inference_mode();
            using var outer = NewDisposeScope();
            var lowPass = LowPassFilter(
                options.Filter, options.Order, options.SpatialStopFrequency, options.TemporalStopFrequency, initial.shape[2], initial.shape[3], initial.shape[4]);
            var lastTimestep = tensor(vp.NumTrainTimesteps - 1L);
            Tensor? latents = null;
            int done = 0;
            for (int i = 0; i < k; i++)
            {
                token.ThrowIfCancellationRequested();
                Tensor start = initial;
                if (latents is not null)
                {
                    using (NewDisposeScope())
                    {
                        // 1. z_T = √ᾱ_{T−1}·z₀ + √(1−ᾱ_{T−1})·ε₀ with the same initial noise; 2. fresh noise; 3. the 3-D mix.
                        var zT = scheduler.AddNoise(latents, initial, lastTimestep);
                        var fresh = randn(initial.shape, dtype: ScalarType.Float32, device: CPU, generator: context.Generator).to(initial.device);
                        start = FrequencyMix(zT, fresh, lowPass).to(initial.dtype).MoveToOuterDisposeScope();
                    }

                    latents.Dispose();
                }

                bool stopped = false;
                var pass = context with
                {
                    InitialLatents = start,
                    Steps = steps[i],
                    Progress = context.Progress is { } progress ? new OffsetProgress(progress, done, grandTotal) : null,
                    StepCallback = context.StepCallback is { } callback
                        ? step =>
                        {
                            var result = callback(step);
                            stopped |= result?.StopRequested == true;
                            return result ?? DenoisingStepResult.Continue;
                        }
                        : null,
                };
                latents = inner.Sample(pass);
                if (!ReferenceEquals(start, initial))
                {
                    start.Dispose();
                }

                done += steps[i];
                plugin._onIteration?.Invoke(new FreeInitIteration(i, k, steps[i], latents));
                if (stopped)
                {
                    break;
                }
            }

            return latents!.MoveToOuterDisposeScope();
        }
    }

    /// <summary>Turns one pass's denoise reports into reports over all passes.</summary>
    private sealed class OffsetProgress(IProgress<GenerationProgress> inner, int offset, int total) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value) =>
            inner.Report(value.Phase == GenerationPhase.Denoise ? value with { Step = offset + value.Step, Total = total } : value);
    }
}
