using System.Text;

namespace Vchitect.Core.Weights;

/// <summary>What an allowlisted global stands for. The unpickler never imports or runs anything: each kind is
/// a C# description builder.</summary>
internal enum PickleGlobalKind
{
    OrderedDict,
    RebuildTensorV2,
    RebuildTensor,
    RebuildParameter,
    RebuildParameterWithState,
    RebuildFromTypeV2,
    StorageType,
    Size,
    Device,
    TensorType,
    Set,
    FrozenSet,
    ByteArray,
    CodecsEncode,
}

/// <summary>A reference to an allowlisted Python global (a class or function), as GLOBAL/STACK_GLOBAL push it.</summary>
internal sealed class PickleGlobal
{
    private static readonly Dictionary<(string Module, string Name), PickleGlobal> Allowed = Build();

    private PickleGlobal(string module, string name, PickleGlobalKind kind, WeightDType storageDType = default)
    {
        Module = module;
        Name = name;
        Kind = kind;
        StorageDType = storageDType;
    }

    public string Module { get; }

    public string Name { get; }

    public PickleGlobalKind Kind { get; }

    /// <summary>For <see cref="PickleGlobalKind.StorageType"/>: the element type.</summary>
    public WeightDType StorageDType { get; }

    /// <summary>The allowlisted global of that name, or null when it is not allowed.</summary>
    public static PickleGlobal? Find(string module, string name) =>
        Allowed.TryGetValue((module, name), out PickleGlobal? g) ? g : null;

    /// <summary>Every allowlisted global as <c>module.name</c>, sorted (for documentation and messages).</summary>
    public static IEnumerable<string> AllowedNames => Allowed.Keys.Select(k => $"{k.Module}.{k.Name}").Order(StringComparer.Ordinal);

    public override string ToString() => $"{Module}.{Name}";

    private static Dictionary<(string, string), PickleGlobal> Build()
    {
        var d = new Dictionary<(string, string), PickleGlobal>();
        void Add(string module, string name, PickleGlobalKind kind, WeightDType dtype = default) =>
            d.Add((module, name), new PickleGlobal(module, name, kind, dtype));

        Add("collections", "OrderedDict", PickleGlobalKind.OrderedDict);
        Add("torch._utils", "_rebuild_tensor_v2", PickleGlobalKind.RebuildTensorV2);
        Add("torch._utils", "_rebuild_tensor", PickleGlobalKind.RebuildTensor);
        Add("torch._utils", "_rebuild_parameter", PickleGlobalKind.RebuildParameter);
        Add("torch._utils", "_rebuild_parameter_with_state", PickleGlobalKind.RebuildParameterWithState);
        Add("torch._tensor", "_rebuild_from_type_v2", PickleGlobalKind.RebuildFromTypeV2);
        Add("torch", "FloatStorage", PickleGlobalKind.StorageType, WeightDType.F32);
        Add("torch", "DoubleStorage", PickleGlobalKind.StorageType, WeightDType.F64);
        Add("torch", "HalfStorage", PickleGlobalKind.StorageType, WeightDType.F16);
        Add("torch", "BFloat16Storage", PickleGlobalKind.StorageType, WeightDType.BF16);
        Add("torch", "LongStorage", PickleGlobalKind.StorageType, WeightDType.I64);
        Add("torch", "IntStorage", PickleGlobalKind.StorageType, WeightDType.I32);
        Add("torch", "ShortStorage", PickleGlobalKind.StorageType, WeightDType.I16);
        Add("torch", "CharStorage", PickleGlobalKind.StorageType, WeightDType.I8);
        Add("torch", "ByteStorage", PickleGlobalKind.StorageType, WeightDType.U8);
        Add("torch", "BoolStorage", PickleGlobalKind.StorageType, WeightDType.Bool);
        Add("torch", "UntypedStorage", PickleGlobalKind.StorageType, WeightDType.U8);
        Add("torch.storage", "UntypedStorage", PickleGlobalKind.StorageType, WeightDType.U8);
        Add("torch", "Size", PickleGlobalKind.Size);
        Add("torch", "device", PickleGlobalKind.Device);
        Add("torch", "Tensor", PickleGlobalKind.TensorType);
        Add("torch._tensor", "Tensor", PickleGlobalKind.TensorType);
        Add("torch.nn.parameter", "Parameter", PickleGlobalKind.TensorType);

        // Plain containers that protocol 2 (torch.save's default) can only write through a constructor call.
        // They are built here in C#; nothing of Python's builtins is reachable.
        foreach (string builtins in new[] { "builtins", "__builtin__" })
        {
            Add(builtins, "set", PickleGlobalKind.Set);
            Add(builtins, "frozenset", PickleGlobalKind.FrozenSet);
            Add(builtins, "bytearray", PickleGlobalKind.ByteArray);
            Add(builtins, "bytes", PickleGlobalKind.ByteArray);
        }

        // Protocol 2 writes a bytes value b'...' as _codecs.encode('...', 'latin1').
        Add("_codecs", "encode", PickleGlobalKind.CodecsEncode);
        return d;
    }
}

