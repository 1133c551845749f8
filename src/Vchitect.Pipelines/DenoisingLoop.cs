using System.Diagnostics;
using Vchitect.Models.Denoising;
using static TorchSharp.torch;

namespace Vchitect.Pipelines;

/// <summary>
/// The plain denoising loop (diffusers' text-to-video loop): for each scheduler timestep, classifier-free guidance as one
/// batch [unconditional, conditional], <c>ScaleModelInput</c>, the denoiser, guidance, <c>Step</c>. Each step runs in its
/// own dispose scope, all of it under <c>torch.inference_mode()</c>.
/// </summary>
/// <remarks>
/// Order per step: the token is checked, the step runs, the callback sees the new latents (and may replace them or stop),
/// then one <see cref="GenerationPhase.Denoise"/> progress report is sent. A stop request ends the loop with the current
/// latents; cancellation throws <see cref="OperationCanceledException"/> before the next step.
/// </remarks>
public sealed class DenoisingLoop : IVideoSampler
{
    /// <summary>A shared instance (the loop has no state).</summary>
    public static DenoisingLoop Instance { get; } = new();

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The latents are not 5-D, or the conditionings' batches do not match them, or guidance is on without an unconditional conditioning.</exception>
    public Tensor Sample(SamplingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Validate(context);
        var token = context.CancellationToken;
        var clock = context.Clock ?? Stopwatch.StartNew();
        var scheduler = context.Scheduler;
        var initial = context.InitialLatents;

        using var inference = inference_mode();
        using var outer = NewDisposeScope();
        scheduler.SetTimesteps(context.Steps, initial.device);
        var timesteps = scheduler.Timesteps;
        int total = (int)timesteps.shape[0];
        bool cfg = context.DoClassifierFreeGuidance;
        var conditioning = cfg
            ? VideoConditioning.Concat(context.UnconditionalConditioning!, context.Conditioning)
            : context.Conditioning;
        double scale = context.GuidanceScale;

        Tensor latents = initial;
        for (int i = 0; i < total; i++)
        {
            token.ThrowIfCancellationRequested();
            bool stop;
            Tensor next;
            double tValue;
            using (NewDisposeScope())
            {
                var t = timesteps[i];
                tValue = t.to(ScalarType.Float64).item<double>();
                var modelInput = cfg ? cat([latents, latents], 0) : latents;
                modelInput = scheduler.ScaleModelInput(modelInput, t);
                var prediction = context.Denoiser.Predict(modelInput, t, conditioning);
                if (cfg)
                {
                    var halves = prediction.chunk(2, 0);
                    prediction = halves[0] + scale * (halves[1] - halves[0]);
                }

                next = scheduler.Step(prediction, t, latents, context.Generator).PrevSample;
                stop = false;
                if (context.StepCallback is { } callback)
                {
                    var result = callback(new DenoisingStepInfo(i, total, tValue, next)) ?? DenoisingStepResult.Continue;
                    if (result.ReplacementLatents is { } replacement)
                    {
                        if (!replacement.shape.SequenceEqual(next.shape))
                        {
                            throw new InvalidOperationException(
                                $"The step callback's replacement latents have shape [{string.Join(", ", replacement.shape)}]; expected [{string.Join(", ", next.shape)}].");
                        }

                        next = replacement.detach().clone().to(next.dtype, next.device);
                    }

                    stop = result.StopRequested;
                }

                next.MoveToOuterDisposeScope();
            }

            if (!ReferenceEquals(latents, initial))
            {
                latents.Dispose();
            }

            latents = next;
            context.Progress?.Report(new GenerationProgress(GenerationPhase.Denoise, i + 1, total, clock.Elapsed));
            if (stop)
            {
                break;
            }
        }

        return ReferenceEquals(latents, initial) ? initial.clone().MoveToOuterDisposeScope() : latents.MoveToOuterDisposeScope();
    }

    private static void Validate(SamplingContext c)
    {
        var x = c.InitialLatents;
        if (x.ndim != 5)
        {
            throw new ArgumentException($"InitialLatents must be (B, C, F, h, w); got [{string.Join(", ", x.shape)}].", nameof(c));
        }

        if (c.Conditioning.BatchSize != x.shape[0])
        {
            throw new ArgumentException($"Conditioning has batch {c.Conditioning.BatchSize}; the latents have {x.shape[0]}.", nameof(c));
        }

        if (c.DoClassifierFreeGuidance)
        {
            if (c.UnconditionalConditioning is null)
            {
                throw new ArgumentException($"GuidanceScale {c.GuidanceScale} > 1 needs an UnconditionalConditioning.", nameof(c));
            }

            if (c.UnconditionalConditioning.BatchSize != x.shape[0])
            {
                throw new ArgumentException($"UnconditionalConditioning has batch {c.UnconditionalConditioning.BatchSize}; the latents have {x.shape[0]}.", nameof(c));
            }
        }
    }
}
