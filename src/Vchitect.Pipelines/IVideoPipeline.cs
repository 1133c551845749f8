using Vchitect.Models.Denoising;

namespace Vchitect.Pipelines;

/// <summary>
/// What every video pipeline exposes to plugins: its denoiser and its sampler, both replaceable by decorators. Plugins
/// are applied with <see cref="VideoPipelineExtensions.Use{TPipeline}(TPipeline, IPipelinePlugin)"/>.
/// </summary>
public interface IVideoPipeline
{
    /// <summary>The denoiser used by generations (the model's adapter, or decorators around it).</summary>
    IVideoDenoiser Denoiser { get; set; }

    /// <summary>The sampler used by generations (<see cref="DenoisingLoop"/>, or decorators around it).</summary>
    IVideoSampler Sampler { get; set; }
}

/// <summary>
/// A training-free plugin (FreeU, FreeInit, FreeNoise, or your own): wraps a pipeline's denoiser, its sampler, or both.
/// Implement only what the plugin needs; the defaults leave a part as it is.
/// </summary>
public interface IPipelinePlugin
{
    /// <summary>Wraps the pipeline's denoiser.</summary>
    /// <param name="inner">The current denoiser (possibly already decorated).</param>
    /// <returns>The new denoiser; <paramref name="inner"/> to leave it.</returns>
    IVideoDenoiser WrapDenoiser(IVideoDenoiser inner) => inner;

    /// <summary>Wraps the pipeline's sampler.</summary>
    /// <param name="inner">The current sampler (possibly already decorated).</param>
    /// <returns>The new sampler; <paramref name="inner"/> to leave it.</returns>
    IVideoSampler WrapSampler(IVideoSampler inner) => inner;
}

/// <summary>Applies plugins to pipelines.</summary>
public static class VideoPipelineExtensions
{
    /// <summary>
    /// Applies <paramref name="plugin"/> to <paramref name="pipeline"/> (wraps its denoiser, then its sampler) and returns
    /// the pipeline, so calls chain: <c>pipe.Use(new FreeInit()).Use(new FreeU())</c>. The last plugin applied is the outermost.
    /// </summary>
    /// <typeparam name="TPipeline">The pipeline type.</typeparam>
    /// <param name="pipeline">The pipeline.</param>
    /// <param name="plugin">The plugin.</param>
    /// <returns><paramref name="pipeline"/>.</returns>
    public static TPipeline Use<TPipeline>(this TPipeline pipeline, IPipelinePlugin plugin)
        where TPipeline : IVideoPipeline
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(plugin);
        pipeline.Denoiser = plugin.WrapDenoiser(pipeline.Denoiser) ?? throw new InvalidOperationException($"{plugin.GetType().Name}.WrapDenoiser returned null.");
        pipeline.Sampler = plugin.WrapSampler(pipeline.Sampler) ?? throw new InvalidOperationException($"{plugin.GetType().Name}.WrapSampler returned null.");
        return pipeline;
    }
}
