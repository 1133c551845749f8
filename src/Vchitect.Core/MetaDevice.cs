using static TorchSharp.torch;

namespace Vchitect.Core;

/// <summary>
/// Builds modules on PyTorch's <c>meta</c> device: parameters get shapes and dtypes but no storage, so a real-size model
/// (a 909M-parameter UNet) can be built in a moment to inspect its state-dict layout.
/// </summary>
/// <remarks>
/// TorchSharp's default device is process-wide (not per thread): do not build other modules on other threads meanwhile.
/// A module built this way cannot run or receive weights (<c>ModuleWeights.Load</c> refuses meta tensors).
/// </remarks>
public static class MetaDevice
{
    /// <summary>The meta device.</summary>
    public static Device Device => META;

    /// <summary>
    /// Runs <paramref name="create"/> with the default device set to meta, and restores the previous default device
    /// afterwards, also when <paramref name="create"/> throws.
    /// </summary>
    /// <typeparam name="T">What is built (usually a module).</typeparam>
    /// <param name="create">Builds the object; tensors it makes without an explicit device land on meta.</param>
    /// <returns>What <paramref name="create"/> returned.</returns>
    public static T Build<T>(Func<T> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        var previous = get_default_device();
        set_default_device(META);
        try
        {
            return create();
        }
        finally
        {
            set_default_device(previous);
        }
    }
}
