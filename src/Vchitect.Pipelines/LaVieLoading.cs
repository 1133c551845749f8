using Microsoft.Extensions.Logging;
using Vchitect.Core.Models;
using Vchitect.Core.Weights;
using Vchitect.Models.UNets;
using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Pipelines;

/// <summary>Loading steps the LaVie stages share: the UNet from a folder config plus a LaVie checkpoint.</summary>
internal static class LaVieLoading
{
    /// <summary>
    /// Reads <c>unet/config.json</c>, lets <paramref name="configure"/> adapt it (e.g. to the interpolation variant), builds
    /// the UNet and loads its weights strictly from <paramref name="weightsPath"/> (a <c>.pt</c>/<c>.pth</c> training
    /// checkpoint whose state dict may sit under a wrapper key, or <c>.safetensors</c>) or, when null, from <c>unet/</c>.
    /// </summary>
    public static UNet3DConditionModel LoadUNet(
        ModelFolder folder,
        Func<UNet3DConditionConfig, UNet3DConditionConfig> configure,
        string? weightsPath,
        Device? device,
        ScalarType? dtype,
        ILogger? logger)
    {
        var config = configure(folder.ReadConfig("unet", UNet3DConditionJsonContext.Default.UNet3DConditionConfig, logger));
        return LoadModel(folder, () => new UNet3DConditionModel(config, dtype, device), weightsPath, TorchCheckpointOptions.DefaultWrapperKeys, device, dtype);
    }

    /// <summary>
    /// Builds a model with <paramref name="build"/> and loads its weights strictly from <paramref name="weightsPath"/> (a
    /// PyTorch checkpoint unwrapped with <paramref name="unwrap"/>, or <c>.safetensors</c>) or, when null, from
    /// <c>unet/</c>. The model is disposed when loading fails.
    /// </summary>
    public static TModule LoadModel<TModule>(ModelFolder folder, Func<TModule> build, string? weightsPath, IReadOnlyList<string> unwrap, Device? device, ScalarType? dtype)
        where TModule : nn.Module
    {
        using IWeightSource weights = weightsPath is null
            ? folder.OpenWeights("unet")
            : weightsPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)
                ? SafetensorsFile.Open(weightsPath)
                : TorchCheckpoint.Open(weightsPath, new TorchCheckpointOptions { Unwrap = unwrap });
        var model = build();
        try
        {
            ModuleWeights.Load(model, weights, new WeightLoadOptions { Strict = true, DType = dtype, Device = device });
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The checkpoint <paramref name="fileName"/> inside <paramref name="folder"/>, else next to it, else null.</summary>
    public static string? FindCheckpoint(string folder, string fileName)
    {
        string inside = Path.Combine(folder, fileName);
        if (File.Exists(inside))
        {
            return inside;
        }

        string? parent = Path.GetDirectoryName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar));
        string beside = parent is null ? string.Empty : Path.Combine(parent, fileName);
        return parent is not null && File.Exists(beside) ? beside : null;
    }
}
