using FsCheck.Xunit;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Schedulers.Tests;

/// <summary>
/// The contract every scheduler honours (diffusers' tests/schedulers/test_schedulers.py in spirit). Each scheduler's
/// test class inherits it and supplies a factory and the "true model" of its parameterisation.
/// </summary>
public abstract class SchedulerContractTests
{
    private static readonly long[] Shape = [2, 4, 3, 4, 4];

    /// <summary>A scheduler with the given timestep spacing ("" = the class default).</summary>
    protected abstract IScheduler Create(string spacing = "");

    /// <summary>Spacings the class supports.</summary>
    protected virtual IReadOnlyList<string> Spacings => ["leading", "trailing", "linspace"];

    /// <summary>PNDM visits one timestep twice.</summary>
    protected virtual bool StrictlyDecreasing => true;

    /// <summary>Number of entries of Timesteps for N steps.</summary>
    protected virtual int ExpectedCount(int n) => n;

    /// <summary>Step counts checked for count and ordering.</summary>
    protected virtual IReadOnlyList<int> StepCounts => [1, 2, 7, 25, 50, 61, 250, 999];

    /// <summary>Tolerance of the recovered x₀.</summary>
    protected virtual double RecoveryTolerance => 1e-3;

    /// <summary>
    /// What a perfect model would output at step <paramref name="index"/> for the current sample <paramref name="x"/>,
    /// given the clean sample x₀ the noise was added to (ε, v or the flow, per the scheduler's parameterisation).
    /// </summary>
    protected abstract Tensor TrueModelOutput(IScheduler s, int index, Tensor x, Tensor x0);

    /// <summary>ε such that x = √ᾱ·x₀ + √(1−ᾱ)·ε.</summary>
    protected static Tensor VpEpsilon(Tensor x, Tensor x0, double alphaCumprod) =>
        (x - (x0 * Math.Sqrt(alphaCumprod))) / Math.Sqrt(1 - alphaCumprod);

    [Fact]
    public void Timesteps_are_decreasing_for_every_spacing()
    {
        foreach (string spacing in Spacings)
        {
            foreach (int n in StepCounts)
            {
                var s = Create(spacing);
                s.SetTimesteps(n);
                double[] t = s.Timesteps.to_type(ScalarType.Float64).data<double>().ToArray();
                for (int i = 0; i + 1 < t.Length; i++)
                {
                    bool ok = StrictlyDecreasing ? t[i] > t[i + 1] : t[i] >= t[i + 1];
                    Assert.True(ok, $"{s.GetType().Name} spacing '{spacing}', {n} steps: timesteps[{i}] = {t[i]}, timesteps[{i + 1}] = {t[i + 1]}");
                }
            }
        }
    }

    [Fact]
    public void Step_count_is_honoured_for_every_spacing()
    {
        foreach (string spacing in Spacings)
        {
            foreach (int n in StepCounts.Append(1000))
            {
                var s = Create(spacing);
                s.SetTimesteps(n);
                Assert.Equal(n, s.NumInferenceSteps);
                Assert.True(ExpectedCount(n) == s.Timesteps.shape[0], $"{s.GetType().Name} spacing '{spacing}': {s.Timesteps.shape[0]} timesteps for {n} steps, expected {ExpectedCount(n)}");
                if (s.Sigmas is not null)
                {
                    Assert.Equal(s.Timesteps.shape[0] + 1, s.Sigmas.shape[0]);
                }
            }
        }
    }

    [Fact]
    public void Zero_steps_throws() =>
        Assert.Contains("at least 1", Assert.Throws<ArgumentOutOfRangeException>(() => Create().SetTimesteps(0)).Message, StringComparison.Ordinal);

    [Fact]
    public void More_steps_than_training_steps_throws() =>
        Assert.Contains("exceed num_train_timesteps", Assert.Throws<ArgumentOutOfRangeException>(() => Create().SetTimesteps(1001)).Message, StringComparison.Ordinal);

