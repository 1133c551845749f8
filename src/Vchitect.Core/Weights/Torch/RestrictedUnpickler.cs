using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace Vchitect.Core.Weights;

/// <summary>
/// A data-only pickle reader written from the opcode list in CPython's <c>Lib/pickletools.py</c> (protocols 0–5).
/// Globals resolve only against <see cref="PickleGlobal"/>'s allowlist and "calling" one builds a C# description;
/// nothing is imported or executed. Every length is checked against the bytes left before anything is allocated,
/// the stack, marks and memo are checked, and container nesting and the number of objects are capped. The loop is
/// iterative, so no input can overflow the call stack. Any fault is a <see cref="WeightsFormatException"/>.
/// </summary>
internal sealed class RestrictedUnpickler
{
    /// <summary>Deepest container nesting accepted (real checkpoints nest a handful of levels).</summary>
    internal const int MaxDepth = 1000;

    /// <summary>Most objects one pickle may create (a multi-GB checkpoint creates a few hundred thousand).</summary>
    internal const long MaxObjects = 20_000_000;

    /// <summary>Longest text line (protocol 0 numbers, GLOBAL names, PUT/GET indices), in bytes.</summary>
    private const int MaxShortLine = 4096;

    /// <summary>Most decimal digits accepted in a protocol 0 integer (CPython's own default limit is 4300).</summary>
    private const int MaxIntDigits = 4300;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Stream _stream;
    private readonly long _end;
    private readonly string _file;
    private readonly string _part;
    private readonly List<object?> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object?> _memo = [];
    private readonly Dictionary<string, StorageReference> _storages = new(StringComparer.Ordinal);
    private long _objects;
    private long _opPosition;

    /// <summary>Creates a reader of one pickle in <paramref name="stream"/> from its current position.</summary>
    /// <param name="stream">A seekable stream positioned at the pickle's first opcode.</param>
    /// <param name="end">The position past which the pickle may not read.</param>
    /// <param name="file">The file, for messages.</param>
    /// <param name="part">Which pickle in the file (e.g. <c>archive/data.pkl</c>), for messages.</param>
    public RestrictedUnpickler(Stream stream, long end, string file, string part)
    {
        _stream = stream;
        _end = end;
        _file = file;
        _part = part;
    }

    /// <summary>The storages named by persistent ids so far, by key (the first seen for each key).</summary>
    public IReadOnlyDictionary<string, StorageReference> Storages => _storages;

    /// <summary>Reads one whole pickle from a byte array.</summary>
    public static object? Load(byte[] pickle, string file, string part)
    {
        using var ms = new MemoryStream(pickle, writable: false);
        return new RestrictedUnpickler(ms, pickle.Length, file, part).Load();
    }

    /// <summary>Reads the pickle up to and including its STOP opcode and returns its value.</summary>
    /// <exception cref="WeightsFormatException">Malformed, truncated, over a limit, or naming a forbidden global.</exception>
    public object? Load()
    {
        try
        {
            return Run();
        }
        catch (PickleException e)
        {
            throw Fail(e.Message, e);
        }
        catch (OverflowException e)
        {
            throw Fail("a number is out of range", e);
        }
        catch (EndOfStreamException e)
        {
            throw Fail("the pickle is truncated", e);
        }
        catch (DecoderFallbackException e)
        {
            throw Fail("a string is not valid UTF-8", e);
        }
    }

    private WeightsFormatException Fail(string problem, Exception? inner = null) =>
        new(_file, null, $"{_part}, opcode at byte {_opPosition}: {problem}", inner);

