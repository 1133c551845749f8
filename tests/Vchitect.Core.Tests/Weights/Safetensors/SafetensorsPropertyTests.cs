using System.Text;
using FsCheck.Xunit;
using Vchitect.Core.Weights;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Weights.Safetensors;

/// <summary>FsCheck properties: the writer and reader agree on any shape and dtype; arbitrary headers never escape as other exceptions.</summary>
public sealed class SafetensorsPropertyTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Property(MaxTest = 200)]
    public void Any_shape_of_any_dtype_round_trips(byte dtypeIndex, byte[] dims, bool memoryMapped)
    {
        ScalarType type = SafetensorsRoundTripTests.DTypes[dtypeIndex % SafetensorsRoundTripTests.DTypes.Length];
        long[] shape = (dims ?? []).Take(4).Select(d => (long)(d % 5)).ToArray();
        string path = _temp.File("p.safetensors");
        using var scope = NewDisposeScope();
        Tensor original = SafetensorsRoundTripTests.Sample(type, shape, salt: dtypeIndex);
        Tensor view = shape.Length >= 2 ? original.transpose(0, 1) : original;
        SafetensorsWriter.Write(path, [KeyValuePair.Create("first", view), KeyValuePair.Create("second", original)]);

        using var file = SafetensorsFile.Open(path, new SafetensorsReadOptions { UseMemoryMapping = memoryMapped, CopyChunkBytes = 16 });
        SameTensor.Assert(view, file.ReadTensor("first"), "first");
        SameTensor.Assert(original, file.ReadTensor("second"), "second");
    }

    [Property(MaxTest = 500)]
    public void Arbitrary_header_text_opens_or_throws_WeightsFormatException(string text, byte[] data)
    {
        string path = _temp.File("h.safetensors");
        File.WriteAllBytes(path, RawSafetensors.Build(Encoding.UTF8.GetBytes(text ?? ""), data));
        try
        {
            using var file = SafetensorsFile.Open(path);
            foreach (string key in file.Keys)
            {
                using var t = file.ReadTensor(key);
            }
        }
        catch (WeightsFormatException)
        {
        }
    }

    [Property(MaxTest = 500)]
    public void Arbitrary_tensor_entries_open_or_throw_WeightsFormatException(
        byte dtypeIndex, string otherDType, long[] shape, long begin, long end, byte[] data)
    {
        // Mostly real dtype names, so that shape, offsets and length checks are reached.
        string dtype = dtypeIndex < 230 ? ((WeightDType)(dtypeIndex % 10)).ToSafetensorsName() : otherDType?.Replace("\"", "", StringComparison.Ordinal) ?? "";
        string header = $"{{\"t\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(",", shape ?? [])}],\"data_offsets\":[{begin},{end}]}}}}";
        string path = _temp.File("e.safetensors");
        File.WriteAllBytes(path, RawSafetensors.Build(header, data));
        try
        {
            using var file = SafetensorsFile.Open(path);
            using var t = file.ReadTensor("t");
        }
        catch (WeightsFormatException)
        {
        }
    }
}