    [Fact]
    public void Step_before_SetTimesteps_throws()
    {
        using var scope = NewDisposeScope();
        var s = Create();
        var x = randn(Shape);
        Assert.ThrowsAny<InvalidOperationException>(() => s.Step(x, tensor(999L), x));
    }

    [Fact]
    public void NaN_model_output_throws()
    {
        using var scope = NewDisposeScope();
        var s = Create();
        s.SetTimesteps(10);
        var x = randn(Shape);
        var bad = x.clone();
        bad[0, 0, 0, 0, 0] = tensor(float.NaN);
        var e = Assert.Throws<ArgumentException>(() => s.Step(bad, s.Timesteps[0], x));
        Assert.Contains("NaN", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shape_mismatched_model_output_throws()
    {
        using var scope = NewDisposeScope();
        var s = Create();
        s.SetTimesteps(10);
        var x = randn(Shape);
        var e = Assert.Throws<ArgumentException>(() => s.Step(randn(new long[] { 2, 4, 3, 4, 5 }), s.Timesteps[0], x));
        Assert.Contains("shape", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Timestep_not_in_schedule_throws()
    {
        using var scope = NewDisposeScope();
        var s = Create();
        s.SetTimesteps(10);
        var x = randn(Shape);
        var e = Assert.Throws<ArgumentException>(() => s.Step(x, tensor(0.5f), x));
        Assert.Contains("timestep", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Clone_reproduces_a_loop_exactly()
    {
        using var scope = NewDisposeScope();
        var x0 = rand(Shape, generator: new Generator(1)) * 2 - 1;
        var a = RunLoop(Create(), x0, 3, 12);
        var b = RunLoop(Create().Clone(), x0, 3, 12);
        Assert.True(a.equal(b).all().item<bool>(), "two runs with the same seed differ");
    }

    /// <summary>Property: from pure noise, the loop driven by the true model output recovers x₀.</summary>
    [Property(MaxTest = 4)]
    public bool Full_loop_with_true_model_output_recovers_x0(int seed)
    {
        using var scope = NewDisposeScope();
        var x0 = (rand(Shape, generator: new Generator((ulong)(uint)seed + 11)) * 2) - 1;
        var result = RunLoop(Create(), x0, seed, 50);
        double err = (result - x0).abs().max().item<float>();
        Assert.True(err <= RecoveryTolerance, $"{Create().GetType().Name}: max |x̂ − x₀| = {err:G3} after 50 steps (seed {seed})");
        return true;
    }

    private Tensor RunLoop(IScheduler s, Tensor x0, int seed, int steps)
    {
        s.SetTimesteps(steps);
        var g = new Generator((ulong)(uint)seed);
        var x = randn(x0.shape, generator: g) * s.InitNoiseSigma;
        long n = s.Timesteps.shape[0];
        for (int i = 0; i < n; i++)
        {
            using var stepScope = NewDisposeScope();
            var t = s.Timesteps[i];
            _ = s.ScaleModelInput(x, t);
            var output = TrueModelOutput(s, i, x, x0);
            x = s.Step(output, t, x, g).PrevSample.MoveToOuterDisposeScope();
        }

        return x;
    }
}

public sealed class DDPMContractTests : SchedulerContractTests
{
    protected override IScheduler Create(string spacing = "") =>
        new DDPMScheduler(new DDPMSchedulerConfig { TimestepSpacing = spacing.Length == 0 ? "leading" : spacing });

    protected override Tensor TrueModelOutput(IScheduler s, int index, Tensor x, Tensor x0) =>
        VpEpsilon(x, x0, ((VpSchedulerBase)s).AlphasCumprod[s.Timesteps[index]].item<float>());

    [Fact]
    public void Learned_range_uses_the_extra_channels()
    {
        using var scope = NewDisposeScope();
        var s = new DDPMScheduler(new DDPMSchedulerConfig { VarianceType = "learned_range" });
        s.SetTimesteps(10);
        var x = randn(new long[] { 2, 4, 3, 4, 4 });
        var output = cat([randn(new long[] { 2, 4, 3, 4, 4 }), zeros(new long[] { 2, 4, 3, 4, 4 })], 1);
        var r = s.Step(output, s.Timesteps[0], x, varianceNoise: zeros(new long[] { 2, 4, 3, 4, 4 }));
        Assert.Equal(x.shape, r.PrevSample.shape);
        Assert.Throws<ArgumentException>(() => s.Step(randn(new long[] { 2, 3, 3, 4, 4 }), s.Timesteps[0], x));
    }
}

public sealed class DDIMContractTests : SchedulerContractTests
{
    protected override IScheduler Create(string spacing = "") =>
        new DDIMScheduler(new DDIMSchedulerConfig { TimestepSpacing = spacing.Length == 0 ? "leading" : spacing });

    protected override Tensor TrueModelOutput(IScheduler s, int index, Tensor x, Tensor x0) =>
        VpEpsilon(x, x0, ((VpSchedulerBase)s).AlphasCumprod[s.Timesteps[index]].item<float>());
}

public sealed class DDIMVPredictionContractTests : SchedulerContractTests
{
    protected override IScheduler Create(string spacing = "") => new DDIMScheduler(new DDIMSchedulerConfig
    {
        TimestepSpacing = spacing.Length == 0 ? "trailing" : spacing,
        PredictionType = "v_prediction",
        BetaSchedule = "scaled_linear",
        BetaStart = 0.00085,
        BetaEnd = 0.012,
        RescaleBetasZeroSnr = true,
        ClipSample = false,
    });

    protected override IReadOnlyList<string> Spacings => ["trailing"];

    protected override Tensor TrueModelOutput(IScheduler s, int index, Tensor x, Tensor x0)
    {
        var vp = (VpSchedulerBase)s;
        var t = s.Timesteps[index];
        double a = vp.AlphasCumprod[t].item<float>();
        if (a <= 0)
        {
            // Zero terminal SNR: x is pure noise and v = −x₀.
            return -x0;
        }

        var eps = VpEpsilon(x, x0, a);
        return vp.GetVelocity(x0, eps, t.unsqueeze(0));
    }
}

public sealed class PNDMContractTests : SchedulerContractTests
{
    protected override IScheduler Create(string spacing = "") => new PNDMScheduler(new PNDMSchedulerConfig
    {
        TimestepSpacing = spacing.Length == 0 ? "leading" : spacing,
        SkipPrkSteps = true,
        SetAlphaToOne = true,
    });

    protected override bool StrictlyDecreasing => false;

    protected override int ExpectedCount(int n) => n == 1 ? 1 : n + 1;

    protected override Tensor TrueModelOutput(IScheduler s, int index, Tensor x, Tensor x0) =>
        VpEpsilon(x, x0, ((VpSchedulerBase)s).AlphasCumprod[s.Timesteps[index]].item<float>());

    [Fact]
    public void Runge_Kutta_warm_up_also_recovers_x0()
    {
        using var scope = NewDisposeScope();
        var s = new PNDMScheduler(new PNDMSchedulerConfig { SetAlphaToOne = true });
        s.SetTimesteps(20);
        Assert.Equal(12 + 17, s.Timesteps.shape[0]);
        var x0 = (rand(new long[] { 2, 4, 3, 4, 4 }) * 2) - 1;
        var x = randn(new long[] { 2, 4, 3, 4, 4 });
        for (int i = 0; i < s.Timesteps.shape[0]; i++)
        {
            var t = s.Timesteps[i];
            x = s.Step(VpEpsilon(x, x0, s.AlphasCumprod[t].item<float>()), t, x).PrevSample;
        }

        Assert.True((x - x0).abs().max().item<float>() < 1e-3);
    }

    [Fact]
    public void Out_of_order_timestep_throws()
    {
        using var scope = NewDisposeScope();
        var s = new PNDMScheduler();
        s.SetTimesteps(10);
        var x = randn(new long[] { 1, 4, 2, 2 });
        Assert.Throws<ArgumentException>(() => s.Step(x, s.Timesteps[3], x));
    }
}

public sealed class EulerContractTests : SchedulerContractTests
{
    protected override IScheduler Create(string spacing = "") =>
        new EulerDiscreteScheduler(new EulerDiscreteSchedulerConfig { TimestepSpacing = spacing.Length == 0 ? "linspace" : spacing });

    protected override Tensor TrueModelOutput(IScheduler s, int index, Tensor x, Tensor x0) =>
        (x - x0) / s.Sigmas![index].item<float>();

    [Fact]
    public void Karras_sigmas_recover_x0()
    {
        using var scope = NewDisposeScope();
        var s = new EulerDiscreteScheduler(new EulerDiscreteSchedulerConfig { UseKarrasSigmas = true, BetaSchedule = "scaled_linear", BetaStart = 0.00085, BetaEnd = 0.012 });
        s.SetTimesteps(25);
        var x0 = (rand(new long[] { 1, 4, 4, 4 }) * 2) - 1;
        var x = randn(new long[] { 1, 4, 4, 4 }) * s.InitNoiseSigma;
        for (int i = 0; i < 25; i++)
        {
            var t = s.Timesteps[i];
            _ = s.ScaleModelInput(x, t);
            x = s.Step((x - x0) / s.Sigmas![i].item<float>(), t, x).PrevSample;
        }

        Assert.True((x - x0).abs().max().item<float>() < 1e-3);
    }
}

public sealed class EulerAncestralContractTests : SchedulerContractTests
{
    protected override IScheduler Create(string spacing = "") =>
        new EulerAncestralDiscreteScheduler(new EulerAncestralDiscreteSchedulerConfig { TimestepSpacing = spacing.Length == 0 ? "linspace" : spacing });

    protected override Tensor TrueModelOutput(IScheduler s, int index, Tensor x, Tensor x0) =>
        (x - x0) / s.Sigmas![index].item<float>();
}

public sealed class DPMSolverContractTests : SchedulerContractTests
{
    protected override IScheduler Create(string spacing = "") =>
        new DPMSolverMultistepScheduler(new DPMSolverMultistepSchedulerConfig { TimestepSpacing = spacing.Length == 0 ? "linspace" : spacing, SolverOrder = 3 });

    protected override IReadOnlyList<int> StepCounts => [1, 2, 7, 25, 50, 61, 250, 499];

    protected override Tensor TrueModelOutput(IScheduler s, int index, Tensor x, Tensor x0)
    {
        float sigma = s.Sigmas![index].item<float>();
        float alpha = 1 / MathF.Sqrt((sigma * sigma) + 1);
        return (x - (x0 * alpha)) / (sigma * alpha);
    }

    [Theory]
    [InlineData(1, "midpoint", "dpmsolver++")]
    [InlineData(2, "heun", "dpmsolver++")]
    [InlineData(2, "midpoint", "sde-dpmsolver++")]
    [InlineData(3, "midpoint", "sde-dpmsolver++")]
    public void Every_order_and_variant_recovers_x0(int order, string solverType, string algorithm)
    {
        using var scope = NewDisposeScope();
        var s = new DPMSolverMultistepScheduler(new DPMSolverMultistepSchedulerConfig { SolverOrder = order, SolverType = solverType, AlgorithmType = algorithm, UseKarrasSigmas = order == 3 });
        s.SetTimesteps(20);
        var g = new Generator(3);
        var x0 = (rand(new long[] { 1, 4, 4, 4 }, generator: g) * 2) - 1;
        var x = randn(new long[] { 1, 4, 4, 4 }, generator: g);
        for (int i = 0; i < 20; i++)
        {
            x = s.Step(TrueModelOutput(s, i, x, x0), s.Timesteps[i], x, g).PrevSample;
        }

        Assert.True((x - x0).abs().max().item<float>() < 1e-3);
    }
}

public sealed class FlowMatchContractTests : SchedulerContractTests
{
    protected override IScheduler Create(string spacing = "") =>
        new FlowMatchEulerDiscreteScheduler(new FlowMatchEulerDiscreteSchedulerConfig { Shift = 3.0 });

    protected override IReadOnlyList<string> Spacings => [""];

    protected override Tensor TrueModelOutput(IScheduler s, int index, Tensor x, Tensor x0) =>
        (x - x0) / s.Sigmas![index].item<float>();

    [Fact]
    public void Dynamic_shifting_needs_mu_and_uses_it()
    {
        var s = new FlowMatchEulerDiscreteScheduler(new FlowMatchEulerDiscreteSchedulerConfig { UseDynamicShifting = true });
        Assert.Throws<InvalidOperationException>(() => s.SetTimesteps(10));
        double mu = s.CalculateShift(4096);
        Assert.Equal(1.15, mu, 9);
        s.SetTimesteps(10, mu);
        float second = s.Sigmas![1].item<float>();
        double plain = 1 - (1.0 / 9 * (1 - (1.0 / 1000)));
        Assert.True(second > plain, "dynamic shift with μ > 0 should raise the σs");
    }
}

public sealed class GuidedDiffusionContractTests : SchedulerContractTests
{
    protected override IScheduler Create(string spacing = "") => new GuidedDiffusionScheduler();

    protected override IReadOnlyList<string> Spacings => [""];

    protected override Tensor TrueModelOutput(IScheduler s, int index, Tensor x, Tensor x0)
    {
        var g = (GuidedDiffusionScheduler)s;
        long j = g.TimestepMap.Count - 1 - index;
        return VpEpsilon(x, x0, g.Table("alphas_cumprod")[j].item<float>());
    }

    [Theory]
    [InlineData(AdmSamplingMethod.Ddim, "ddim")]
    [InlineData(AdmSamplingMethod.Ddpm, "")]
    public void Respacing_kinds_recover_x0(AdmSamplingMethod method, string respacing)
    {
        using var scope = NewDisposeScope();
        var s = new GuidedDiffusionScheduler(new GuidedDiffusionSchedulerConfig { TimestepRespacing = respacing.Length == 0 ? "" : "ddim50", VarianceType = "fixed_small" }) { SamplingMethod = method };
        s.SetTimesteps(25);
        Assert.Equal(25, s.Timesteps.shape[0]);
        var x0 = (rand(new long[] { 1, 4, 2, 2 }) * 2) - 1;
        var x = randn(new long[] { 1, 4, 2, 2 });
        for (int i = 0; i < 25; i++)
        {
            x = s.Step(TrueModelOutput(s, i, x, x0), s.Timesteps[i], x).PrevSample;
        }

        Assert.True((x - x0).abs().max().item<float>() < 1e-3);
    }

    [Fact]
    public void Ddim_respacing_that_no_integer_stride_gives_throws() =>
        Assert.Throws<ArgumentException>(() => GuidedDiffusionScheduler.SpaceTimesteps(1000, "ddim37"));

    [Fact]
    public void Respacing_matches_the_reference_examples()
    {
        Assert.Equal([0, 20, 41, 61, 82], GuidedDiffusionScheduler.SpaceTimesteps(1000, "50")[..5]);
        Assert.Equal(999, GuidedDiffusionScheduler.SpaceTimesteps(1000, "50")[^1]);
        Assert.Contains(166L, GuidedDiffusionScheduler.SpaceTimesteps(1000, "25"));
        Assert.Equal(980, GuidedDiffusionScheduler.SpaceTimesteps(1000, "ddim50")[^1]);
    }
}