/// <summary>Turns calls of allowlisted globals (REDUCE, NEWOBJ) into descriptions. Nothing is executed.</summary>
internal static class PickleCalls
{
    /// <summary>Most dimensions a tensor may have (PyTorch's own limit is 64).</summary>
    internal const int MaxDims = 64;

    /// <summary>Largest tensor, in bytes, that may be materialised from a smaller storage (a view with zero strides).</summary>
    internal const long MaxExpandedBytes = 256L << 20;

    /// <summary>Performs <c>callable(*args)</c> for an allowlisted callable; throws <see cref="PickleException"/> otherwise.</summary>
    public static object? Call(PickleGlobal g, PickleTuple args)
    {
        switch (g.Kind)
        {
            case PickleGlobalKind.OrderedDict:
                return NewDict(g, args);

            case PickleGlobalKind.RebuildTensorV2:
                // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None)
                ExpectArgs(g, args, 6, 7);
                return RebuildTensor(args[0], args[1], args[2], args[3], args[4]);

            case PickleGlobalKind.RebuildTensor:
                // _rebuild_tensor(storage, storage_offset, size, stride)
                ExpectArgs(g, args, 4, 4);
                return RebuildTensor(args[0], args[1], args[2], args[3], false);

            case PickleGlobalKind.RebuildParameter:
            case PickleGlobalKind.RebuildParameterWithState:
            {
                // _rebuild_parameter(data, requires_grad, backward_hooks[, state])
                int n = g.Kind == PickleGlobalKind.RebuildParameter ? 3 : 4;
                ExpectArgs(g, args, n, n);
                if (args[0] is not TensorReference t)
                {
                    throw new PickleException($"{g} expects a tensor, got {Describe(args[0])}");
                }

                return t with { RequiresGrad = AsBool(g, args[1]) };
            }

            case PickleGlobalKind.RebuildFromTypeV2:
            {
                // _rebuild_from_type_v2(func, new_type, args, state): func(*args), then the (tensor) type and state.
                ExpectArgs(g, args, 4, 4);
                if (args[0] is not PickleGlobal func || args[1] is not PickleGlobal { Kind: PickleGlobalKind.TensorType }
                    || args[2] is not PickleTuple innerArgs)
                {
                    throw new PickleException($"{g} expects (allowed function, tensor type, tuple, state), got " +
                        $"({Describe(args[0])}, {Describe(args[1])}, {Describe(args[2])}, ...)");
                }

                return Call(func, innerArgs);
            }

            case PickleGlobalKind.Size:
                ExpectArgs(g, args, 0, 1);
                return args.Count == 0 ? PickleTuple.Empty : new PickleTuple(LongItems(g, args[0]).Select(v => (object?)v).ToArray());

            case PickleGlobalKind.Device:
            {
                ExpectArgs(g, args, 1, 2);
                if (args[0] is not string type)
                {
                    throw new PickleException($"{g} expects a device string, got {Describe(args[0])}");
                }

                return args.Count == 2 && args[1] is long index ? $"{type}:{index}" : type;
            }

            case PickleGlobalKind.Set:
            case PickleGlobalKind.FrozenSet:
            {
                ExpectArgs(g, args, 0, 1);
                var set = new PickleList(isSet: true);
                if (args.Count == 1)
                {
                    foreach (object? item in Items(g, args[0]))
                    {
                        set.Add(item);
                        set.Include(item);
                    }
                }

                return set;
            }

            case PickleGlobalKind.ByteArray:
                ExpectArgs(g, args, 0, 1);
                return args.Count == 0 ? Array.Empty<byte>() : args[0] switch
                {
                    byte[] b => b.ToArray(),
                    _ => throw new PickleException($"{g} expects bytes, got {Describe(args[0])}"),
                };

            case PickleGlobalKind.CodecsEncode:
            {
                ExpectArgs(g, args, 2, 2);
                if (args[0] is not string text || args[1] is not ("latin1" or "latin-1" or "iso-8859-1"))
                {
                    throw new PickleException($"{g} is only allowed as encode(str, 'latin1'), got ({Describe(args[0])}, {Describe(args[1])})");
                }

                var bytes = new byte[text.Length];
                for (int i = 0; i < text.Length; i++)
                {
                    if (text[i] > 0xFF)
                    {
                        throw new PickleException($"{g}: character U+{(int)text[i]:X4} is not latin-1");
                    }

                    bytes[i] = (byte)text[i];
                }

                return bytes;
            }

            default:
                throw new PickleException($"{g} cannot be called");
        }
    }

