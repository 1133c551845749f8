using Vchitect.Core.Configuration;
using Vchitect.Core.Weights;
using Vchitect.Models.UNets;
using Vchitect.TestUtilities;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.UNets;

/// <summary>Tests that change TorchSharp's process-wide state (the default device) or count live tensors run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class UNetTorchState
{
    public const string Name = "unet-torch-global-state";
}

/// <summary>Loading helpers for the LaVie UNet fixtures.</summary>
internal static class UNetFixtures
{
    public const string UNetFile = "lavie_unet_tiny.safetensors";
    public const string Transformer3DFile = "lavie_transformer3d_tiny.safetensors";
    public const string SeineFile = "seine_unet_tiny.safetensors";

    public static SafetensorsFile Open(string name) => SafetensorsFile.Open(Fixtures.Path(name));

    public static UNet3DConditionConfig TinyConfig(string fileName = UNetFile)
    {
        using var file = Open(fileName);
        return ConfigFile.Parse(file.Metadata["config"], UNet3DConditionJsonContext.Default.UNet3DConditionConfig, fileName);
    }

    /// <summary>The tiny UNet with the fixture's weights (strict), optionally converted to <paramref name="dtype"/>.</summary>
    public static UNet3DConditionModel TinyModel(ScalarType? dtype = null, string fileName = UNetFile)
    {
        var model = new UNet3DConditionModel(TinyConfig(fileName));
        using var file = Open(fileName);
        ModuleWeights.Load(model, file, new WeightLoadOptions { StripPrefix = "weights.", Strict = true, DType = dtype });
        model.eval();
        return model;
    }
}
