using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace Vchitect.Core.Weights;

/// <summary>
/// A safetensors file (https://github.com/huggingface/safetensors) opened for reading: the header is read and fully
/// validated by <see cref="Open"/>, tensor data is read lazily, one tensor at a time, from a read-only memory mapping.
/// </summary>
/// <remarks>
/// <para>
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (padded with spaces), then the data region.
/// The JSON maps each tensor name to <c>{"dtype", "shape", "data_offsets": [begin, end]}</c>, offsets relative to the
/// data region, plus an optional <c>__metadata__</c> map of strings. The tensors must tile the data region exactly.
/// </para>
/// <para>
/// Every tensor read is a fresh copy owned by the caller; nothing returned aliases the file. The file is opened with
/// <see cref="FileShare.Read"/>; do not truncate it while it is open (on Linux a mapped file that shrinks can crash the
/// process on the next read). Not thread-safe; dispose to release the file.
/// </para>
/// </remarks>
public sealed class SafetensorsFile : IWeightSource
{
    private const int PrefixBytes = 8;

    private readonly SafeFileHandle _handle;
    private readonly Dictionary<string, SafetensorsEntry> _entries;
    private readonly long _dataStart;
    private readonly int _copyChunkBytes;
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;
    private bool _disposed;

    private SafetensorsFile(
        string filePath,
        SafeFileHandle handle,
        IReadOnlyList<SafetensorsEntry> entries,
        IReadOnlyDictionary<string, string> metadata,
        long dataStart,
        long dataLength,
        int copyChunkBytes)
    {
        FilePath = filePath;
        _handle = handle;
        _entries = entries.ToDictionary(e => e.Info.Name, StringComparer.Ordinal);
        Keys = entries.Select(e => e.Info.Name).ToArray().AsReadOnly();
        Metadata = metadata;
        _dataStart = dataStart;
        DataLength = dataLength;
        _copyChunkBytes = copyChunkBytes;
    }

    /// <summary>The full path of the file.</summary>
    public string FilePath { get; }

    /// <inheritdoc/>
    /// <remarks>The full path of the file.</remarks>
    public string Description => FilePath;

    /// <summary>All tensor names in file order, that is in the order of their data offsets.</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>The header's <c>__metadata__</c> map of strings (for example <c>format → pt</c>); empty when absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Length of the data region (the file after the header), in bytes.</summary>
    public long DataLength { get; }

    /// <summary>Whether tensor data is read through a memory mapping (false: positioned file reads).</summary>
    public bool IsMemoryMapped => _view is not null;

    /// <summary>Opens a safetensors file and validates its whole header; tensor data is read later, on request.</summary>
    /// <param name="path">The file to open.</param>
    /// <param name="options">Limits and the read mode; null means <see cref="SafetensorsReadOptions.Default"/>.</param>
    /// <returns>The open file; dispose it to release the file.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="WeightsFormatException">
    /// The file is not a valid safetensors file: too short, a header length over <see cref="SafetensorsReadOptions.MaxHeaderBytes"/>
    /// or past the end of the file, a header that is not a UTF-8 JSON object of well-formed entries, an unknown dtype, a byte
    /// length that does not match dtype and shape, or data offsets that overlap, leave gaps or do not end at the end of the file.
    /// The message names the file and, where one is at fault, the tensor, with the expected and actual values.
    /// </exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static SafetensorsFile Open(string path, SafetensorsReadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= SafetensorsReadOptions.Default;
        options.Validate();

        string fullPath = Path.GetFullPath(path);
        SafeFileHandle handle = File.OpenHandle(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        SafetensorsFile? file = null;
        try
        {
            long fileLength = RandomAccess.GetLength(handle);
            if (fileLength < PrefixBytes)
            {
                throw SafetensorsHeader.Error(fullPath, null,
                    $"the file is {fileLength} bytes long; expected at least {PrefixBytes} (the header length prefix).");
            }

            Span<byte> prefix = stackalloc byte[PrefixBytes];
            ReadExactly(fullPath, null, handle, prefix, 0);
            ulong declared = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (declared > (ulong)options.MaxHeaderBytes)
            {
                throw SafetensorsHeader.Error(fullPath, null,
                    $"the header length prefix is {declared} bytes; expected at most {options.MaxHeaderBytes} " +
                    $"({nameof(SafetensorsReadOptions)}.{nameof(SafetensorsReadOptions.MaxHeaderBytes)}).");
            }

            if (declared > (ulong)(fileLength - PrefixBytes))
            {
                throw SafetensorsHeader.Error(fullPath, null,
                    $"the header length prefix is {declared} bytes but only {fileLength - PrefixBytes} bytes follow it " +
                    $"(the file is {fileLength} bytes); expected at most {fileLength - PrefixBytes}: the file is truncated or not safetensors.");
            }

            var header = new byte[(int)declared];
            ReadExactly(fullPath, null, handle, header, PrefixBytes);
            long dataStart = PrefixBytes + header.Length;
            long dataLength = fileLength - dataStart;
            IReadOnlyList<SafetensorsEntry> entries = SafetensorsHeader.Parse(fullPath, header, dataLength, out var metadata);

            file = new SafetensorsFile(fullPath, handle, entries, metadata, dataStart, dataLength, options.CopyChunkBytes);
            if (options.UseMemoryMapping && dataLength > 0)
            {
                file.TryMap();
            }

            return file;
        }
        catch
        {
            if (file is not null)
            {
                file.Dispose();
            }
            else
            {
                handle.Dispose();
            }

            throw;
        }
    }

