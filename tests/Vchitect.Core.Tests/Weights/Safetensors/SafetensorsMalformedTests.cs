using System.Text;
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;

namespace Vchitect.Core.Tests.Weights.Safetensors;

/// <summary>Every malformed file is refused at Open (or, for BOOL bytes, at ReadTensor) with a message that says what is wrong.</summary>
public sealed class SafetensorsMalformedTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private const string AnyTensor = "<any>";

    private static string Tensor(string name, string dtype, string shape, long begin, long end) =>
        $$"""
        "{{name}}":{"dtype":"{{dtype}}","shape":{{shape}},"data_offsets":[{{begin}},{{end}}]}
        """;

    /// <summary>
    /// Writes the bytes, opens them and reads every tensor, expects the exception and checks its message names the file,
    /// the tensor (<see cref="AnyTensor"/>: not checked) and each fragment.
    /// </summary>
    private WeightsFormatException Rejected(byte[] bytes, string? tensor, params string[] fragments)
    {
        string path = _temp.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<WeightsFormatException>(() =>
        {
            using var file = SafetensorsFile.Open(path);
            foreach (string key in file.Keys)
            {
                using var t = file.ReadTensor(key);
            }
        });
        Assert.Equal(path, ex.FilePath);
        Assert.StartsWith(path, ex.Message);
        if (tensor != AnyTensor)
        {
            Assert.Equal(tensor, ex.Entry);
        }

        if (tensor is not null && tensor != AnyTensor)
        {
            Assert.Contains($"tensor '{tensor}'", ex.Message);
        }

        foreach (string fragment in fragments)
        {
            Assert.Contains(fragment, ex.Message);
        }

        return ex;
    }

    private WeightsFormatException Rejected(string header, byte[] data, string? tensor, params string[] fragments) =>
        Rejected(RawSafetensors.Build(header, data), tensor, fragments);

    public static TheoryData<int> CutPoints => new() { 0, 1, 7, 8, 9, 100, 871, 872, 873, 1500, 2106 };

    [Theory]
    [MemberData(nameof(CutPoints))]
    public void Truncated_file_is_rejected_naming_the_file(int length)
    {
        // The fixture: 8-byte prefix, 864-byte header, 1235 data bytes (2107 in all).
        byte[] whole = File.ReadAllBytes(Fixtures.Path("checkpoints/state_dict.safetensors"));
        Assert.Equal(2107, whole.Length);
        var ex = Rejected(whole[..length], length < 872 ? null : AnyTensor);
        Assert.Matches(length switch
        {
            < 8 => $"file is {length} bytes long; expected at least 8",
            < 872 => $"header length prefix is 864 bytes but only {length - 8} bytes follow",
            _ => "data region",
        }, ex.Message);
    }

    [Fact]
    public void Data_truncated_inside_the_last_tensor_is_rejected_naming_that_tensor()
    {
        byte[] whole = File.ReadAllBytes(Fixtures.Path("checkpoints/state_dict.safetensors"));
        Rejected(whole[..^1], "scalar_f32", "[1231, 1235]", "data region (1234 bytes)");
    }

    [Theory]
    [InlineData(9223372036854775808UL)]
    [InlineData(ulong.MaxValue)]
    [InlineData(104857601UL)]
    public void Huge_header_length_is_rejected_without_allocating(ulong declared)
    {
        var ex = Rejected(RawSafetensors.Build(declared, "{}"u8.ToArray()), null, $"header length prefix is {declared} bytes", "at most 104857600");
        Assert.Contains("MaxHeaderBytes", ex.Message);
    }

    [Fact]
    public void Header_longer_than_the_configured_limit_is_rejected()
    {
        string path = _temp.File("t.safetensors");
        File.WriteAllBytes(path, RawSafetensors.Build("{\"__metadata__\":{\"k\":\"a long enough value\"}}"));
        var ex = Assert.Throws<WeightsFormatException>(() => SafetensorsFile.Open(path, new SafetensorsReadOptions { MaxHeaderBytes = 16 }));
        Assert.Contains("expected at most 16", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SafetensorsFile.Open(path, new SafetensorsReadOptions { MaxHeaderBytes = 0 }));
    }

    [Fact]
    public void Header_length_past_the_end_of_the_file_is_rejected()
    {
        Rejected(RawSafetensors.Build(1000, "{}"u8.ToArray()), null, "header length prefix is 1000 bytes but only 2 bytes follow");
    }

    [Theory]
    [InlineData("{\"a\":", "not valid JSON")]
    [InlineData("{'a':1}", "not valid JSON")]
    [InlineData("{} x", "not valid JSON")]
    [InlineData("{},", "not valid JSON")]
    [InlineData("{\"__metadata__\":{},}", "not valid JSON")]
    [InlineData("{/* c */}", "not valid JSON")]
    [InlineData("", "not valid JSON")]
    [InlineData("[]", "must be a JSON object; got a JSON array")]
    [InlineData("\"text\"", "must be a JSON object; got a JSON string")]
    [InlineData("null", "must be a JSON object; got a JSON null")]
    [InlineData("{\"a\":[[[[[[[[[[1]]]]]]]]]]}", "not valid JSON")]
    [InlineData("\uFEFF{}", "byte-order mark")]
    public void Header_that_is_not_a_json_object_is_rejected(string header, string fragment)
    {
        Rejected(header, [], null, fragment);
    }

    [Fact]
    public void Header_that_is_not_utf8_is_rejected()
    {
        Rejected(RawSafetensors.Build(new byte[] { (byte)'{', (byte)'"', 0xFF, (byte)'"', (byte)':', (byte)'1', (byte)'}' }), null, "not valid UTF-8");
    }

    [Theory]
    [InlineData("{}        ")]
    [InlineData("{} \n\t\r ")]
    [InlineData(" {\"__metadata__\":null} ")]
    public void Json_whitespace_padding_and_null_metadata_are_accepted(string header)
    {
        string path = _temp.File("t.safetensors");
        File.WriteAllBytes(path, RawSafetensors.Build(header));
        using var file = SafetensorsFile.Open(path);
        Assert.Empty(file.Keys);
        Assert.Empty(file.Metadata);
    }

    [Theory]
    [InlineData("F8_E4M3")]
    [InlineData("f32")]
    [InlineData("C64")]
    public void Unknown_dtype_is_rejected_naming_tensor_and_dtype(string dtype)
    {
        Rejected("{" + Tensor("w", dtype, "[1]", 0, 4) + "}", new byte[4], "w", $"dtype '{dtype}' is not supported", "BF16");
    }

    [Theory]
    [InlineData("[-1]", "shape[0] is -1; expected a non-negative integer")]
    [InlineData("[2, 1.5]", "shape[1] is 1.5")]
    [InlineData("[1e3]", "shape[0] is 1e3")]
    [InlineData("[\"2\"]", "shape[0] is \"2\"")]
    [InlineData("[18446744073709551616]", "no larger than 9223372036854775807")]
    [InlineData("2", "shape is a JSON number (2); expected an array")]
    [InlineData("[4294967296, 4294967296]", "has more than 9223372036854775807 elements")]
    [InlineData("[4611686018427387904]", "needs more than 9223372036854775807 bytes")]
    public void Bad_shape_is_rejected_naming_the_tensor(string shape, string fragment)
    {
        Rejected("{" + Tensor("w", "F32", shape, 0, 4) + "}", new byte[4], "w", fragment);
    }

    [Fact]
    public void Byte_length_that_does_not_match_dtype_and_shape_is_rejected()
    {
        Rejected("{" + Tensor("w", "F32", "[2, 2]", 0, 12) + "}", new byte[12], "w",
            "data_offsets [0, 12] hold 12 bytes but F32 [2, 2] needs 16 (4 elements of 4 bytes)");
    }

    [Fact]
    public void Overlapping_offsets_are_rejected_naming_both_tensors()
    {
        Rejected("{" + Tensor("a", "F32", "[2]", 0, 8) + "," + Tensor("b", "F32", "[2]", 4, 12) + "}", new byte[12], "b",
            "[4, 12] overlap tensor 'a' at [0, 8]", "expected this tensor to begin at 8");
    }

    [Fact]
    public void A_gap_between_tensors_is_rejected()
    {
        Rejected("{" + Tensor("a", "F32", "[2]", 0, 8) + "," + Tensor("b", "F32", "[2]", 12, 20) + "}", new byte[20], "b",
            "gap of 4 bytes after tensor 'a' (ends at 8)");
    }

    [Fact]
    public void A_first_tensor_that_does_not_start_at_zero_is_rejected()
    {
        Rejected("{" + Tensor("a", "F32", "[2]", 4, 12) + "}", new byte[12], "a", "gap of 4 bytes after the start of the data region");
    }

    [Fact]
    public void Offsets_past_the_end_of_the_data_are_rejected()
    {
        Rejected("{" + Tensor("a", "F32", "[2]", 0, 8) + "}", new byte[4], "a", "[0, 8] run past the end of the data region (4 bytes)");
    }

    [Fact]
    public void Bytes_after_the_last_tensor_are_rejected()
    {
        Rejected("{" + Tensor("a", "F32", "[2]", 0, 8) + "}", new byte[12], null, "cover 8 bytes of the data region but it is 12 bytes long");
    }

    [Fact]
    public void Begin_after_end_is_rejected()
    {
        Rejected("{" + Tensor("a", "F32", "[2]", 8, 0) + "}", new byte[8], "a", "data_offsets [8, 0] begin after they end");
    }

    [Theory]
    [InlineData("[0]", "data_offsets has 1 values")]
    [InlineData("[0, 4, 8]", "data_offsets has 3 values")]
    [InlineData("[-4, 4]", "data_offsets[0] is -4")]
    [InlineData("{\"begin\":0}", "data_offsets is a JSON object")]
    public void Malformed_data_offsets_are_rejected(string offsets, string fragment)
    {
        Rejected("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" + offsets + "}}", new byte[4], "w", fragment);
    }

    [Theory]
    [InlineData("{\"__metadata__\":{\"a\":1}}", "the value of 'a' is a JSON number (1); expected a string")]
    [InlineData("{\"__metadata__\":{\"a\":null}}", "the value of 'a' is a JSON null")]
    [InlineData("{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", "the value of 'a' is a JSON object")]
    [InlineData("{\"__metadata__\":[\"a\"]}", "expected a JSON object of string values; got a JSON array")]
    [InlineData("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", "the key 'a' appears more than once")]
    public void Bad_metadata_is_rejected(string header, string fragment)
    {
        Rejected(header, [], "__metadata__", fragment);
    }

    [Fact]
    public void Duplicate_tensor_name_is_rejected()
    {
        Rejected("{" + Tensor("w", "F32", "[1]", 0, 4) + "," + Tensor("w", "F32", "[1]", 4, 8) + "}", new byte[8], "w",
            "appears more than once");
    }

    [Theory]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1]}", "'data_offsets' is missing")]
    [InlineData("{\"shape\":[1],\"data_offsets\":[0,4]}", "'dtype' is missing")]
    [InlineData("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}", "'shape' is missing")]
    [InlineData("{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", "'dtype' appears more than once")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":0}", "unexpected field 'extra'")]
    [InlineData("{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}", "dtype is a JSON number (32)")]
    [InlineData("[\"F32\",[1],[0,4]]", "expected an object with dtype, shape and data_offsets; got a JSON array")]
    public void Malformed_tensor_entry_is_rejected(string entry, string fragment)
    {
        Rejected("{\"w\":" + entry + "}", new byte[4], "w", fragment);
    }

    [Fact]
    public void Empty_tensor_name_is_rejected()
    {
        Rejected("{" + Tensor("", "F32", "[1]", 0, 4) + "}", new byte[4], null, "empty name");
    }

    [Fact]
    public void Unpaired_surrogate_escape_in_a_name_is_rejected()
    {
        Rejected("{" + Tensor("\\ud800", "F32", "[1]", 0, 4) + "}", new byte[4], null, "not valid");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Bool_byte_other_than_0_or_1_is_rejected_naming_the_tensor(bool memoryMapped)
    {
        string path = _temp.File("t.safetensors");
        File.WriteAllBytes(path, RawSafetensors.Build("{" + Tensor("mask", "BOOL", "[4]", 0, 4) + "}", [1, 0, 2, 1]));
        using var file = SafetensorsFile.Open(path, new SafetensorsReadOptions { UseMemoryMapping = memoryMapped });
        var ex = Assert.Throws<WeightsFormatException>(() => file.ReadTensor("mask"));
        Assert.Equal("mask", ex.Entry);
        Assert.Contains("BOOL element 2 is stored as byte 2; expected 0 or 1", ex.Message);
    }

    [Fact]
    public void A_file_that_is_not_there_gives_FileNotFoundException()
    {
        Assert.Throws<FileNotFoundException>(() => SafetensorsFile.Open(_temp.File("missing.safetensors")));
    }

    [Fact]
    public void Long_tensor_names_are_shortened_in_messages()
    {
        string name = new('n', 5000);
        var ex = Rejected("{" + Tensor(name, "F32", "[2]", 0, 4) + "}", new byte[4], new string('n', 200) + "…", "hold 4 bytes");
        Assert.True(ex.Message.Length < 1000, $"message of {ex.Message.Length} characters");
    }
}
