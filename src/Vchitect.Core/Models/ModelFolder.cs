using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Vchitect.Core.Configuration;
using Vchitect.Core.Weights;

namespace Vchitect.Core.Models;

/// <summary>
/// A pipeline folder laid out as on the Hugging Face Hub: <c>model_index.json</c> at the top, and one subfolder per
/// component (<c>unet/config.json</c>, <c>unet/diffusion_pytorch_model.safetensors</c>, <c>scheduler/scheduler_config.json</c>, ...).
/// </summary>
public sealed class ModelFolder
{
    /// <summary>The name of the index file at the top of a pipeline folder.</summary>
    public const string IndexFileName = "model_index.json";

    /// <summary>Config file names tried in a component folder, in order: models, schedulers, image processors, tokenizers.</summary>
    public static IReadOnlyList<string> ConfigFileNames { get; } =
        ["config.json", "scheduler_config.json", "preprocessor_config.json", "tokenizer_config.json"];

    private ModelFolder(string path, ModelIndex index)
    {
        Path = path;
        Index = index;
    }

    /// <summary>The folder's full path.</summary>
    public string Path { get; }

    /// <summary>The parsed <c>model_index.json</c>.</summary>
    public ModelIndex Index { get; }

    /// <summary>Opens a pipeline folder and reads its <c>model_index.json</c>.</summary>
    /// <param name="path">The folder.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder has no <c>model_index.json</c>.</exception>
    /// <exception cref="ConfigException"><c>model_index.json</c> is malformed.</exception>
    public static ModelFolder Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"Model folder not found: {full}");
        }

        string indexPath = System.IO.Path.Combine(full, IndexFileName);
        if (!File.Exists(indexPath))
        {
            throw new FileNotFoundException($"{full} is not a pipeline folder: it has no {IndexFileName}.", indexPath);
        }

        return new ModelFolder(full, ModelIndex.Read(indexPath));
    }

    /// <summary>Whether <c>model_index.json</c> lists the component with a library and class (not <c>[null, null]</c>).</summary>
    /// <param name="component">The component name, e.g. <c>unet</c>.</param>
    public bool HasComponent(string component)
    {
        ArgumentNullException.ThrowIfNull(component);
        return Index.Components.TryGetValue(component, out ModelComponentType? type) && type is not null;
    }

    /// <summary>The component's library and class, as <c>model_index.json</c> lists them.</summary>
    /// <param name="component">The component name.</param>
    /// <exception cref="KeyNotFoundException">The component is not listed, or listed as <c>[null, null]</c>; the message lists those present.</exception>
    public ModelComponentType GetComponentType(string component)
    {
        ArgumentNullException.ThrowIfNull(component);
        return Index.Components.TryGetValue(component, out ModelComponentType? type) && type is not null
            ? type
            : throw new KeyNotFoundException(
                $"{System.IO.Path.Combine(Path, IndexFileName)} has no component '{component}'{(type is null && Index.Components.ContainsKey(component) ? " (it is listed as [null, null])" : string.Empty)}; "
                + $"components: {string.Join(", ", Index.Components.Where(kv => kv.Value is not null).Select(kv => kv.Key))}.");
    }

    /// <summary>The component's subfolder, e.g. <c>&lt;folder&gt;/unet</c>.</summary>
    /// <param name="component">The component name (a plain folder name).</param>
    /// <exception cref="KeyNotFoundException">The component is not listed in <c>model_index.json</c>.</exception>
    /// <exception cref="DirectoryNotFoundException">It is listed, but its folder is missing.</exception>
    public string GetComponentPath(string component)
    {
        GetComponentType(component);
        if (component.Length == 0 || component.IndexOfAny(['/', '\\', ':']) >= 0 || component is "." or "..")
        {
            throw new ArgumentException($"Component name '{component}' is not a plain folder name.", nameof(component));
        }

        string folder = System.IO.Path.Combine(Path, component);
        return Directory.Exists(folder)
            ? folder
            : throw new DirectoryNotFoundException($"Component '{component}' is listed in {IndexFileName} but its folder is missing: {folder}");
    }

    /// <summary>The component's config file: the first of <see cref="ConfigFileNames"/> present in its folder.</summary>
    /// <param name="component">The component name.</param>
    /// <exception cref="KeyNotFoundException">The component is not listed.</exception>
    /// <exception cref="DirectoryNotFoundException">Its folder is missing.</exception>
    /// <exception cref="FileNotFoundException">No config file; the message lists the paths looked for.</exception>
    public string GetConfigPath(string component)
    {
        string folder = GetComponentPath(component);
        string[] candidates = ConfigFileNames.Select(name => System.IO.Path.Combine(folder, name)).ToArray();
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException(
                $"No config for component '{component}'; looked for: {string.Join(", ", candidates)}.", candidates[0]);
    }

    /// <summary>Reads and validates the component's config (see <see cref="ConfigFile.Read{T}"/>).</summary>
    /// <typeparam name="T">The config record.</typeparam>
    /// <param name="component">The component name.</param>
    /// <param name="typeInfo">The record's source-generated JSON metadata.</param>
    /// <param name="logger">Receives one warning listing unknown keys; null for none.</param>
    public T ReadConfig<T>(string component, JsonTypeInfo<T> typeInfo, ILogger? logger = null)
        where T : DiffusersConfig, new() =>
        ConfigFile.Read(GetConfigPath(component), typeInfo, logger);

    /// <summary>
    /// The weights file names tried in a component folder, in diffusers' order: safetensors before pickles, a single
    /// file before a shard index, diffusers' names before transformers' names. With a variant (<c>fp16</c>), only the
    /// variant's names: <c>diffusion_pytorch_model.fp16.safetensors</c>, <c>diffusion_pytorch_model.safetensors.index.fp16.json</c>, ...
    /// </summary>
    /// <param name="variant">The variant, or null for the default weights.</param>
    public static IReadOnlyList<string> WeightFileNames(string? variant = null)
    {
        string v = string.IsNullOrEmpty(variant) ? string.Empty : "." + variant;
        return
        [
            $"diffusion_pytorch_model{v}.safetensors",
            $"model{v}.safetensors",
            $"diffusion_pytorch_model.safetensors.index{v}.json",
            $"model.safetensors.index{v}.json",
            $"diffusion_pytorch_model{v}.bin",
            $"pytorch_model{v}.bin",
            $"diffusion_pytorch_model.bin.index{v}.json",
            $"pytorch_model.bin.index{v}.json",
        ];
    }

    /// <summary>The component's weights file: the first of <see cref="WeightFileNames"/> present in its folder.</summary>
    /// <param name="component">The component name.</param>
    /// <param name="variant">The variant (<c>fp16</c>, <c>ema</c>), or null for the default weights.</param>
    /// <exception cref="KeyNotFoundException">The component is not listed.</exception>
    /// <exception cref="DirectoryNotFoundException">Its folder is missing.</exception>
    /// <exception cref="FileNotFoundException">No weights file; the message lists the paths looked for.</exception>
    public string FindWeights(string component, string? variant = null)
    {
        if (variant is not null && (variant.Length == 0 || variant.IndexOfAny(['/', '\\', ':']) >= 0 || variant.Contains("..", StringComparison.Ordinal)))
        {
            throw new ArgumentException($"Variant '{variant}' is not a plain name such as 'fp16'.", nameof(variant));
        }

        string folder = GetComponentPath(component);
        string[] candidates = WeightFileNames(variant).Select(name => System.IO.Path.Combine(folder, name)).ToArray();
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException(
                $"No weights for component '{component}'{(variant is null ? string.Empty : $" (variant '{variant}')")}; looked for: {string.Join(", ", candidates)}.",
                candidates[0]);
    }

    /// <summary>Opens the component's weights (see <see cref="FindWeights"/> for the order), sharded sets as one source.</summary>
    /// <param name="component">The component name.</param>
    /// <param name="variant">The variant (<c>fp16</c>, <c>ema</c>), or null for the default weights.</param>
    /// <param name="options">Options for the readers; null for their defaults.</param>
    /// <returns>The open source, which the caller disposes.</returns>
    /// <exception cref="KeyNotFoundException">The component is not listed.</exception>
    /// <exception cref="DirectoryNotFoundException">Its folder is missing.</exception>
    /// <exception cref="FileNotFoundException">No weights file, or a shard is missing.</exception>
    /// <exception cref="WeightsFormatException">A weights file is malformed or unsafe.</exception>
    public IWeightSource OpenWeights(string component, string? variant = null, WeightFileOptions? options = null) =>
        WeightFiles.Open(FindWeights(component, variant), options);
}
