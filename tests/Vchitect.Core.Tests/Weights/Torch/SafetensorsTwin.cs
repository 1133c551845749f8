using System.Buffers.Binary;
using System.Text.Json;
using Vchitect.Core.Weights;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Weights.Torch;

/// <summary>
/// A minimal test-only reader of the small state_dict.safetensors fixture (8-byte header length, JSON header,
/// raw little-endian data), used as the reference for the checkpoint reader until SafetensorsFile is on this branch.
/// </summary>
internal static class SafetensorsTwin
{
    public static Dictionary<string, Tensor> Read(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(file);
        int dataStart = checked(8 + (int)headerLength);
        using JsonDocument header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (JsonProperty p in header.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                continue;
            }

            if (!WeightDTypes.TryParseSafetensorsName(p.Value.GetProperty("dtype").GetString()!, out WeightDType dtype))
            {
                throw new InvalidDataException($"unknown dtype in {p.Name}");
            }

            long[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            int begin = p.Value.GetProperty("data_offsets")[0].GetInt32();
            int end = p.Value.GetProperty("data_offsets")[1].GetInt32();
            Tensor t = empty(shape, dtype.ToScalarType());
            file.AsSpan(dataStart + begin, end - begin).CopyTo(t.bytes);
            result.Add(p.Name, t);
        }

        return result;
    }
}
