namespace Vchitect.Core.Weights;

/// <summary>How <see cref="SafetensorsFile.Open(string, SafetensorsReadOptions?)"/> reads a file.</summary>
public sealed record SafetensorsReadOptions
{
    /// <summary>The default limit on the JSON header: 100 MiB (104,857,600 bytes).</summary>
    public const int DefaultMaxHeaderBytes = 100 * 1024 * 1024;

    /// <summary>The defaults: <see cref="DefaultMaxHeaderBytes"/>, memory mapping on.</summary>
    public static SafetensorsReadOptions Default { get; } = new();

    /// <summary>
    /// The largest JSON header accepted, in bytes; a file that declares a longer one is rejected before anything is
    /// allocated. Default <see cref="DefaultMaxHeaderBytes"/> (100 MiB); valid range 2 (the header <c>{}</c>) to
    /// <see cref="Array.MaxLength"/>.
    /// </summary>
    public int MaxHeaderBytes { get; init; } = DefaultMaxHeaderBytes;

    /// <summary>
    /// Whether tensor data is read through a read-only memory mapping of the file (default <see langword="true"/>).
    /// With <see langword="false"/>, or when the file system cannot map the file, tensors are read with positioned
    /// file reads instead; the results are the same.
    /// </summary>
    public bool UseMemoryMapping { get; init; } = true;

    /// <summary>Largest block copied at once into a tensor, in bytes (tests lower it to exercise chunking).</summary>
    internal int CopyChunkBytes { get; init; } = 1 << 30;

    /// <summary>Checks every option.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the message names it, its value and the range.</exception>
    public void Validate()
    {
        if (MaxHeaderBytes < 2 || MaxHeaderBytes > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(MaxHeaderBytes), MaxHeaderBytes, $"{nameof(MaxHeaderBytes)} must be between 2 and {Array.MaxLength} bytes.");
        }

        if (CopyChunkBytes < 8)
        {
            throw new ArgumentOutOfRangeException(nameof(CopyChunkBytes), CopyChunkBytes, $"{nameof(CopyChunkBytes)} must be at least 8 bytes.");
        }
    }
}
