using Vchitect.Models.Denoising;
using Vchitect.Pipelines;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Tests;

/// <summary>The plugin seam: <c>Use</c> wraps the denoiser and the sampler, the last plugin outermost; <c>Find</c> sees through decorators.</summary>
[Collection(PipelineTorchState.Name)]
public sealed class PluginSeamTests : IClassFixture<LaVieVideoPipelineTests.Folder>
{
    private readonly LaVieVideoPipelineTests.Folder _folder;

    public PluginSeamTests(LaVieVideoPipelineTests.Folder folder) => _folder = folder;

    [Fact]
    public void Use_wraps_in_order_and_returns_the_pipeline()
    {
        using var pipe = _folder.Model.Load();
        var unet = pipe.Denoiser;
        var loop = pipe.Sampler;
        var log = new List<string>();
        var same = pipe.Use(new Tag("a", log)).Use(new Tag("b", log));
        Assert.Same(pipe, same);
        var outer = Assert.IsType<TagDenoiser>(pipe.Denoiser);
        Assert.Equal("b", outer.Name);
        Assert.Equal("a", Assert.IsType<TagDenoiser>(outer.Inner).Name);
        Assert.Same(unet, ((TagDenoiser)outer.Inner).Inner);
        Assert.Same(loop, Assert.IsType<TagSampler>(Assert.IsType<TagSampler>(pipe.Sampler).Inner).Inner);

        // Find reaches the model's adapter under both decorators, and the outermost decorator first.
        Assert.NotNull(pipe.Denoiser.Find<UNet3DDenoiser>());
        Assert.Equal("b", pipe.Denoiser.Find<TagDenoiser>()!.Name);
        Assert.Null(pipe.Denoiser.Find<string>());

        // A generation runs through both: samplers outside-in, denoisers outside-in at every step.
        pipe.Generate("p", TinyLaVie.Options() with { Steps = 1, GuidanceScale = 1 });
        Assert.Equal(["sample b", "sample a", "predict b", "predict a"], log);
    }

    [Fact]
    public void A_plugin_that_wraps_nothing_leaves_the_pipeline_as_it_was()
    {
        using var pipe = _folder.Model.Load();
        var denoiser = pipe.Denoiser;
        var sampler = pipe.Sampler;
        pipe.Use(new Nothing());
        Assert.Same(denoiser, pipe.Denoiser);
        Assert.Same(sampler, pipe.Sampler);
    }

    private sealed class Nothing : IPipelinePlugin;

    private sealed class Tag(string name, List<string> log) : IPipelinePlugin
    {
        public IVideoDenoiser WrapDenoiser(IVideoDenoiser inner) => new TagDenoiser(name, inner, log);

        public IVideoSampler WrapSampler(IVideoSampler inner) => new TagSampler(name, inner, log);
    }

    private sealed class TagDenoiser(string name, IVideoDenoiser inner, List<string> log) : IVideoDenoiser
    {
        public string Name => name;

        public IVideoDenoiser Inner => inner;

        public int InChannels => inner.InChannels;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
        {
            log.Add("predict " + name);
            return inner.Predict(latents, timestep, conditioning);
        }

        public T? Find<T>()
            where T : class => this as T ?? inner.Find<T>();
    }

    private sealed class TagSampler(string name, IVideoSampler inner, List<string> log) : IVideoSampler
    {
        public IVideoSampler Inner => inner;

        public Tensor Sample(SamplingContext context)
        {
            log.Add("sample " + name);
            return inner.Sample(context);
        }
    }
}