    /// <summary>Performs <c>cls.__new__(cls, *args)</c> (NEWOBJ) for an allowlisted class.</summary>
    public static object? New(PickleGlobal g, PickleTuple args) => g.Kind switch
    {
        PickleGlobalKind.OrderedDict => NewDict(g, args),
        PickleGlobalKind.Set or PickleGlobalKind.FrozenSet or PickleGlobalKind.Size => Call(g, args),
        _ => throw new PickleException($"{g} cannot be instantiated with NEWOBJ"),
    };

    /// <summary>Turns a torch persistent id <c>('storage', storage_type, key, location, numel[, view_metadata])</c>
    /// into a <see cref="StorageReference"/>.</summary>
    public static StorageReference PersistentLoad(object? pid)
    {
        if (pid is not PickleTuple t || t.Count is < 5 or > 6 || t[0] is not "storage")
        {
            throw new PickleException($"persistent id must be ('storage', type, key, location, numel), got {Describe(pid)}");
        }

        if (t[1] is not PickleGlobal { Kind: PickleGlobalKind.StorageType } type)
        {
            throw new PickleException($"persistent id names storage type {Describe(t[1])}, not an allowed torch.*Storage");
        }

        string key = t[2] switch
        {
            string s => s,
            long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => throw new PickleException($"storage key must be a string, got {Describe(t[2])}"),
        };
        if (key.Length == 0 || key.Contains('/', StringComparison.Ordinal) || key.Contains('\\', StringComparison.Ordinal)
            || key is "." or ".." || key.Any(char.IsControl))
        {
            throw new PickleException($"storage key '{Escape(key)}' is not a plain name");
        }

        string location = t[3] as string ?? throw new PickleException($"storage location must be a string, got {Describe(t[3])}");
        if (t[4] is not long numel || numel < 0)
        {
            throw new PickleException($"storage '{key}' element count must be a non-negative integer, got {Describe(t[4])}");
        }

        _ = checked(numel * type.StorageDType.ElementSize());
        if (t.Count == 6 && t[5] is not null)
        {
            // Legacy storage view: (view_key, offset, view_size) inside the root storage `key`.
            if (t[5] is not PickleTuple { Count: 3 } view || view[0] is not string viewKey || view[1] is not long offset
                || view[2] is not long viewSize || offset < 0 || viewSize < 0 || checked(offset + viewSize) > numel)
            {
                throw new PickleException($"storage '{key}' has a malformed view (view_key, offset, size): {Describe(t[5])}");
            }

            return new StorageReference(key, type.StorageDType, viewSize, location) { RootElementOffset = offset, RootElementCount = numel };
        }

        return new StorageReference(key, type.StorageDType, numel, location) { RootElementCount = numel };
    }

    private static PickleDict NewDict(PickleGlobal g, PickleTuple args)
    {
        ExpectArgs(g, args, 0, 1);
        var dict = new PickleDict();
        if (args.Count == 1)
        {
            foreach (object? pair in Items(g, args[0]))
            {
                if (pair is not PickleTuple { Count: 2 } kv)
                {
                    throw new PickleException($"{g} expects (key, value) pairs, got {Describe(pair)}");
                }

                dict.Set(kv[0] ?? throw new PickleException("None as a dict key is not supported"), kv[1]);
                dict.Include(kv[1]);
            }
        }

        return dict;
    }

