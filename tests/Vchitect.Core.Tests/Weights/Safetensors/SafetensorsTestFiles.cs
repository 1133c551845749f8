using System.Buffers.Binary;
using System.Text;

namespace Vchitect.Core.Tests.Weights.Safetensors;

/// <summary>A fresh temporary folder, deleted with everything in it on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vchitect-safetensors-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string[] Entries() => Directory.GetFileSystemEntries(Path).Select(System.IO.Path.GetFileName).ToArray()!;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Builds safetensors bytes by hand (for malformed inputs the writer would never produce).</summary>
internal static class RawSafetensors
{
    /// <summary>8-byte little-endian length of the UTF-8 header, the header, then the data.</summary>
    public static byte[] Build(string headerJson, byte[]? data = null) => Build(Encoding.UTF8.GetBytes(headerJson), data);

    public static byte[] Build(byte[] header, byte[]? data = null) => Build((ulong)header.Length, header, data);

    /// <summary>A file whose length prefix says <paramref name="declaredLength"/>, whatever follows.</summary>
    public static byte[] Build(ulong declaredLength, byte[] header, byte[]? data = null)
    {
        data ??= [];
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    /// <summary>The header length prefix and the data region start of a well-formed file.</summary>
    public static (int HeaderLength, int DataStart) Layout(byte[] file)
    {
        int n = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));
        return (n, 8 + n);
    }

    /// <summary>The JSON header of a well-formed file.</summary>
    public static string Header(byte[] file)
    {
        var (n, _) = Layout(file);
        return Encoding.UTF8.GetString(file, 8, n);
    }
}

/// <summary>Exact tensor comparison: dtype, shape and every byte (so NaN payloads and -0 count).</summary>
internal static class SameTensor
{
    public static void Assert(TorchSharp.torch.Tensor expected, TorchSharp.torch.Tensor actual, string? what = null)
    {
        string name = what ?? "tensor";
        Xunit.Assert.True(expected.dtype == actual.dtype, $"{name}: dtype {actual.dtype}, expected {expected.dtype}");
        Xunit.Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{name}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
        if (expected.NumberOfElements == 0)
        {
            return;
        }

        using var e = expected.detach().cpu().contiguous();
        using var a = actual.detach().cpu().contiguous();
        Xunit.Assert.Equal(e.bytes.ToArray(), a.bytes.ToArray());
    }
}
