using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Core.Weights;

/// <summary>
/// Reads a PyTorch checkpoint written by <c>torch.save</c> (<c>.pt</c>, <c>.pth</c>, <c>.bin</c>, <c>.ckpt</c>) safely:
/// its pickle is read by a restricted, data-only unpickler that never executes anything, and tensors are read lazily,
/// one at a time, straight from the file.
/// </summary>
/// <remarks>
/// <para>Both formats are read: the zip archive of PyTorch 1.6 and later (<c>&lt;archive&gt;/data.pkl</c> plus one entry
/// per storage, zip64 included, never extracted to disk) and the legacy pre-1.6 stream of pickles followed by raw storages.</para>
/// <para>The pickle may only name plain containers and scalars, <c>collections.OrderedDict</c>, the
/// <c>torch._utils._rebuild_tensor*</c>/<c>_rebuild_parameter*</c> and <c>torch._tensor._rebuild_from_type_v2</c>
/// functions, the <c>torch.*Storage</c> types, <c>torch.Size</c> and <c>torch.device</c>. Any other global
/// (<c>os.system</c>, <c>builtins.eval</c>, a numpy or argparse type...) makes <see cref="Open(string, TorchCheckpointOptions?)"/> throw a
/// <see cref="WeightsFormatException"/> that names it; "calling" an allowed global only builds a description.</para>
/// <para>Not thread-safe. Dispose to close the file.</para>
/// </remarks>
public sealed class TorchCheckpoint : IWeightSource
{
    /// <summary>The magic number that starts a legacy torch.save file (<c>torch.serialization.MAGIC_NUMBER</c>).</summary>
    private static readonly BigInteger LegacyMagic = BigInteger.Parse("119547037146038801333356", System.Globalization.CultureInfo.InvariantCulture);

    private readonly Stream _stream;
    private readonly ZipArchive? _zip;
    private readonly string? _prefix;
    private readonly Dictionary<string, long>? _legacyDataOffsets;
    private readonly Dictionary<string, TensorReference> _tensors = new(StringComparer.Ordinal);
    private readonly List<string> _keys = [];
    private bool _disposed;