    private static TensorReference RebuildTensor(object? storage, object? offsetArg, object? sizeArg, object? strideArg, object? requiresGrad)
    {
        if (storage is not StorageReference s)
        {
            throw new PickleException($"tensor storage must come from a persistent id, got {Describe(storage)}");
        }

        if (offsetArg is not long offset || offset < 0)
        {
            throw new PickleException($"tensor storage offset must be a non-negative integer, got {Describe(offsetArg)}");
        }

        long[] size = LongItems(null, sizeArg);
        long[] stride = LongItems(null, strideArg);
        if (size.Length != stride.Length || size.Length > MaxDims)
        {
            throw new PickleException($"tensor size [{string.Join(", ", size)}] and stride [{string.Join(", ", stride)}] do not match (at most {MaxDims} dimensions)");
        }

        long numel = 1;
        long last = offset;
        for (int i = 0; i < size.Length; i++)
        {
            if (size[i] < 0 || stride[i] < 0)
            {
                throw new PickleException($"tensor size [{string.Join(", ", size)}] / stride [{string.Join(", ", stride)}] has a negative value");
            }

            numel = checked(numel * size[i]);
            if (size[i] > 0)
            {
                last = checked(last + checked((size[i] - 1) * stride[i]));
            }
        }

        if (numel == 0 ? offset > s.ElementCount : last >= s.ElementCount)
        {
            throw new PickleException(
                $"tensor view (offset {offset}, size [{string.Join(", ", size)}], stride [{string.Join(", ", stride)}]) " +
                $"reaches element {last} of storage '{s.Key}', which has {s.ElementCount} elements");
        }

        if (numel > s.ElementCount && checked(numel * s.DType.ElementSize()) > MaxExpandedBytes)
        {
            throw new PickleException($"tensor of {numel} elements expands storage '{s.Key}' of {s.ElementCount} elements beyond {MaxExpandedBytes} bytes");
        }

        bool grad = requiresGrad is bool b ? b : throw new PickleException($"requires_grad must be a bool, got {Describe(requiresGrad)}");
        return new TensorReference(s, offset, size, stride, grad);
    }

    private static void ExpectArgs(PickleGlobal g, PickleTuple args, int min, int max)
    {
        if (args.Count < min || args.Count > max)
        {
            throw new PickleException(min == max
                ? $"{g} takes {min} arguments, got {args.Count}"
                : $"{g} takes {min} to {max} arguments, got {args.Count}");
        }
    }

    private static bool AsBool(PickleGlobal g, object? v) =>
        v as bool? ?? throw new PickleException($"{g} expects a bool, got {Describe(v)}");

    private static IReadOnlyList<object?> Items(PickleGlobal g, object? v) =>
        v as IReadOnlyList<object?> ?? throw new PickleException($"{g} expects a list or tuple, got {Describe(v)}");

    private static long[] LongItems(PickleGlobal? g, object? v)
    {
        if (v is not PickleTuple and not PickleList || v is not IReadOnlyList<object?> items)
        {
            throw new PickleException($"{(g is null ? "tensor size/stride" : g.ToString())} must be a tuple of integers, got {Describe(v)}");
        }

        var result = new long[items.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = items[i] as long? ?? throw new PickleException($"tensor size/stride must hold integers, got {Describe(items[i])}");
        }

        return result;
    }

    /// <summary>A short description of a value for messages (never its whole content).</summary>
    internal static string Describe(object? v) => v switch
    {
        null => "None",
        string s => s.Length <= 60 ? $"'{Escape(s)}'" : $"'{Escape(s[..60])}...' ({s.Length} chars)",
        bool b => b ? "True" : "False",
        long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        byte[] b => $"bytes({b.Length})",
        System.Numerics.BigInteger big => big.GetBitLength() <= 128 ? big.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"int({big.GetBitLength()} bits)",
        _ => v.ToString() ?? v.GetType().Name,
    };

    internal static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            if (char.IsControl(c))
            {
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}

/// <summary>A malformed or forbidden pickle; the unpickler adds the file and byte position and rethrows it as a
/// <see cref="WeightsFormatException"/>.</summary>
internal sealed class PickleException : Exception
{
    public PickleException()
    {
    }

    public PickleException(string message)
        : base(message)
    {
    }

    public PickleException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
