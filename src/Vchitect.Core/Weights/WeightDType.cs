using static TorchSharp.torch;

namespace Vchitect.Core.Weights;

/// <summary>The element types a weights file (safetensors or a PyTorch checkpoint) may store.</summary>
public enum WeightDType
{
    /// <summary>IEEE 754 double (8 bytes).</summary>
    F64,
    /// <summary>IEEE 754 single (4 bytes).</summary>
    F32,
    /// <summary>IEEE 754 half (2 bytes).</summary>
    F16,
    /// <summary>bfloat16 (2 bytes).</summary>
    BF16,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Boolean, one byte per element (0 or 1).</summary>
    Bool,
}

/// <summary>Conversions between <see cref="WeightDType"/>, safetensors dtype names and TorchSharp scalar types.</summary>
public static class WeightDTypes
{
    /// <summary>Size of one element in bytes.</summary>
    public static int ElementSize(this WeightDType dtype) => dtype switch
    {
        WeightDType.F64 or WeightDType.I64 => 8,
        WeightDType.F32 or WeightDType.I32 => 4,
        WeightDType.F16 or WeightDType.BF16 or WeightDType.I16 => 2,
        WeightDType.I8 or WeightDType.U8 or WeightDType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown weight dtype."),
    };

    /// <summary>The TorchSharp scalar type that holds this dtype without loss.</summary>
    public static ScalarType ToScalarType(this WeightDType dtype) => dtype switch
    {
        WeightDType.F64 => ScalarType.Float64,
        WeightDType.F32 => ScalarType.Float32,
        WeightDType.F16 => ScalarType.Float16,
        WeightDType.BF16 => ScalarType.BFloat16,
        WeightDType.I64 => ScalarType.Int64,
        WeightDType.I32 => ScalarType.Int32,
        WeightDType.I16 => ScalarType.Int16,
        WeightDType.I8 => ScalarType.Int8,
        WeightDType.U8 => ScalarType.Byte,
        WeightDType.Bool => ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown weight dtype."),
    };

    /// <summary>The weight dtype of a TorchSharp scalar type.</summary>
    /// <exception cref="NotSupportedException">The scalar type has no safetensors equivalent (complex types, for example).</exception>
    public static WeightDType FromScalarType(ScalarType type) => type switch
    {
        ScalarType.Float64 => WeightDType.F64,
        ScalarType.Float32 => WeightDType.F32,
        ScalarType.Float16 => WeightDType.F16,
        ScalarType.BFloat16 => WeightDType.BF16,
        ScalarType.Int64 => WeightDType.I64,
        ScalarType.Int32 => WeightDType.I32,
        ScalarType.Int16 => WeightDType.I16,
        ScalarType.Int8 => WeightDType.I8,
        ScalarType.Byte => WeightDType.U8,
        ScalarType.Bool => WeightDType.Bool,
        _ => throw new NotSupportedException($"Tensors of type {type} cannot be stored as weights (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)."),
    };

    /// <summary>The name safetensors uses for this dtype ("F32", "BF16", "BOOL", ...).</summary>
    public static string ToSafetensorsName(this WeightDType dtype) => dtype == WeightDType.Bool ? "BOOL" : dtype.ToString();

    /// <summary>Parses a safetensors dtype name (exact, upper case as the format defines it).</summary>
    public static bool TryParseSafetensorsName(string name, out WeightDType dtype)
    {
        switch (name)
        {
            case "F64": dtype = WeightDType.F64; return true;
            case "F32": dtype = WeightDType.F32; return true;
            case "F16": dtype = WeightDType.F16; return true;
            case "BF16": dtype = WeightDType.BF16; return true;
            case "I64": dtype = WeightDType.I64; return true;
            case "I32": dtype = WeightDType.I32; return true;
            case "I16": dtype = WeightDType.I16; return true;
            case "I8": dtype = WeightDType.I8; return true;
            case "U8": dtype = WeightDType.U8; return true;
            case "BOOL": dtype = WeightDType.Bool; return true;
            default: dtype = default; return false;
        }
    }
}
