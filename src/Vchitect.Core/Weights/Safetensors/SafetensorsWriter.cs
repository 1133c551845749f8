using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using static TorchSharp.torch;

namespace Vchitect.Core.Weights;

/// <summary>
/// Writes tensors to a safetensors file (https://github.com/huggingface/safetensors) that Python's <c>safetensors</c>
/// and <see cref="SafetensorsFile"/> read back exactly.
/// </summary>
public static class SafetensorsWriter
{
    private const int DefaultBlockBytes = 1 << 30;

    /// <summary>
    /// Writes the tensors, in the order given, to <paramref name="path"/>, replacing any file there. The file is first
    /// written to a temporary file in the same folder and then moved over the target, so a failure leaves neither a
    /// half-written target nor the temporary file.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="tensors">
    /// Names and tensors: any dtype of <see cref="WeightDType"/>, any device, contiguous or not (each is copied to
    /// contiguous CPU memory in turn, and the copy disposed). The tensors are not modified or disposed.
    /// </param>
    /// <param name="metadata">The <c>__metadata__</c> map of strings to store (for example <c>format → pt</c>); null stores none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tensors"/> or a tensor is null.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="path"/> is empty; a name is null, empty, <c>__metadata__</c>, not valid UTF-16 or given twice
    /// (the message names it); or a metadata key or value is null or not valid UTF-16.
    /// </exception>
    /// <exception cref="NotSupportedException">A tensor's dtype has no safetensors equivalent (complex, say) or it is sparse; the message names the tensor and dtype.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, tensors, metadata, DefaultBlockBytes);

    /// <summary>
    /// Writes a state dict to <paramref name="path"/>, in the dictionary's enumeration order; see
    /// <see cref="Write(string, IEnumerable{KeyValuePair{string, Tensor}}, IReadOnlyDictionary{string, string}?)"/>.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="tensors">Names and tensors (any supported dtype, any device, contiguous or not).</param>
    /// <param name="metadata">The <c>__metadata__</c> map of strings to store; null stores none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tensors"/> or a tensor is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty, or a name or metadata entry is invalid.</exception>
    /// <exception cref="NotSupportedException">A tensor's dtype has no safetensors equivalent; the message names the tensor and dtype.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, (IEnumerable<KeyValuePair<string, Tensor>>)tensors, metadata, DefaultBlockBytes);

    /// <summary>The writer, with the largest block copied at once as a parameter (tests lower it to exercise chunking).</summary>
    internal static void Write(
        string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata, int blockBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);

        // Everything is checked before the first byte is written.
        var items = new List<(string Name, Tensor Tensor, TensorInfo Info)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string name, Tensor tensor) in tensors)
        {
            CheckText(name, "A tensor name", nameof(tensors));
            if (name.Length == 0 || name == SafetensorsHeader.MetadataKey)
            {
                throw new ArgumentException($"A tensor cannot be named '{name}': names must be non-empty and not {SafetensorsHeader.MetadataKey}.", nameof(tensors));
            }

            if (!seen.Add(name))
            {
                throw new ArgumentException($"The tensor name '{name}' is given more than once; names must be unique.", nameof(tensors));
            }

            if (tensor is null)
            {
                throw new ArgumentNullException(nameof(tensors), $"The tensor '{name}' is null.");
            }

            items.Add((name, tensor, Describe(name, tensor)));
        }

        if (metadata is not null)
        {
            foreach ((string key, string value) in metadata)
            {
                CheckText(key, "A metadata key", nameof(metadata));
                CheckText(value, $"The metadata value of '{key}'", nameof(metadata));
            }
        }

        byte[] header = BuildHeader(items, metadata);

        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"'{path}' names no file.", nameof(path));
        string temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        bool moved = false;
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                Span<byte> prefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                stream.Write(prefix);
                stream.Write(header);
                foreach ((string name, Tensor tensor, TensorInfo info) in items)
                {
                    WriteData(stream, name, tensor, info, blockBytes);
                }

                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, fullPath, overwrite: true);
            moved = true;
        }
        finally
        {
            if (!moved)
            {
                TryDelete(temporary);
            }
        }
    }

    private static TensorInfo Describe(string name, Tensor tensor)
    {
        WeightDType dtype;
        try
        {
            dtype = WeightDTypes.FromScalarType(tensor.dtype);
        }
        catch (NotSupportedException ex)
        {
            throw new NotSupportedException(
                $"The tensor '{name}' has dtype {tensor.dtype}, which safetensors cannot store " +
                "(supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL).", ex);
        }

        if (tensor.is_sparse)
        {
            throw new NotSupportedException($"The tensor '{name}' is sparse; convert it with to_dense() before writing.");
        }

        return new TensorInfo(name, dtype, tensor.shape);
    }

    private static byte[] BuildHeader(List<(string Name, Tensor Tensor, TensorInfo Info)> items, IReadOnlyDictionary<string, string>? metadata)
    {
        var json = new ArrayBufferWriter<byte>();

        // The header is read by JSON parsers, never embedded in HTML: keep non-ASCII names as UTF-8 rather than \u escapes.
        using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            if (metadata is not null)
            {
                writer.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach ((string key, string value) in metadata)
                {
                    writer.WriteString(key, value);
                }

                writer.WriteEndObject();
            }

            long offset = 0;
            foreach ((string name, _, TensorInfo info) in items)
            {
                long end = checked(offset + info.ByteLength);
                writer.WriteStartObject(name);
                writer.WriteString("dtype", info.DType.ToSafetensorsName());
                writer.WriteStartArray("shape");
                foreach (long d in info.Shape)
                {
                    writer.WriteNumberValue(d);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(end);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset = end;
            }

            writer.WriteEndObject();
        }

        // Pad with spaces so the data region starts at a multiple of 8 bytes (the 8-byte prefix + a multiple of 8).
        int padded = checked((json.WrittenCount + 7) / 8 * 8);
        byte[] header = new byte[padded];
        json.WrittenSpan.CopyTo(header);
        header.AsSpan(json.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static void WriteData(FileStream stream, string name, Tensor tensor, TensorInfo info, int blockBytes)
    {
        if (info.ByteLength == 0)
        {
            return;
        }

        using var scope = NewDisposeScope();
        Tensor cpu = tensor.detach().cpu().contiguous();
        if (cpu.NumberOfElements * cpu.ElementSize != info.ByteLength)
        {
            throw new InvalidOperationException($"The tensor '{name}' changed size while it was being written.");
        }

        TensorBytes.ForEachBlock(cpu, blockBytes, (block, _) => stream.Write(block));
    }

    private static void CheckText(string? text, string what, string parameter)
    {
        if (text is null)
        {
            throw new ArgumentException($"{what} is null.", parameter);
        }

        // A lone surrogate cannot be encoded as UTF-8, and JSON readers such as the Rust safetensors crate reject its escape.
        if (!IsWellFormedUtf16(text))
        {
            throw new ArgumentException($"{what} ('{text}') is not valid UTF-16 text (it has an unpaired surrogate).", parameter);
        }
    }

    private static bool IsWellFormedUtf16(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Leave it: the original error matters more than a stray temporary file.
        }
        catch (UnauthorizedAccessException)
        {
            // Likewise.
        }
    }
}