    private TorchCheckpoint(Stream stream, string description)
    {
        _stream = stream;
        Description = description;
        try
        {
            if (!stream.CanSeek)
            {
                throw new WeightsFormatException(description, null, "the checkpoint stream must be seekable");
            }

            Span<byte> head = stackalloc byte[4];
            int n = stream.ReadAtLeast(head, 4, throwOnEndOfStream: false);
            stream.Position = 0;
            if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] is 3 or 5 or 7 && head[3] is 4 or 6 or 8)
            {
                IsLegacyFormat = false;
                (_zip, _prefix, Root) = OpenZip(stream, description);
            }
            else if (n >= 1 && head[0] == 0x80)
            {
                IsLegacyFormat = true;
                (_legacyDataOffsets, Root) = OpenLegacy(stream, description);
            }
            else if (IsTar(stream))
            {
                throw new WeightsFormatException(description, null,
                    "this is a tar archive (the torch.save format of PyTorch before 0.4); it is not supported: " +
                    "load it with an old PyTorch and save it again");
            }
            else
            {
                throw new WeightsFormatException(description, null,
                    "not a PyTorch checkpoint: it is neither a zip archive (torch.save, PyTorch 1.6 and later) nor a legacy torch.save pickle stream");
            }
        }
        catch
        {
            _zip?.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public string Description { get; }

    /// <summary>Whether the file uses the legacy (pre-1.6, non-zip) torch.save format.</summary>
    public bool IsLegacyFormat { get; }

    /// <summary>
    /// The whole unpickled object, as plain .NET values: dicts (and OrderedDicts) as
    /// <see cref="IReadOnlyDictionary{TKey, TValue}"/> of <see cref="object"/> to <see cref="object"/> in insertion order;
    /// lists, tuples and sets as <see cref="IReadOnlyList{T}"/> of <see cref="object"/>; <see cref="string"/>;
    /// integers as <see cref="long"/> (<see cref="BigInteger"/> beyond 64 bits); <see cref="double"/>; <see cref="bool"/>;
    /// null for None; <see cref="byte"/>[] for bytes; tensors as <see cref="TensorReference"/> and bare storages as
    /// <see cref="StorageReference"/>. Nothing in it holds tensor data. The same object may appear more than once
    /// (pickle shares it), and the graph may even contain cycles.
    /// </summary>
    public object? Root { get; }

    /// <inheritdoc/>
    /// <remarks>The keys of the state dict, in the order the checkpoint stores them.</remarks>
    public IReadOnlyList<string> Keys => _keys;

    /// <summary>
    /// Opens a checkpoint, reads its pickle with the restricted unpickler and finds its state dict (a dict of tensors,
    /// possibly unwrapped, see <see cref="TorchCheckpointOptions"/>). Tensor data is not read until
    /// <see cref="ReadTensor"/>.
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="options">How to find the state dict; null means <see cref="TorchCheckpointOptions"/>' defaults (no unwrapping).</param>
    /// <returns>The open checkpoint, which the caller disposes.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="WeightsFormatException">The file is malformed, unsafe (a forbidden global, an archive entry
    /// outside the archive), unsupported (TorchScript, big-endian), or holds no dict of tensors where expected; the
    /// message names the file and what is wrong.</exception>
    public static TorchCheckpoint Open(string path, TorchCheckpointOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        try
        {
            return Open(stream, path, options);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads only the object a checkpoint holds (see <see cref="Root"/>), without looking for a state dict:
    /// for training checkpoints' plain values such as <c>epoch</c>, <c>step</c> or <c>lr</c>.
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <returns>The unpickled object; tensors in it are <see cref="TensorReference"/> descriptions.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="WeightsFormatException">The file is malformed, unsafe or unsupported.</exception>
    public static object? ReadObject(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        using var checkpoint = new TorchCheckpoint(stream, path);
        return checkpoint.Root;
    }

    /// <summary>Opens a checkpoint held in a seekable stream, which the checkpoint then owns.</summary>
    internal static TorchCheckpoint Open(Stream stream, string description, TorchCheckpointOptions? options)
    {
        var checkpoint = new TorchCheckpoint(stream, description);
        try
        {
            checkpoint.FindStateDict(options ?? new TorchCheckpointOptions());
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public bool Contains(string key) => _tensors.ContainsKey(key);

    /// <inheritdoc/>
    public TensorInfo GetInfo(string key) => GetReference(key).ToInfo(key);

    /// <summary>The description of a tensor (storage, offset, shape, stride) without reading its data.</summary>
    /// <param name="key">The tensor name.</param>
    /// <exception cref="KeyNotFoundException">No tensor of that name; the message names the file and the key.</exception>
    public TensorReference GetReference(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _tensors.TryGetValue(key, out TensorReference? t)
            ? t
            : throw new KeyNotFoundException($"{Description}: no tensor '{key}' (the checkpoint has {_keys.Count} tensors).");
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Reads only the bytes of the storage that the tensor's view reaches, straight into a new tensor, applies the
    /// view (offset, shape, stride) and returns a contiguous tensor that owns its memory: tensors that share one
    /// storage in the file never share memory once read. Nothing is cached.
    /// </remarks>
    public Tensor ReadTensor(string key, ScalarType? dtype = null, Device? device = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        TensorReference t = GetReference(key);
        Tensor result = Materialize(key, t);
        if ((dtype is null || dtype == result.dtype) && (device is null || device.type == DeviceType.CPU))
        {
            return result;
        }

        using (result)
        {
            return result.to(dtype ?? result.dtype, device ?? CPU);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _zip?.Dispose();
        _stream.Dispose();
    }

    /// <summary>Whether an archive entry name would leave the archive's folder (absolute, a drive, '..', backslashes).</summary>
    internal static bool IsUnsafeEntryName(string name) =>
        name.Length == 0
        || name[0] == '/'
        || name.Contains('\\', StringComparison.Ordinal)
        || name.Contains('\0', StringComparison.Ordinal)
        || (name.Length >= 2 && name[1] == ':')
        || name.Split('/').Any(segment => segment == "..");

    private static (ZipArchive Zip, string Prefix, object? Root) OpenZip(Stream stream, string file)
    {
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new WeightsFormatException(file, null, $"the zip archive is corrupt: {e.Message}", e);
        }

        try
        {
            return ReadZip(zip, file);
        }
        catch (InvalidDataException e)
        {
            zip.Dispose();
            throw new WeightsFormatException(file, null, $"the zip archive is corrupt: {e.Message}", e);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    private static (ZipArchive Zip, string Prefix, object? Root) ReadZip(ZipArchive zip, string file)
    {
        var dataPickles = new List<string>();
        foreach (ZipArchiveEntry entry in zip.Entries)
        {
            if (IsUnsafeEntryName(entry.FullName))
            {
                throw new WeightsFormatException(file, null,
                    $"archive entry '{PickleCalls.Escape(entry.FullName)}' points outside the archive (absolute path, '..' or backslash); " +
                    "refusing the file (zip slip)");
            }

            string[] parts = entry.FullName.Split('/');
            if (parts.Length == 2 && parts[1] == "data.pkl")
            {
                dataPickles.Add(parts[0]);
            }
        }

        if (dataPickles.Count != 1)
        {
            throw new WeightsFormatException(file, null, dataPickles.Count == 0
                ? "this zip archive has no '<archive>/data.pkl': it is not a torch.save checkpoint"
                : $"this zip archive has {dataPickles.Count} '<archive>/data.pkl' entries ({string.Join(", ", dataPickles)}); torch.save writes one");
        }

        string prefix = dataPickles[0];
        if (zip.GetEntry($"{prefix}/constants.pkl") is not null
            || zip.Entries.Any(e => e.FullName.StartsWith($"{prefix}/code/", StringComparison.Ordinal)))
        {
            throw new WeightsFormatException(file, null,
                "this is a TorchScript archive (torch.jit.save), which holds code; it is not supported. " +
                "In Python, load it with torch.jit.load and torch.save(model.state_dict(), path)");
        }

        if (zip.GetEntry($"{prefix}/byteorder") is { } byteOrder)
        {
            string order = Encoding.ASCII.GetString(ReadEntry(byteOrder, 16, file)).Trim();
            if (order != "little")
            {
                throw new WeightsFormatException(file, null,
                    $"'{prefix}/byteorder' says byte order '{PickleCalls.Escape(order)}', which is not supported (only 'little')");
            }
        }

        ZipArchiveEntry pickle = zip.GetEntry($"{prefix}/data.pkl")!;
        byte[] bytes = ReadEntry(pickle, Array.MaxLength, file);
        object? root = RestrictedUnpickler.Load(bytes, file, $"{prefix}/data.pkl");
        return (zip, prefix, root);
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, int maxLength, string file)
    {
        if (entry.Length > maxLength)
        {
            throw new WeightsFormatException(file, null, $"archive entry '{entry.FullName}' is {entry.Length} bytes, more than the {maxLength} allowed");
        }

        // Check the declared size against what the file can hold before allocating for it (deflate expands at most ~1032x).
        if (entry.CompressedLength < 0 || entry.Length < 0 || entry.Length > checked((entry.CompressedLength * 1032) + 1024))
        {
            throw new WeightsFormatException(file, null,
                $"archive entry '{entry.FullName}' declares {entry.Length} bytes from {entry.CompressedLength} stored bytes, which is impossible");
        }

        try
        {
            var bytes = new byte[entry.Length];
            using Stream s = entry.Open();
            s.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or (IOException and not WeightsFormatException))
        {
            throw new WeightsFormatException(file, null, $"archive entry '{entry.FullName}' cannot be read: {e.Message}", e);
        }
    }

    private static (Dictionary<string, long> DataOffsets, object? Root) OpenLegacy(Stream stream, string file)
    {
        long end = stream.Length;
        object? magic = new RestrictedUnpickler(stream, end, file, "legacy header (magic number)").Load();
        if (magic is not BigInteger m || m != LegacyMagic)
        {
            throw new WeightsFormatException(file, null,
                "a pickle that is not a torch.save file (no torch magic number); plain pickles are not read");
        }

        object? protocol = new RestrictedUnpickler(stream, end, file, "legacy header (protocol version)").Load();
        if (protocol is not 1001L)
        {
            throw new WeightsFormatException(file, null, $"legacy torch.save protocol version {PickleCalls.Describe(protocol)} is not supported (only 1001)");
        }

        object? sysInfo = new RestrictedUnpickler(stream, end, file, "legacy header (sys_info)").Load();
        if (sysInfo is PickleDict info && info.TryGetValue("little_endian", out object? little) && little is false)
        {
            throw new WeightsFormatException(file, null, "the checkpoint was saved on a big-endian machine; only little-endian is supported");
        }

        var objectReader = new RestrictedUnpickler(stream, end, file, "legacy object pickle");
        object? root = objectReader.Load();
        object? keys = new RestrictedUnpickler(stream, end, file, "legacy storage key list").Load();
        if (keys is not PickleList { IsSet: false } keyList)
        {
            throw new WeightsFormatException(file, null, $"the legacy storage key list is {PickleCalls.Describe(keys)}, not a list");
        }

        var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
        Span<byte> countBytes = stackalloc byte[8];
        foreach (object? k in keyList)
        {
            if (k is not string key || !objectReader.Storages.TryGetValue(key, out StorageReference? storage))
            {
                throw new WeightsFormatException(file, null, $"the legacy storage key list names {PickleCalls.Describe(k)}, which no tensor uses");
            }

            if (offsets.ContainsKey(key) || end - stream.Position < 8)
            {
                throw new WeightsFormatException(file, key, offsets.ContainsKey(key) ? "storage listed twice" : "the file ends before the storage's data");
            }

            stream.ReadExactly(countBytes);
            long count = BinaryPrimitives.ReadInt64LittleEndian(countBytes);
            long rootCount = storage.RootElementCount;
            if (count != rootCount)
            {
                throw new WeightsFormatException(file, null, $"storage '{key}' holds {count} elements in the file, but the pickle says {rootCount}");
            }

            long bytes = checked(count * storage.DType.ElementSize());
            if (bytes > end - stream.Position)
            {
                throw new WeightsFormatException(file, null, $"storage '{key}' needs {bytes} bytes, but only {end - stream.Position} are left in the file");
            }

            offsets.Add(key, stream.Position);
            stream.Seek(bytes, SeekOrigin.Current);
        }

        return (offsets, root);
    }

    private static bool IsTar(Stream stream)
    {
        if (stream.Length < 262)
        {
            return false;
        }

        Span<byte> magic = stackalloc byte[5];
        stream.Position = 257;
        stream.ReadExactly(magic);
        stream.Position = 0;
        return magic.SequenceEqual("ustar"u8);
    }

    private void FindStateDict(TorchCheckpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(options.Unwrap, nameof(options.Unwrap));
        if (Root is not PickleDict root)
        {
            throw new WeightsFormatException(Description, null,
                $"the checkpoint holds {PickleCalls.Describe(Root)}, not a dict of tensors (a state dict)");
        }

        PickleDict stateDict = root;
        foreach (string key in options.Unwrap)
        {
            if (root.TryGetValue(key, out object? inner) && inner is PickleDict candidate && IsTensorDict(candidate, options.FlattenNestedDicts))
            {
                stateDict = candidate;
                break;
            }
        }

        var problems = new List<string>();
        AddTensors(stateDict, string.Empty, options.FlattenNestedDicts, problems);
        if (problems.Count > 0)
        {
            string keys = string.Join(", ", root.Keys.Select(PickleCalls.Describe));
            string hint = options.Unwrap.Count == 0
                ? $"if the state dict is one of its values, set TorchCheckpointOptions.Unwrap (e.g. to DefaultWrapperKeys: {string.Join(", ", TorchCheckpointOptions.DefaultWrapperKeys)})"
                : $"none of the Unwrap keys ({string.Join(", ", options.Unwrap)}) holds a dict of tensors";
            throw new WeightsFormatException(Description, null,
                $"the checkpoint is not a plain state dict: {string.Join("; ", problems.Take(5))}{(problems.Count > 5 ? $"; and {problems.Count - 5} more" : string.Empty)}. " +
                $"Its top-level keys are: {keys}. {char.ToUpperInvariant(hint[0])}{hint[1..]}. TorchCheckpoint.ReadObject reads the plain values.");
        }

        foreach (string key in _keys)
        {
            CheckStorage(key, _tensors[key]);
        }
    }

    private static bool IsTensorDict(PickleDict dict, bool flatten)
    {
        var problems = new List<string>();
        var probe = new List<KeyValuePair<string, TensorReference>>();
        Walk(dict, string.Empty, flatten, probe, problems);
        return problems.Count == 0;
    }

    private void AddTensors(PickleDict dict, string prefix, bool flatten, List<string> problems)
    {
        var found = new List<KeyValuePair<string, TensorReference>>();
        Walk(dict, prefix, flatten, found, problems);
        foreach ((string key, TensorReference t) in found)
        {
            if (!_tensors.TryAdd(key, t))
            {
                problems.Add($"key '{key}' appears twice after flattening");
                continue;
            }

            _keys.Add(key);
        }
    }

    /// <summary>Collects string-keyed tensors, iteratively (no recursion), flattening nested dicts when asked.</summary>
    private static void Walk(PickleDict root, string rootPrefix, bool flatten, List<KeyValuePair<string, TensorReference>> found, List<string> problems)
    {
        var pending = new Stack<(string Prefix, PickleDict Dict)>();
        var visited = new HashSet<PickleDict>(ReferenceEqualityComparer.Instance);
        pending.Push((rootPrefix, root));
        visited.Add(root);
        while (pending.Count > 0)
        {
            (string prefix, PickleDict dict) = pending.Pop();
            var nested = new List<(string, PickleDict)>();
            foreach ((object k, object? v) in dict)
            {
                if (k is not string key)
                {
                    problems.Add($"key {PickleCalls.Describe(k)} is not a string");
                    continue;
                }

                string name = prefix + key;
                if (v is TensorReference t)
                {
                    found.Add(new(name, t));
                }
                else if (flatten && v is PickleDict inner)
                {
                    if (!visited.Add(inner))
                    {
                        problems.Add($"'{name}' is a dict already met elsewhere in the checkpoint (shared or recursive), which is not flattened");
                        continue;
                    }

                    nested.Add((name + ".", inner));
                }
                else
                {
                    problems.Add($"'{name}' is {PickleCalls.Describe(v)}, not a tensor");
                }
            }

            // Keep the stored order: the first nested dict is processed next.
            for (int i = nested.Count - 1; i >= 0; i--)
            {
                pending.Push(nested[i]);
            }
        }
    }

    /// <summary>Checks, before any data is read, that a tensor's storage exists in the file with the right length.</summary>
    private void CheckStorage(string key, TensorReference t)
    {
        StorageReference s = t.Storage;
        if (_zip is not null)
        {
            ZipArchiveEntry entry = _zip.GetEntry($"{_prefix}/data/{s.Key}")
                ?? throw new WeightsFormatException(Description, key, $"its storage entry '{_prefix}/data/{s.Key}' is missing from the archive");
            if (entry.Length != s.ByteLength)
            {
                throw new WeightsFormatException(Description, key,
                    $"storage entry '{entry.FullName}' is {entry.Length} bytes, expected {s.ElementCount} {s.DType.ToSafetensorsName()} elements = {s.ByteLength} bytes");
            }
        }
        else if (!_legacyDataOffsets!.ContainsKey(s.Key))
        {
            throw new WeightsFormatException(Description, key, $"its storage '{s.Key}' is not in the file's storage list");
        }
    }

    private Tensor Materialize(string key, TensorReference t)
    {
        CheckStorage(key, t);
        ScalarType type = t.DType.ToScalarType();
        long[] shape = [.. t.Shape];
        long[] stride = [.. t.Stride];
        if (t.ElementCount == 0)
        {
            return empty(shape, type);
        }

        // The span of storage elements the view reaches: [offset, last].
        long last = t.StorageOffset;
        for (int i = 0; i < shape.Length; i++)
        {
            last += (shape[i] - 1) * stride[i];
        }

        long count = last - t.StorageOffset + 1;
        int elementSize = t.DType.ElementSize();
        long byteStart = checked((t.Storage.RootElementOffset + t.StorageOffset) * elementSize);
        Tensor buffer = empty([count], type);
        try
        {
            FillFromStorage(key, t.Storage, byteStart, buffer, count * elementSize);
            using Tensor view = buffer.as_strided(shape, stride, 0);
            Tensor result = view.contiguous();
            if (!result.is_contiguous() || result.storage_offset() != 0)
            {
                using (result)
                {
                    return result.clone();
                }
            }

            return result;
        }
        finally
        {
            buffer.Dispose();
        }
    }

    private void FillFromStorage(string key, StorageReference storage, long byteStart, Tensor buffer, long byteCount)
    {
        const long Chunk = 1L << 30;
        int elementSize = storage.DType.ElementSize();
        try
        {
            using Stream source = OpenStorage(key, storage, byteStart);
            for (long done = 0; done < byteCount; done += Chunk)
            {
                long bytes = Math.Min(Chunk, byteCount - done);
                using Tensor slice = buffer.narrow(0, done / elementSize, bytes / elementSize);
                source.ReadExactly(slice.bytes);
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or (IOException and not WeightsFormatException))
        {
            throw new WeightsFormatException(Description, key, $"its storage '{storage.Key}' cannot be read: {e.Message}", e);
        }
    }

    /// <summary>A stream positioned at <paramref name="byteStart"/> inside the storage's data.</summary>
    private Stream OpenStorage(string key, StorageReference storage, long byteStart)
    {
        if (_zip is null)
        {
            _stream.Position = _legacyDataOffsets![storage.Key] + byteStart;
            return new NonClosingStream(_stream);
        }

        ZipArchiveEntry entry = _zip.GetEntry($"{_prefix}/data/{storage.Key}")
            ?? throw new WeightsFormatException(Description, key, $"its storage entry '{_prefix}/data/{storage.Key}' is missing");
        Stream s = entry.Open();
        try
        {
            if (s.CanSeek)
            {
                s.Position = byteStart;
            }
            else
            {
                Skip(s, byteStart);
            }

            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    private static void Skip(Stream s, long bytes)
    {
        var scratch = new byte[(int)Math.Min(bytes, 1 << 16)];
        while (bytes > 0)
        {
            int n = s.Read(scratch, 0, (int)Math.Min(bytes, scratch.Length));
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            bytes -= n;
        }
    }

    /// <summary>Lends the checkpoint's own file stream to one read without closing it.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
