using Vchitect.Models.Denoising;
using Vchitect.Pipelines;
using Vchitect.Schedulers;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Tests;

[Collection(PipelineTorchState.Name)]
public sealed class DenoisingLoopTests
{
    [Theory]
    [InlineData(7.5, 2)]
    [InlineData(1.0, 1)]
    public void Guidance_combines_uncond_and_cond_halves(double scale, int expectedBatch)
    {
        using var scope = NewDisposeScope();
        var x = randn([1, 4, 2, 3, 3]);
        var cond = new VideoConditioning(ones(1, 5, 8));
        var uncond = new VideoConditioning(zeros(1, 5, 8));
        var denoiser = new RowDenoiser();
        var scheduler = new DDIMScheduler(new DDIMSchedulerConfig { ClipSample = false });
        var result = DenoisingLoop.Instance.Sample(new SamplingContext
        {
            Denoiser = denoiser,
            Scheduler = scheduler,
            Steps = 1,
            InitialLatents = x,
            Conditioning = cond,
            UnconditionalConditioning = uncond,
            GuidanceScale = scale,
        });

        // The denoiser predicts the conditioning's mean (0 for uncond, 1 for cond): guided ε = 0 + w·(1 − 0) = w, or 1 without guidance.
        var reference = scheduler.Clone();
        reference.SetTimesteps(1);
        var t = reference.Timesteps[0];
        var expected = reference.Step(full_like(x, expectedBatch == 2 ? scale : 1.0), t, x).PrevSample;
        Assert.Equal([expectedBatch], denoiser.Batches);
        Assert.True(expected.allclose(result, rtol: 1e-5, atol: 1e-6));
        Assert.False(x.IsInvalid);
    }

    [Fact]
    public void Guidance_without_unconditional_conditioning_is_rejected()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => DenoisingLoop.Instance.Sample(new SamplingContext
        {
            Denoiser = new RowDenoiser(),
            Scheduler = new DDIMScheduler(),
            Steps = 1,
            InitialLatents = randn([1, 4, 2, 3, 3]),
            Conditioning = new VideoConditioning(ones(1, 5, 8)),
            GuidanceScale = 3,
        }));
        Assert.Contains("UnconditionalConditioning", e.Message, StringComparison.Ordinal);
    }

    private sealed class RowDenoiser : IVideoDenoiser
    {
        public List<long> Batches { get; } = [];

        public int InChannels => 4;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
        {
            Batches.Add(latents.shape[0]);
            var perRow = conditioning.TextEmbeddings.mean([1, 2]).reshape(-1, 1, 1, 1, 1);
            return zeros_like(latents) + perRow;
        }
    }
}
