using TorchSharp;
using TorchSharp.Modules;
using Vchitect.Core;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Training.Tests;

public sealed class OptimizationTests
{
    [Fact]
    public void Ema_update_equals_the_formula_on_a_hand_example()
    {
        using var p = new Parameter(tensor(new float[] { 1, 2 }));
        using var ema = new ExponentialMovingAverage([KeyValuePair.Create("p", p)], decay: 0.999);
        Assert.Equal(0.1, ema.CurrentDecay, 12);  // min(0.999, (1 + 0) / (10 + 0))
        using (no_grad())
        {
            p.copy_(tensor(new float[] { 3, 6 }));
        }

        ema.Update(0.9);  // 0.9·[1, 2] + 0.1·[3, 6] = [1.2, 2.4]
        var shadow = ema.Shadow["p"].data<float>().ToArray();
        Assert.Equal(1.2f, shadow[0], 5);
        Assert.Equal(2.4f, shadow[1], 5);
        Assert.Equal(1, ema.UpdateCount);
        Assert.Equal(2.0 / 11.0, ema.CurrentDecay, 12);

        ema.Update();  // d = 2/11: shadow = 2/11·[1.2, 2.4] + 9/11·[3, 6]
        shadow = ema.Shadow["p"].data<float>().ToArray();
        Assert.Equal((2.0 / 11 * 1.2) + (9.0 / 11 * 3), shadow[0], 5);
        Assert.Equal((2.0 / 11 * 2.4) + (9.0 / 11 * 6), shadow[1], 5);
        // the parameter itself is untouched
        Assert.Equal(new float[] { 3, 6 }, p.data<float>().ToArray());
    }

    [Fact]
    public void Gradient_clipping_caps_the_global_norm()
    {
        using var a = new Parameter(zeros(2));
        using var b = new Parameter(zeros(1));
        a.grad = tensor(new float[] { 3, 4 });
        b.grad = tensor(new float[] { 12 });
        Assert.Equal(13, GradientClipping.GlobalNorm([a, b]), 5);

        double before = GradientClipping.ClipGradNorm([a, b], maxNorm: 1.0);
        Assert.Equal(13, before, 5);
        Assert.Equal(1.0, GradientClipping.GlobalNorm([a, b]), 5);
        // direction kept
        Assert.Equal(3f / 13, a.grad!.data<float>()[0], 5);
        Assert.Equal(12f / 13, b.grad!.data<float>()[0], 5);

        // under the limit: unchanged
        double again = GradientClipping.ClipGradNorm([a, b], maxNorm: 5.0);
        Assert.Equal(1.0, again, 5);
        Assert.Equal(1.0, GradientClipping.GlobalNorm([a, b]), 5);
    }

    [Fact]
    public void AdamW_matches_TorchSharp_AdamW()
    {
        using var rng = new RandomGenerator(5);
        using var init = rng.Randn([3, 4]);
        using var mine = new Parameter(init.clone());
        using var theirs = new Parameter(init.clone());
        using var ours = new AdamWOptimizer([KeyValuePair.Create("w", mine)], weightDecay: 0.05);
        using var reference = optim.AdamW([theirs], lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.05);
        for (int step = 0; step < 5; step++)
        {
            using var g = rng.Randn([3, 4]);
            mine.grad = g.clone();
            theirs.grad = g.clone();
            ours.Step(0.01);
            reference.step();
        }

        Assert.Equal(5, ours.StepCount);
        float maxDiff = (mine - theirs).abs().max().item<float>();
        Assert.True(maxDiff < 1e-6, $"max |ours − TorchSharp| = {maxDiff}");
        Assert.True((mine - init).abs().max().item<float>() > 1e-3, "the parameter moved");
    }

    [Fact]
    public void Caption_dropout_rate_is_honoured()
    {
        var captions = Enumerable.Repeat("a red circle moving left on a black background", 20000).ToList();
        using var rng = new RandomGenerator(11);
        double rate = CaptionDropout.Apply(captions, 0.1, rng).Count(c => c.Length == 0) / (double)captions.Count;
        Assert.InRange(rate, 0.09, 0.11);
        Assert.DoesNotContain(string.Empty, CaptionDropout.Apply(captions, 0.0, rng));
        Assert.All(CaptionDropout.Apply(captions, 1.0, rng), c => Assert.Equal(string.Empty, c));
        Assert.Throws<ArgumentOutOfRangeException>(() => CaptionDropout.Apply(captions, 1.5, rng));
    }
}
