using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Core;

/// <summary>
/// Chooses the compute device and, where needed, loads the native libtorch an app runs on.
/// </summary>
/// <remarks>
/// An app normally gets its backend from a package: <c>TorchSharp-cpu</c> for the CPU, or a CUDA build of libtorch.
/// An app may instead run on an existing libtorch (for example the one inside a Python PyTorch install): point the
/// environment variable <c>VCHITECT_LIBTORCH_DIR</c> (or <see cref="LoadLibTorchFrom"/>) at its <c>lib</c> folder before
/// the first tensor is made. See docs/backends.md.
/// </remarks>
public static class TorchBackend
{
    /// <summary>The environment variable naming a libtorch <c>lib</c> folder to load instead of the packaged one.</summary>
    public const string LibTorchDirVariable = "VCHITECT_LIBTORCH_DIR";

    private static readonly string[] LibTorchLoadOrder =
        ["libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so"];

    /// <summary>
    /// Loads libtorch from <paramref name="directory"/> (libc10, libtorch_cpu, then the CUDA libraries when present,
    /// then libtorch), so that TorchSharp binds to it. Call before any other TorchSharp use. Linux only.
    /// </summary>
    /// <param name="directory">A libtorch <c>lib</c> folder, e.g. <c>.../site-packages/torch/lib</c>.</param>
    /// <returns>The file names loaded, in order.</returns>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder has no libc10.so / libtorch_cpu.so.</exception>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static IReadOnlyList<string> LoadLibTorchFrom(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("Loading libtorch from a folder is supported on Linux only; use a TorchSharp backend package elsewhere.");
        }

        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"libtorch folder not found: {directory}");
        }

        var loaded = new List<string>();
        foreach (string name in LibTorchLoadOrder)
        {
            string path = Path.Combine(directory, name);
            if (!File.Exists(path))
            {
                if (name is "libc10.so" or "libtorch_cpu.so")
                {
                    throw new FileNotFoundException($"{directory} is not a libtorch lib folder: {name} is missing.", path);
                }

                continue;
            }

            NativeLibrary.Load(path);
            loaded.Add(name);
        }

        return loaded;
    }

    /// <summary>
    /// Prepares the backend from the environment: when <c>VCHITECT_LIBTORCH_DIR</c> is set, loads that libtorch
    /// (see <see cref="LoadLibTorchFrom"/>), then initialises CUDA if <paramref name="device"/> asks for it.
    /// </summary>
    /// <param name="device">The device the app will use: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c> (CUDA when available).</param>
    /// <returns>The device to use.</returns>
    /// <exception cref="ArgumentException">The device name is not understood.</exception>
    /// <exception cref="InvalidOperationException">CUDA was asked for and is not available.</exception>
    public static Device Initialize(string device = "cpu")
    {
        string? dir = Environment.GetEnvironmentVariable(LibTorchDirVariable);
        if (!string.IsNullOrWhiteSpace(dir))
        {
            LoadLibTorchFrom(dir);
        }

        return ResolveDevice(device);
    }

    /// <summary>Parses a device name: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>, or <c>auto</c> (CUDA when available, else CPU).</summary>
    /// <exception cref="ArgumentException">The name is not one of those.</exception>
    /// <exception cref="InvalidOperationException">A CUDA device was named and CUDA is not available.</exception>
    public static Device ResolveDevice(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string n = name.Trim().ToLowerInvariant();
        if (n == "cpu")
        {
            return CPU;
        }

        if (n == "auto")
        {
            return TryInitializeCuda() ? CUDA : CPU;
        }

        if (n == "cuda" || n.StartsWith("cuda:", StringComparison.Ordinal))
        {
            int index = 0;
            if (n.Length > 4 && !int.TryParse(n.AsSpan(5), out index))
            {
                throw new ArgumentException($"Device '{name}': expected cuda:N with N a GPU index.", nameof(name));
            }

            if (!TryInitializeCuda())
            {
                throw new InvalidOperationException(
                    $"Device '{name}' was asked for, but CUDA is not available: add a CUDA TorchSharp backend package, or set {LibTorchDirVariable} to a CUDA libtorch (docs/backends.md).");
            }

            if (index >= cuda.device_count())
            {
                throw new ArgumentException($"Device '{name}': only {cuda.device_count()} CUDA device(s) are present.", nameof(name));
            }

            return new Device(DeviceType.CUDA, index);
        }

        throw new ArgumentException($"Unknown device '{name}': use cpu, cuda, cuda:N or auto.", nameof(name));
    }

    private static bool TryInitializeCuda()
    {
        try
        {
            InitializeDeviceType(DeviceType.CUDA);
            return cuda.is_available();
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or DllNotFoundException or ExternalException)
        {
            return false;
        }
    }
}