    /// <inheritdoc/>
    public bool Contains(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _entries.ContainsKey(key);
    }

    /// <inheritdoc/>
    public TensorInfo GetInfo(string key) => Find(key).Info;

    /// <summary>
    /// Reads one tensor into a new CPU tensor of its stored dtype, then converts and moves it if asked. The result is a
    /// copy owned by the caller (it joins the current dispose scope, if any) and never aliases the file.
    /// </summary>
    /// <param name="key">The tensor name.</param>
    /// <param name="dtype">Convert to this type; null keeps the stored type.</param>
    /// <param name="device">Place on this device; null means CPU.</param>
    /// <returns>The tensor, of the stored shape (0-d and empty tensors included).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> is null.</exception>
    /// <exception cref="KeyNotFoundException">No tensor of that name; the message names the file and the key.</exception>
    /// <exception cref="WeightsFormatException">
    /// A BOOL tensor holds a byte other than 0 or 1, or the file was truncated after it was opened.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The file has been disposed.</exception>
    public Tensor ReadTensor(string key, ScalarType? dtype = null, Device? device = null)
    {
        SafetensorsEntry entry = Find(key);
        TensorInfo info = entry.Info;
        ScalarType stored = info.DType.ToScalarType();
        Tensor result = empty(info.ShapeArray(), stored, CPU);
        try
        {
            if (_view is not null)
            {
                CopyFromMapping(entry, result);
            }
            else
            {
                TensorBytes.ForEachBlock(result, _copyChunkBytes, (block, offset) =>
                {
                    ReadExactly(FilePath, info.Name, _handle, block, _dataStart + entry.Begin + offset);
                    CheckBool(entry, block, offset);
                });
            }

            bool sameType = dtype is null || dtype == stored;
            bool onCpu = device is null || device.type == TorchSharp.DeviceType.CPU;
            if (sameType && onCpu)
            {
                return result;
            }

            Tensor converted = result.to(dtype ?? stored, device ?? CPU);
            result.Dispose();
            return converted;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Releases the mapping and the file. Tensors already read stay valid.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _view?.Dispose();
        _map?.Dispose();
        _handle.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => $"safetensors {FilePath} ({Keys.Count} tensors, {DataLength} data bytes)";

    private SafetensorsEntry Find(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _entries.TryGetValue(key, out SafetensorsEntry? entry)
            ? entry
            : throw new KeyNotFoundException($"{FilePath}: no tensor named '{key}' (the file has {Keys.Count} tensors).");
    }

    private void TryMap()
    {
        try
        {
            _map = MemoryMappedFile.CreateFromFile(
                _handle, mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            _view = _map.CreateViewAccessor(_dataStart, DataLength, MemoryMappedFileAccess.Read);
        }
        catch (IOException)
        {
            // Some file systems cannot map files: positioned reads give the same bytes.
            _view?.Dispose();
            _map?.Dispose();
            _view = null;
            _map = null;
        }
    }

    private unsafe void CopyFromMapping(SafetensorsEntry entry, Tensor result)
    {
        SafeMemoryMappedViewHandle view = _view!.SafeMemoryMappedViewHandle;
        byte* basePointer = null;
        view.AcquirePointer(ref basePointer);
        try
        {
            nint data = (nint)(basePointer + _view.PointerOffset + entry.Begin);
            TensorBytes.ForEachBlock(result, _copyChunkBytes, (block, offset) =>
            {
                new ReadOnlySpan<byte>((byte*)(data + (nint)offset), block.Length).CopyTo(block);
                CheckBool(entry, block, offset);
            });
        }
        finally
        {
            view.ReleasePointer();
        }
    }

    private void CheckBool(SafetensorsEntry entry, ReadOnlySpan<byte> block, long offset)
    {
        if (entry.Info.DType != WeightDType.Bool)
        {
            return;
        }

        int bad = block.IndexOfAnyExcept((byte)0, (byte)1);
        if (bad >= 0)
        {
            throw SafetensorsHeader.Error(FilePath, entry.Info.Name,
                $"BOOL element {offset + bad} is stored as byte {block[bad]}; expected 0 or 1.");
        }
    }

    private static void ReadExactly(string filePath, string? entry, SafeFileHandle handle, Span<byte> buffer, long fileOffset)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer[done..], fileOffset + done);
            if (n == 0)
            {
                throw SafetensorsHeader.Error(filePath, entry,
                    $"the file ended at byte {fileOffset + done}; expected {buffer.Length - done} more bytes (was it truncated while open?).");
            }

            done += n;
        }
    }
}