    private object? Run()
    {
        while (true)
        {
            _opPosition = _stream.Position;
            int op = _stream.Position < _end ? _stream.ReadByte() : -1;
            switch (op)
            {
                case -1:
                    throw new PickleException("the pickle ends without a STOP opcode");

                // --- structure
                case 0x80: // PROTO
                {
                    int proto = ReadU8();
                    if (proto > 5)
                    {
                        throw new PickleException($"unsupported pickle protocol {proto} (0 to 5 are supported)");
                    }

                    break;
                }

                case 0x95: // FRAME: an advisory length prefix; the opcodes inside are read as usual.
                {
                    ulong length = ReadU64();
                    if (length > (ulong)Remaining)
                    {
                        throw new PickleException($"FRAME of {length} bytes, but only {Remaining} bytes are left");
                    }

                    break;
                }

                case 0x2e: // STOP
                    return Pop();

                case 0x28: // MARK
                    _marks.Add(_stack.Count);
                    break;

                case 0x30: // POP: the top item, or the top mark when the current frame is empty (as CPython).
                    if (_stack.Count > CurrentMark)
                    {
                        _stack.RemoveAt(_stack.Count - 1);
                    }
                    else
                    {
                        _ = PopMark();
                    }

                    break;

                case 0x31: // POP_MARK
                    _ = PopMark();
                    break;

                case 0x32: // DUP
                    Push(Peek());
                    break;

                // --- scalars
                case 0x4e: // NONE
                    Push(null);
                    break;

                case 0x88: // NEWTRUE
                    Push(true);
                    break;

                case 0x89: // NEWFALSE
                    Push(false);
                    break;

                case 0x49: // INT (text; "00"/"01" are protocol 0 booleans)
                {
                    string line = ReadAsciiLine();
                    Push(line switch
                    {
                        "00" => false,
                        "01" => true,
                        _ => ParseDecimal(line),
                    });
                    break;
                }

                case 0x4a: // BININT
                    Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)));
                    break;

                case 0x4b: // BININT1
                    Push((long)ReadU8());
                    break;

                case 0x4d: // BININT2
                    Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2)));
                    break;

                case 0x4c: // LONG (text, optional trailing L)
                {
                    string line = ReadAsciiLine();
                    Push(ParseDecimal(line.EndsWith('L') ? line[..^1] : line));
                    break;
                }

                case 0x8a: // LONG1
                    Push(TwosComplement(ReadBytes(ReadU8())));
                    break;

                case 0x8b: // LONG4
                {
                    int n = BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4));
                    if (n < 0)
                    {
                        throw new PickleException($"LONG4 has a negative length {n}");
                    }

                    Push(TwosComplement(ReadBytes(n)));
                    break;
                }

                case 0x46: // FLOAT (text)
                    Push(ParseFloat(ReadAsciiLine()));
                    break;

                case 0x47: // BINFLOAT (big-endian double)
                    Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8)));
                    break;

                // --- strings and bytes
                case 0x53: // STRING (a quoted Python 2 str literal; decoded as UTF-8 like torch.load)
                    Push(StrictUtf8.GetString(DecodeQuotedString(ReadLine(int.MaxValue))));
                    break;

                case 0x54: // BINSTRING
                {
                    int n = BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4));
                    if (n < 0)
                    {
                        throw new PickleException($"BINSTRING has a negative length {n}");
                    }

                    Push(StrictUtf8.GetString(ReadBytes(n)));
                    break;
                }

                case 0x55: // SHORT_BINSTRING
                    Push(StrictUtf8.GetString(ReadBytes(ReadU8())));
                    break;

                case 0x56: // UNICODE (raw-unicode-escape text)
                    Push(DecodeRawUnicodeEscape(ReadLine(int.MaxValue)));
                    break;

                case 0x58: // BINUNICODE
                    Push(StrictUtf8.GetString(ReadBytes(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))));
                    break;

                case 0x8c: // SHORT_BINUNICODE
                    Push(StrictUtf8.GetString(ReadBytes(ReadU8())));
                    break;

                case 0x8d: // BINUNICODE8
                    Push(StrictUtf8.GetString(ReadBytes(ReadU64())));
                    break;

                case 0x42: // BINBYTES
                    Push(ReadBytes(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))));
                    break;

                case 0x43: // SHORT_BINBYTES
                    Push(ReadBytes(ReadU8()));
                    break;

                case 0x8e: // BINBYTES8
                case 0x96: // BYTEARRAY8
                    Push(ReadBytes(ReadU64()));
                    break;

                // --- lists, tuples, dicts, sets
                case 0x5d: // EMPTY_LIST
                    Push(new PickleList());
                    break;

                case 0x61: // APPEND
                {
                    object? item = Pop();
                    AddTo(Expect<PickleList>(Peek(), "APPEND", "a list"), item);
                    break;
                }

                case 0x65: // APPENDS
                {
                    object?[] items = PopMark();
                    var list = Expect<PickleList>(Peek(), "APPENDS", "a list");
                    foreach (object? item in items)
                    {
                        AddTo(list, item);
                    }

                    break;
                }

                case 0x6c: // LIST
                {
                    object?[] items = PopMark();
                    var list = new PickleList();
                    foreach (object? item in items)
                    {
                        AddTo(list, item);
                    }

                    Push(list);
                    break;
                }

                case 0x29: // EMPTY_TUPLE
                    Push(PickleTuple.Empty);
                    break;

                case 0x74: // TUPLE
                    Push(NewTuple(PopMark()));
                    break;

                case 0x85: // TUPLE1
                    Push(NewTuple([Pop()]));
                    break;

                case 0x86: // TUPLE2
                {
                    object? b = Pop();
                    object? a = Pop();
                    Push(NewTuple([a, b]));
                    break;
                }

                case 0x87: // TUPLE3
                {
                    object? c = Pop();
                    object? b = Pop();
                    object? a = Pop();
                    Push(NewTuple([a, b, c]));
                    break;
                }

                case 0x7d: // EMPTY_DICT
                    Push(new PickleDict());
                    break;

                case 0x64: // DICT
                {
                    object?[] items = PopMark();
                    var dict = new PickleDict();
                    SetItems(dict, items, "DICT");
                    Push(dict);
                    break;
                }

                case 0x73: // SETITEM
                {
                    object? value = Pop();
                    object? key = Pop();
                    SetItems(Expect<PickleDict>(Peek(), "SETITEM", "a dict"), [key, value], "SETITEM");
                    break;
                }

                case 0x75: // SETITEMS
                {
                    object?[] items = PopMark();
                    SetItems(Expect<PickleDict>(Peek(), "SETITEMS", "a dict"), items, "SETITEMS");
                    break;
                }

                case 0x8f: // EMPTY_SET
                    Push(new PickleList(isSet: true));
                    break;

                case 0x90: // ADDITEMS
                {
                    object?[] items = PopMark();
                    var set = Expect<PickleList>(Peek(), "ADDITEMS", "a set");
                    if (!set.IsSet)
                    {
                        throw new PickleException("ADDITEMS applies to a set, found a list");
                    }

                    foreach (object? item in items)
                    {
                        AddTo(set, item);
                    }

                    break;
                }

                case 0x91: // FROZENSET
                {
                    object?[] items = PopMark();
                    var set = new PickleList(isSet: true);
                    foreach (object? item in items)
                    {
                        AddTo(set, item);
                    }

                    Push(set);
                    break;
                }

                // --- memo
                case 0x67: // GET
                    Push(MemoGet(ParseIndex(ReadAsciiLine())));
                    break;

                case 0x68: // BINGET
                    Push(MemoGet(ReadU8()));
                    break;

                case 0x6a: // LONG_BINGET
                    Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))));
                    break;

                case 0x70: // PUT
                    MemoPut(ParseIndex(ReadAsciiLine()));
                    break;

                case 0x71: // BINPUT
                    MemoPut(ReadU8());
                    break;

                case 0x72: // LONG_BINPUT
                    MemoPut(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)));
                    break;

                case 0x94: // MEMOIZE
                    MemoPut(_memo.Count);
                    break;

                // --- globals and calls (allowlist only; nothing is executed)
                case 0x63: // GLOBAL
                {
                    string module = ReadAsciiLine();
                    string name = ReadAsciiLine();
                    Push(Resolve(module, name));
                    break;
                }

                case 0x93: // STACK_GLOBAL
                {
                    object? name = Pop();
                    object? module = Pop();
                    if (module is not string m || name is not string n)
                    {
                        throw new PickleException($"STACK_GLOBAL needs two strings, got {PickleCalls.Describe(module)} and {PickleCalls.Describe(name)}");
                    }

                    Push(Resolve(m, n));
                    break;
                }

                case 0x69: // INST: module and name inline, arguments since the mark
                {
                    string module = ReadAsciiLine();
                    string name = ReadAsciiLine();
                    PickleGlobal g = Resolve(module, name);
                    Push(PickleCalls.Call(g, NewTuple(PopMark())));
                    break;
                }

                case 0x6f: // OBJ: class and arguments since the mark
                {
                    object?[] items = PopMark();
                    if (items.Length == 0)
                    {
                        throw new PickleException("OBJ without a class");
                    }

                    var g = Expect<PickleGlobal>(items[0], "OBJ", "an allowed class");
                    Push(PickleCalls.Call(g, NewTuple(items[1..])));
                    break;
                }

                case 0x52: // REDUCE
                {
                    object? args = Pop();
                    object? callable = Pop();
                    var g = Expect<PickleGlobal>(callable, "REDUCE", "an allowed callable");
                    Push(PickleCalls.Call(g, Expect<PickleTuple>(args, "REDUCE", "an argument tuple")));
                    break;
                }

                case 0x81: // NEWOBJ
                {
                    object? args = Pop();
                    object? cls = Pop();
                    var g = Expect<PickleGlobal>(cls, "NEWOBJ", "an allowed class");
                    Push(PickleCalls.New(g, Expect<PickleTuple>(args, "NEWOBJ", "an argument tuple")));
                    break;
                }

                case 0x92: // NEWOBJ_EX
                {
                    object? kwargs = Pop();
                    object? args = Pop();
                    object? cls = Pop();
                    var g = Expect<PickleGlobal>(cls, "NEWOBJ_EX", "an allowed class");
                    if (kwargs is not PickleDict { Count: 0 })
                    {
                        throw new PickleException($"NEWOBJ_EX with keyword arguments is not supported ({g})");
                    }

                    Push(PickleCalls.New(g, Expect<PickleTuple>(args, "NEWOBJ_EX", "an argument tuple")));
                    break;
                }

                case 0x62: // BUILD: set an object's state. Only dicts (an OrderedDict's _metadata) take one.
                {
                    object? state = Pop();
                    object? target = Peek();
                    if (target is PickleDict dict)
                    {
                        dict.State = state;
                        CheckDepth(dict.Include(state));
                    }
                    else if (target is not TensorReference)
                    {
                        throw new PickleException($"BUILD on {PickleCalls.Describe(target)} is not supported");
                    }

                    break;
                }

                case 0x51: // BINPERSID
                {
                    StorageReference storage = PickleCalls.PersistentLoad(Pop());
                    _storages.TryAdd(storage.Key, storage);
                    Push(storage);
                    break;
                }

                case 0x50: // PERSID (text id; torch never writes it)
                    _ = ReadAsciiLine();
                    throw new PickleException("PERSID (a text persistent id) is not used by torch.save and is not supported");

                case 0x82 or 0x83 or 0x84: // EXT1/2/4
                    throw new PickleException($"extension-registry opcode 0x{op:x2} (EXT) is not supported");

                case 0x97 or 0x98: // NEXT_BUFFER, READONLY_BUFFER
                    throw new PickleException($"out-of-band buffer opcode 0x{op:x2} is not supported");

                default:
                    throw new PickleException($"unknown opcode 0x{op:x2}");
            }
        }
    }

    private long Remaining => _end - _stream.Position;

    private int CurrentMark => _marks.Count == 0 ? 0 : _marks[^1];

    private static PickleGlobal Resolve(string module, string name) =>
        PickleGlobal.Find(module, name)
        ?? throw new PickleException(
            $"forbidden global '{module}.{name}': only plain data and torch tensor globals are allowed " +
            "(the checkpoint would run code when loaded with pickle; nothing was executed)");

    private void Push(object? value)
    {
        if (++_objects > MaxObjects)
        {
            throw new PickleException($"more than {MaxObjects} objects");
        }

        _stack.Add(value);
    }

    private object? Pop()
    {
        if (_stack.Count <= CurrentMark)
        {
            throw new PickleException(_stack.Count == 0 ? "stack underflow (the stack is empty)" : "stack underflow (popping past a MARK)");
        }

        object? v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek()
    {
        if (_stack.Count <= CurrentMark)
        {
            throw new PickleException("stack underflow (no object above the current MARK)");
        }

        return _stack[^1];
    }

    private object?[] PopMark()
    {
        if (_marks.Count == 0)
        {
            throw new PickleException("MARK expected but none is set");
        }

        int mark = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        object?[] items = _stack.GetRange(mark, _stack.Count - mark).ToArray();
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private static T Expect<T>(object? value, string opcode, string what)
        where T : class =>
        value as T ?? throw new PickleException($"{opcode} expects {what}, found {PickleCalls.Describe(value)}");

    private static void CheckDepth(int depth)
    {
        if (depth > MaxDepth)
        {
            throw new PickleException($"containers nest deeper than {MaxDepth} levels");
        }
    }

    private static PickleTuple NewTuple(object?[] items)
    {
        var t = new PickleTuple(items);
        CheckDepth(t.Depth);
        return t;
    }

    private static void AddTo(PickleList list, object? item)
    {
        list.Add(item);
        CheckDepth(list.Include(item));
    }

    private static void SetItems(PickleDict dict, object?[] items, string opcode)
    {
        if (items.Length % 2 != 0)
        {
            throw new PickleException($"{opcode} has an odd number of items ({items.Length})");
        }

        for (int i = 0; i < items.Length; i += 2)
        {
            object key = items[i] ?? throw new PickleException("None as a dict key is not supported");
            dict.Set(key, items[i + 1]);
            CheckDepth(dict.Include(key));
            CheckDepth(dict.Include(items[i + 1]));
        }
    }

    private object? MemoGet(long index) =>
        _memo.TryGetValue(index, out object? v) ? v : throw new PickleException($"memo index {index} was never stored");

    private void MemoPut(long index)
    {
        if (index < 0)
        {
            throw new PickleException($"negative memo index {index}");
        }

        _memo[index] = Peek();
    }

    private int ReadU8()
    {
        int b = Remaining > 0 ? _stream.ReadByte() : -1;
        return b >= 0 ? b : throw new EndOfStreamException();
    }

    private ulong ReadU64() => BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8));

    private byte[] ReadBytes(ulong length)
    {
        if (length > (ulong)Remaining)
        {
            throw new PickleException($"a length of {length} bytes runs past the end ({Remaining} bytes left)");
        }

        if (length > (ulong)Array.MaxLength)
        {
            throw new PickleException($"a length of {length} bytes is too large for one value");
        }

        var buffer = new byte[length];
        _stream.ReadExactly(buffer);
        return buffer;
    }

    private byte[] ReadBytes(int length) => ReadBytes((ulong)length);

    /// <summary>Reads up to a newline (not included), refusing lines longer than <paramref name="max"/> bytes.</summary>
    private byte[] ReadLine(int max)
    {
        using var line = new MemoryStream();
        while (true)
        {
            int b = ReadU8();
            if (b == '\n')
            {
                return line.ToArray();
            }

            if (line.Length >= max)
            {
                throw new PickleException($"a text line is longer than {max} bytes");
            }

            line.WriteByte((byte)b);
        }
    }

    private string ReadAsciiLine()
    {
        byte[] line = ReadLine(MaxShortLine);
        foreach (byte b in line)
        {
            if (b is < 0x20 or > 0x7e)
            {
                throw new PickleException($"a text argument holds the non-printable byte 0x{b:x2}");
            }
        }

        return Encoding.ASCII.GetString(line);
    }

    private static long ParseIndex(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new PickleException($"memo index '{text}' is not a non-negative integer");

    /// <summary>A protocol 0 decimal integer: a <see cref="long"/> when it fits, else a <see cref="BigInteger"/>.</summary>
    private static object ParseDecimal(string text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
        {
            return v;
        }

        if (text.Length > MaxIntDigits + 1
            || !BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out BigInteger big))
        {
            throw new PickleException($"'{PickleCalls.Escape(text[..Math.Min(text.Length, 40)])}' is not an integer (at most {MaxIntDigits} digits)");
        }

        return big;
    }

    private static double ParseFloat(string text)
    {
        switch (text)
        {
            case "nan": return double.NaN;
            case "inf": return double.PositiveInfinity;
            case "-inf": return double.NegativeInfinity;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)
            ? d
            : throw new PickleException($"'{PickleCalls.Escape(text[..Math.Min(text.Length, 40)])}' is not a float");
    }

    /// <summary>A little-endian two's-complement integer (LONG1/LONG4): a long when it fits.</summary>
    private static object TwosComplement(byte[] bytes) => Narrow(new BigInteger(bytes, isUnsigned: false, isBigEndian: false));

    private static object Narrow(BigInteger big)
    {
        object value = big >= long.MinValue && big <= long.MaxValue ? (long)big : (object)big;
        return value;
    }

    /// <summary>Decodes a STRING argument: a quoted literal with Python escapes (as <c>codecs.escape_decode</c>).</summary>
    private static byte[] DecodeQuotedString(byte[] line)
    {
        if (line.Length < 2 || (line[0] != '\'' && line[0] != '"') || line[^1] != line[0])
        {
            throw new PickleException("STRING argument is not a quoted string");
        }

        ReadOnlySpan<byte> s = line.AsSpan(1, line.Length - 2);
        var result = new List<byte>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            byte c = s[i];
            if (c != '\\' || i + 1 >= s.Length)
            {
                result.Add(c);
                continue;
            }

            byte e = s[++i];
            switch (e)
            {
                case (byte)'\\': result.Add((byte)'\\'); break;
                case (byte)'\'': result.Add((byte)'\''); break;
                case (byte)'"': result.Add((byte)'"'); break;
                case (byte)'n': result.Add((byte)'\n'); break;
                case (byte)'r': result.Add((byte)'\r'); break;
                case (byte)'t': result.Add((byte)'\t'); break;
                case (byte)'a': result.Add(7); break;
                case (byte)'b': result.Add(8); break;
                case (byte)'f': result.Add(12); break;
                case (byte)'v': result.Add(11); break;
                case (byte)'\n': break;
                case (byte)'x':
                    if (i + 2 >= s.Length || !IsHex(s[i + 1]) || !IsHex(s[i + 2]))
                    {
                        throw new PickleException("STRING has an invalid \\x escape");
                    }

                    result.Add((byte)((HexValue(s[i + 1]) << 4) | HexValue(s[i + 2])));
                    i += 2;
                    break;

                case >= (byte)'0' and <= (byte)'7':
                {
                    int v = e - '0';
                    for (int k = 0; k < 2 && i + 1 < s.Length && s[i + 1] is >= (byte)'0' and <= (byte)'7'; k++)
                    {
                        v = (v * 8) + (s[++i] - '0');
                    }

                    result.Add((byte)v);
                    break;
                }

                default:
                    result.Add((byte)'\\');
                    result.Add(e);
                    break;
            }
        }

        return [.. result];
    }

    /// <summary>Decodes an UNICODE argument: latin-1 bytes with <c>\uXXXX</c> and <c>\UXXXXXXXX</c> escapes.</summary>
    private static string DecodeRawUnicodeEscape(byte[] line)
    {
        var sb = new StringBuilder(line.Length);
        for (int i = 0; i < line.Length; i++)
        {
            byte c = line[i];
            int digits = c == '\\' && i + 1 < line.Length ? line[i + 1] switch { (byte)'u' => 4, (byte)'U' => 8, _ => 0 } : 0;
            if (digits == 0)
            {
                sb.Append((char)c);
                continue;
            }

            if (i + 2 + digits > line.Length)
            {
                throw new PickleException("UNICODE has a truncated \\u escape");
            }

            int cp = 0;
            for (int k = 0; k < digits; k++)
            {
                byte h = line[i + 2 + k];
                if (!IsHex(h))
                {
                    throw new PickleException("UNICODE has an invalid \\u escape");
                }

                cp = (cp << 4) | HexValue(h);
            }

            if (cp is < 0 or > 0x10FFFF)
            {
                throw new PickleException($"UNICODE escape U+{cp:X} is beyond U+10FFFF");
            }

            if (cp < 0x10000)
            {
                sb.Append((char)cp);
            }
            else
            {
                sb.Append(char.ConvertFromUtf32(cp));
            }

            i += 1 + digits;
        }

        return sb.ToString();
    }

    private static bool IsHex(byte b) => b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f') or (>= (byte)'A' and <= (byte)'F');

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;
}
