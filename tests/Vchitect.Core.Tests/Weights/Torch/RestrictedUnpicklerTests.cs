using System.Numerics;
using System.Text;
using Vchitect.Core.Weights;
using Xunit;

namespace Vchitect.Core.Tests.Weights.Torch;

public sealed class RestrictedUnpicklerTests
{
    /// <summary>
    /// CPython's pickle.dumps of one object at protocols 0 to 5 (made with Python 3, no torch):
    /// {'i': [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31, 2**63-1, -2**63, 2**70, -2**70],
    ///  'f': [0.5, -1e300, inf], 's': ['', 'héllo', '日本😀', 'a\\u0041\n'], 'b': [b'', b'\x00\xff'],
    ///  'n': None, 't': True, 'F': False, 'tup': ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)), 'set': {1, 2},
    ///  'fs': frozenset([3]), 'od': OrderedDict(x=1), 'ba': bytearray(b'ab'), 'shared': [l, l] with l = [1, 2]}.
    /// </summary>
    public static TheoryData<int, string> PythonPickles => new()
    {
        { 0, "KGRwMApWaQpwMQoobHAyCkkwCmFJMQphSS0xCmFJMjU1CmFJMjU2CmFJNjU1MzUKYUk2NTUzNgphSS0yMTQ3NDgzNjQ4CmFMMjE0NzQ4MzY0OEwKYUw5MjIzMzcyMDM2ODU0Nzc1ODA3TAphTC05MjIzMzcyMDM2ODU0Nzc1ODA4TAphTDExODA1OTE2MjA3MTc0MTEzMDM0MjRMCmFMLTExODA1OTE2MjA3MTc0MTEzMDM0MjRMCmFzVmYKcDMKKGxwNApGMC41CmFGLTFlKzMwMAphRmluZgphc1ZzCnA1CihscDYKVgpwNwphVmjpbGxvCnA4CmFWXHU2NWU1XHU2NzJjXFUwMDAxZjYwMApwOQphVmFcdTAwNWN1MDA0MVx1MDAwYQpwMTAKYXNWYgpwMTEKKGxwMTIKY19fYnVpbHRpbl9fCmJ5dGVzCnAxMwoodFJwMTQKYWNfY29kZWNzCmVuY29kZQpwMTUKKFZcdTAwMDD/CnAxNgpWbGF0aW4xCnAxNwp0cDE4ClJwMTkKYXNWbgpwMjAKTnNWdApwMjEKSTAxCnNWRgpwMjIKSTAwCnNWdHVwCnAyMwooKHQoSTEKdHAyNAooSTEKSTIKdHAyNQooSTEKSTIKSTMKdHAyNgooSTEKSTIKSTMKSTQKdHAyNwp0cDI4CnNWc2V0CnAyOQpjX19idWlsdGluX18Kc2V0CnAzMAooKGxwMzEKSTEKYUkyCmF0cDMyClJwMzMKc1ZmcwpwMzQKY19fYnVpbHRpbl9fCmZyb3plbnNldApwMzUKKChscDM2CkkzCmF0cDM3ClJwMzgKc1ZvZApwMzkKY2NvbGxlY3Rpb25zCk9yZGVyZWREaWN0CnA0MAoodFJwNDEKVngKcDQyCkkxCnNzVmJhCnA0MwpjX19idWlsdGluX18KYnl0ZWFycmF5CnA0NAooZzE1CihWYWIKcDQ1CmcxNwp0cDQ2ClJwNDcKdHA0OApScDQ5CnNWc2hhcmVkCnA1MAoobHA1MQoobHA1MgpJMQphSTIKYWFnNTIKYXMu" },
        { 1, "fXEAKFgBAAAAaXEBXXECKEsASwFK/////0v/TQABTf//SgAAAQBKAAAAgEwyMTQ3NDgzNjQ4TApMOTIyMzM3MjAzNjg1NDc3NTgwN0wKTC05MjIzMzcyMDM2ODU0Nzc1ODA4TApMMTE4MDU5MTYyMDcxNzQxMTMwMzQyNEwKTC0xMTgwNTkxNjIwNzE3NDExMzAzNDI0TAplWAEAAABmcQNdcQQoRz/gAAAAAAAAR/435DyIAHWcR3/wAAAAAAAAZVgBAAAAc3EFXXEGKFgAAAAAcQdYBgAAAGjDqWxsb3EIWAoAAADml6XmnKzwn5iAcQlYCAAAAGFcdTAwNDEKcQplWAEAAABicQtdcQwoY19fYnVpbHRpbl9fCmJ5dGVzCnENKVJxDmNfY29kZWNzCmVuY29kZQpxDyhYAwAAAADDv3EQWAYAAABsYXRpbjFxEXRxElJxE2VYAQAAAG5xFE5YAQAAAHRxFUkwMQpYAQAAAEZxFkkwMApYAwAAAHR1cHEXKCkoSwF0cRgoSwFLAnRxGShLAUsCSwN0cRooSwFLAksDSwR0cRt0cRxYAwAAAHNldHEdY19fYnVpbHRpbl9fCnNldApxHihdcR8oSwFLAmV0cSBScSFYAgAAAGZzcSJjX19idWlsdGluX18KZnJvemVuc2V0CnEjKF1xJEsDYXRxJVJxJlgCAAAAb2RxJ2Njb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxKClScSlYAQAAAHhxKksBc1gCAAAAYmFxK2NfX2J1aWx0aW5fXwpieXRlYXJyYXkKcSwoaA8oWAIAAABhYnEtaBF0cS5ScS90cTBScTFYBgAAAHNoYXJlZHEyXXEzKF1xNChLAUsCZWg0ZXUu" },
        { 2, "gAJ9cQAoWAEAAABpcQFdcQIoSwBLAUr/////S/9NAAFN//9KAAABAEoAAACAigUAAACAAIoI/////////3+KCAAAAAAAAACAigkAAAAAAAAAAECKCQAAAAAAAAAAwGVYAQAAAGZxA11xBChHP+AAAAAAAABH/jfkPIgAdZxHf/AAAAAAAABlWAEAAABzcQVdcQYoWAAAAABxB1gGAAAAaMOpbGxvcQhYCgAAAOaXpeacrPCfmIBxCVgIAAAAYVx1MDA0MQpxCmVYAQAAAGJxC11xDChjX19idWlsdGluX18KYnl0ZXMKcQ0pUnEOY19jb2RlY3MKZW5jb2RlCnEPWAMAAAAAw79xEFgGAAAAbGF0aW4xcRGGcRJScRNlWAEAAABucRROWAEAAAB0cRWIWAEAAABGcRaJWAMAAAB0dXBxFygpSwGFcRhLAUsChnEZSwFLAksDh3EaKEsBSwJLA0sEdHEbdHEcWAMAAABzZXRxHWNfX2J1aWx0aW5fXwpzZXQKcR5dcR8oSwFLAmWFcSBScSFYAgAAAGZzcSJjX19idWlsdGluX18KZnJvemVuc2V0CnEjXXEkSwNhhXElUnEmWAIAAABvZHEnY2NvbGxlY3Rpb25zCk9yZGVyZWREaWN0CnEoKVJxKVgBAAAAeHEqSwFzWAIAAABiYXErY19fYnVpbHRpbl9fCmJ5dGVhcnJheQpxLGgPWAIAAABhYnEtaBGGcS5ScS+FcTBScTFYBgAAAHNoYXJlZHEyXXEzKF1xNChLAUsCZWg0ZXUu" },
        { 3, "gAN9cQAoWAEAAABpcQFdcQIoSwBLAUr/////S/9NAAFN//9KAAABAEoAAACAigUAAACAAIoI/////////3+KCAAAAAAAAACAigkAAAAAAAAAAECKCQAAAAAAAAAAwGVYAQAAAGZxA11xBChHP+AAAAAAAABH/jfkPIgAdZxHf/AAAAAAAABlWAEAAABzcQVdcQYoWAAAAABxB1gGAAAAaMOpbGxvcQhYCgAAAOaXpeacrPCfmIBxCVgIAAAAYVx1MDA0MQpxCmVYAQAAAGJxC11xDChDAHENQwIA/3EOZVgBAAAAbnEPTlgBAAAAdHEQiFgBAAAARnERiVgDAAAAdHVwcRIoKUsBhXETSwFLAoZxFEsBSwJLA4dxFShLAUsCSwNLBHRxFnRxF1gDAAAAc2V0cRhjYnVpbHRpbnMKc2V0CnEZXXEaKEsBSwJlhXEbUnEcWAIAAABmc3EdY2J1aWx0aW5zCmZyb3plbnNldApxHl1xH0sDYYVxIFJxIVgCAAAAb2RxImNjb2xsZWN0aW9ucwpPcmRlcmVkRGljdApxIylScSRYAQAAAHhxJUsBc1gCAAAAYmFxJmNidWlsdGlucwpieXRlYXJyYXkKcSdDAmFicSiFcSlScSpYBgAAAHNoYXJlZHErXXEsKF1xLShLAUsCZWgtZXUu" },
        { 4, "gASVcQEAAAAAAAB9lCiMAWmUXZQoSwBLAUr/////S/9NAAFN//9KAAABAEoAAACAigUAAACAAIoI/////////3+KCAAAAAAAAACAigkAAAAAAAAAAECKCQAAAAAAAAAAwGWMAWaUXZQoRz/gAAAAAAAAR/435DyIAHWcR3/wAAAAAAAAZYwBc5RdlCiMAJSMBmjDqWxsb5SMCuaXpeacrPCfmICUjAhhXHUwMDQxCpRljAFilF2UKEMAlEMCAP+UZYwBbpROjAF0lIiMAUaUiYwDdHVwlCgpSwGFlEsBSwKGlEsBSwJLA4eUKEsBSwJLA0sEdJR0lIwDc2V0lI+UKEsBSwKQjAJmc5QoSwORlIwCb2SUjAtjb2xsZWN0aW9uc5SMC09yZGVyZWREaWN0lJOUKVKUjAF4lEsBc4wCYmGUjAhidWlsdGluc5SMCWJ5dGVhcnJheZSTlEMCYWKUhZRSlIwGc2hhcmVklF2UKF2UKEsBSwJlaCtldS4=" },
        { 5, "gAWVWwEAAAAAAAB9lCiMAWmUXZQoSwBLAUr/////S/9NAAFN//9KAAABAEoAAACAigUAAACAAIoI/////////3+KCAAAAAAAAACAigkAAAAAAAAAAECKCQAAAAAAAAAAwGWMAWaUXZQoRz/gAAAAAAAAR/435DyIAHWcR3/wAAAAAAAAZYwBc5RdlCiMAJSMBmjDqWxsb5SMCuaXpeacrPCfmICUjAhhXHUwMDQxCpRljAFilF2UKEMAlEMCAP+UZYwBbpROjAF0lIiMAUaUiYwDdHVwlCgpSwGFlEsBSwKGlEsBSwJLA4eUKEsBSwJLA0sEdJR0lIwDc2V0lI+UKEsBSwKQjAJmc5QoSwORlIwCb2SUjAtjb2xsZWN0aW9uc5SMC09yZGVyZWREaWN0lJOUKVKUjAF4lEsBc4wCYmGUlgIAAAAAAAAAYWKUjAZzaGFyZWSUXZQoXZQoSwFLAmVoJmV1Lg==" },
    };

    [Theory]
    [MemberData(nameof(PythonPickles))]
    public void Reads_plain_data_of_every_protocol_as_CPython_wrote_it(int protocol, string base64)
    {
        var root = Assert.IsAssignableFrom<IReadOnlyDictionary<object, object?>>(Load(Convert.FromBase64String(base64)));
        Assert.Equal(["i", "f", "s", "b", "n", "t", "F", "tup", "set", "fs", "od", "ba", "shared"], root.Keys);

        object[] ints =
        [
            0L, 1L, -1L, 255L, 256L, 65535L, 65536L, -2147483648L, 2147483648L, long.MaxValue, long.MinValue,
            BigInteger.Pow(2, 70), -BigInteger.Pow(2, 70),
        ];
        Assert.Equal(ints, List(root["i"]));
        Assert.Equal([0.5, -1e300, double.PositiveInfinity], List(root["f"]));
        Assert.Equal(["", "héllo", "日本😀", "a\\u0041\n"], List(root["s"]));
        Assert.Equal([Array.Empty<byte>(), new byte[] { 0, 255 }], List(root["b"]));
        Assert.Null(root["n"]);
        Assert.Equal(true, root["t"]);
        Assert.Equal(false, root["F"]);
        Assert.Equal([0, 1, 2, 3, 4], List(root["tup"]).Select(t => List(t).Count));
        Assert.Equal([1L, 2L], List(root["set"]));
        Assert.Equal([3L], List(root["fs"]));
        Assert.Equal(1L, Assert.IsAssignableFrom<IReadOnlyDictionary<object, object?>>(root["od"])["x"]);
        Assert.Equal("ab"u8.ToArray(), root["ba"]);
        IReadOnlyList<object?> shared = List(root["shared"]);
        Assert.Same(shared[0], shared[1]);
        Assert.True(protocol is >= 0 and <= 5);
    }

    [Fact]
    public void Protocol_0_string_literals_and_text_floats_are_decoded()
    {
        // MARK, STRING 'a\x41\n\'' (escapes), FLOAT 1.5, INT 7, LONG -12L, NONE, TUPLE, PUT 0, STOP
        byte[] pickle = Encoding.ASCII.GetBytes("(S'a\\x41\\n\\''\nF1.5\nI7\nL-12L\nNtp0\n.");
        Assert.Equal(["aA\n'", 1.5, 7L, -12L, null], List(Load(pickle)));
    }

    public static TheoryData<string, byte[], string> Hostile => new()
    {
        { "unknown opcode", [0x80, 0x02, 0xff, 0x2e], "unknown opcode 0xff" },
        { "huge BINUNICODE length", [0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61, 0x62, 0x2e], "runs past the end" },
        { "huge BINUNICODE8 length", [0x80, 0x04, 0x8d, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x2e], "runs past the end" },
        { "huge BINBYTES8 length", [0x80, 0x04, 0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x2e], "runs past the end" },
        { "huge LONG4 length", [0x80, 0x02, 0x8b, 0xff, 0xff, 0xff, 0x7f, 0x2e], "runs past the end" },
        { "negative LONG4 length", [0x80, 0x02, 0x8b, 0xff, 0xff, 0xff, 0xff, 0x2e], "negative length" },
        { "negative BINSTRING length", [0x80, 0x02, 0x54, 0xfe, 0xff, 0xff, 0xff, 0x2e], "negative length" },
        { "huge FRAME", [0x80, 0x04, 0x95, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x4e, 0x2e], "FRAME" },
        { "memo GET of a missing index", [0x80, 0x02, 0x68, 0x05, 0x2e], "memo index 5 was never stored" },
        { "LONG_BINGET of a missing index", [0x80, 0x02, 0x4e, 0x71, 0x00, 0x6a, 0xff, 0xff, 0xff, 0xff, 0x2e], "memo index 4294967295" },
        { "text GET of a non-number", "g-1\n."u8.ToArray(), "not a non-negative integer" },
        { "STOP with an empty stack", [0x80, 0x02, 0x2e], "stack underflow" },
        { "no STOP", [0x80, 0x02, 0x4e], "without a STOP" },
        { "empty input", [], "without a STOP" },
        { "APPEND with an empty stack", [0x80, 0x02, 0x61, 0x2e], "stack underflow" },
        { "TUPLE1 across a MARK", [0x80, 0x02, 0x4e, 0x28, 0x85, 0x2e], "popping past a MARK" },
        { "TUPLE without a MARK", [0x80, 0x02, 0x74, 0x2e], "MARK expected" },
        { "SETITEM on a list", [0x80, 0x02, 0x5d, 0x4b, 0x01, 0x4b, 0x02, 0x73, 0x2e], "SETITEM expects a dict" },
        { "APPEND to a dict", [0x80, 0x02, 0x7d, 0x4b, 0x01, 0x61, 0x2e], "APPEND expects a list" },
        { "DICT with an odd item count", [0x80, 0x02, 0x28, 0x4b, 0x01, 0x64, 0x2e], "odd number of items" },
        { "None as a dict key", [0x80, 0x02, 0x7d, 0x4e, 0x4b, 0x01, 0x73, 0x2e], "None as a dict key" },
        { "REDUCE of a non-global", [0x80, 0x02, 0x4b, 0x01, 0x29, 0x52, 0x2e], "REDUCE expects an allowed callable" },
        { "protocol 6", [0x80, 0x06, 0x4e, 0x2e], "protocol 6" },
        { "EXT1", [0x80, 0x02, 0x82, 0x01, 0x2e], "EXT" },
        { "PERSID", "Pkey\n."u8.ToArray(), "PERSID" },
        { "invalid UTF-8", [0x80, 0x02, 0x8c, 0x02, 0xc3, 0x28, 0x2e], "not valid UTF-8" },
        { "text INT that is not a number", "Iabc\n."u8.ToArray(), "not an integer" },
        { "text FLOAT that is not a number", "Fx\n."u8.ToArray(), "not a float" },
        { "STRING without quotes", "Sabc\n."u8.ToArray(), "not a quoted string" },
        { "over-long text line", [.. "I"u8, .. Enumerable.Repeat((byte)'1', 10000), .. "\n."u8], "longer than" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_pickles_throw_WeightsFormatException(string what, byte[] pickle, string expected)
    {
        var e = Assert.Throws<WeightsFormatException>(() => Load(pickle));
        Assert.Contains(expected, e.Message);
        Assert.Contains("test.pkl", e.Message);
        Assert.False(string.IsNullOrEmpty(what));
    }

    public static TheoryData<string, byte[], string> Forbidden => new()
    {
        { "GLOBAL os.system", "cos\nsystem\n(S'true'\ntR."u8.ToArray(), "'os.system'" },
        { "GLOBAL builtins.eval", [0x80, 0x03, .. "cbuiltins\neval\n"u8, 0x4e, 0x85, 0x52, 0x2e], "'builtins.eval'" },
        { "GLOBAL subprocess.Popen", "csubprocess\nPopen\n."u8.ToArray(), "'subprocess.Popen'" },
        { "GLOBAL __builtin__.getattr", "c__builtin__\ngetattr\n."u8.ToArray(), "'__builtin__.getattr'" },
        { "GLOBAL numpy", "cnumpy.core.multiarray\n_reconstruct\n."u8.ToArray(), "'numpy.core.multiarray._reconstruct'" },
        { "GLOBAL argparse.Namespace", "cargparse\nNamespace\n."u8.ToArray(), "'argparse.Namespace'" },
        { "STACK_GLOBAL posix.system", [0x80, 0x04, 0x8c, 0x05, .. "posix"u8, 0x8c, 0x06, .. "system"u8, 0x93, 0x2e], "'posix.system'" },
        { "INST os.system", "(S'id'\nios\nsystem\n."u8.ToArray(), "'os.system'" },
        { "torch.load itself", "ctorch\nload\n."u8.ToArray(), "'torch.load'" },
    };

    [Theory]
    [MemberData(nameof(Forbidden))]
    public void Forbidden_globals_are_named(string what, byte[] pickle, string expected)
    {
        var e = Assert.Throws<WeightsFormatException>(() => Load(pickle));
        Assert.Contains("forbidden global " + expected, e.Message);
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void Allowed_globals_may_not_be_called_in_unexpected_ways()
    {
        // _codecs.encode is allowed only as encode(str, 'latin1').
        byte[] encodeUtf16 = [0x80, 0x02, .. "c_codecs\nencode\n"u8, 0x8c, 0x01, 0x61, 0x8c, 0x06, .. "utf-16"u8, 0x86, 0x52, 0x2e];
        Assert.Contains("latin1", Assert.Throws<WeightsFormatException>(() => Load(encodeUtf16)).Message);

        // A storage type cannot be called.
        byte[] callStorage = [0x80, 0x02, .. "ctorch\nFloatStorage\n"u8, 0x29, 0x52, 0x2e];
        Assert.Contains("cannot be called", Assert.Throws<WeightsFormatException>(() => Load(callStorage)).Message);
    }

    [Fact]
    public void Deep_nesting_is_capped_without_overflowing_the_stack()
    {
        const int depth = 200_000;
        byte[] lists = [0x80, 0x02, .. Enumerable.Repeat((byte)0x5d, depth), .. Enumerable.Repeat((byte)0x61, depth - 1), 0x2e];
        Assert.Contains("nest deeper", Assert.Throws<WeightsFormatException>(() => Load(lists)).Message);

        byte[] tuples = [0x80, 0x02, 0x29, .. Enumerable.Repeat((byte)0x85, depth), 0x2e];
        Assert.Contains("nest deeper", Assert.Throws<WeightsFormatException>(() => Load(tuples)).Message);

        byte[] marks = [0x80, 0x02, .. Enumerable.Repeat((byte)0x28, depth), 0x4e, .. Enumerable.Repeat((byte)0x74, depth), 0x2e];
        Assert.Contains("nest deeper", Assert.Throws<WeightsFormatException>(() => Load(marks)).Message);

        byte[] shallow = [0x80, 0x02, .. Enumerable.Repeat((byte)0x5d, 100), .. Enumerable.Repeat((byte)0x61, 99), 0x2e];
        Assert.IsAssignableFrom<IReadOnlyList<object?>>(Load(shallow));
    }

    [Fact]
    public void Self_referencing_lists_load_without_hanging()
    {
        // l = []; l.append(l)
        byte[] pickle = [0x80, 0x02, 0x5d, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2e];
        var list = Assert.IsAssignableFrom<IReadOnlyList<object?>>(Load(pickle));
        Assert.Same(list, list[0]);
    }

    [Fact]
    public void Large_sets_build_in_linear_time()
    {
        // EMPTY_SET, MARK, 200k distinct ints, ADDITEMS
        var bytes = new List<byte> { 0x80, 0x04, 0x8f, 0x28 };
        for (int i = 0; i < 200_000; i++)
        {
            bytes.Add(0x4a);
            bytes.AddRange(BitConverter.GetBytes(i));
        }

        bytes.AddRange([0x90, 0x2e]);
        Assert.Equal(200_000, Assert.IsAssignableFrom<IReadOnlyList<object?>>(Load([.. bytes])).Count);
    }

    [Fact]
    public void Tensor_views_outside_their_storage_are_refused()
    {
        // _rebuild_tensor_v2(storage(24 floats), offset, size, stride, False, OrderedDict())
        static byte[] Tensor(byte offset, byte[] size, byte[] stride, byte numel = 24, string type = "FloatStorage") =>
        [
            0x80, 0x02, .. "ctorch._utils\n_rebuild_tensor_v2\n"u8,
            0x28,
            0x28, 0x8c, 0x07, .. "storage"u8, .. Encoding.ASCII.GetBytes($"ctorch\n{type}\n"), 0x8c, 0x01, (byte)'0', 0x8c, 0x03, .. "cpu"u8, 0x4b, numel, 0x74, 0x51,
            0x4b, offset,
            0x28, .. size.SelectMany(s => new byte[] { 0x4b, s }), 0x74,
            0x28, .. stride.SelectMany(s => new byte[] { 0x4b, s }), 0x74,
            0x89, .. "ccollections\nOrderedDict\n"u8, 0x29, 0x52,
            0x74, 0x52, 0x2e,
        ];

        var ok = Assert.IsType<TensorReference>(Load(Tensor(8, [3, 4], [4, 1])));
        Assert.Equal([3L, 4L], ok.Shape);
        Assert.Equal(8, ok.StorageOffset);
        Assert.IsType<TensorReference>(Load(Tensor(0, [6, 4], [1, 6])));
        Assert.IsType<TensorReference>(Load(Tensor(24, [0], [1])));

        Assert.Contains("reaches element 28 of storage '0', which has 24 elements", Assert.Throws<WeightsFormatException>(() => Load(Tensor(4, [5, 6], [1, 4]))).Message);
        Assert.Contains("reaches element", Assert.Throws<WeightsFormatException>(() => Load(Tensor(24, [1], [1]))).Message);
        Assert.Contains("do not match", Assert.Throws<WeightsFormatException>(() => Load(Tensor(0, [3], [1, 1]))).Message);
        Assert.Contains("reaches element", Assert.Throws<WeightsFormatException>(() => Load(Tensor(25, [0], [1]))).Message);
        Assert.Contains("'torch.ComplexFloatStorage'", Assert.Throws<WeightsFormatException>(() => Load(Tensor(0, [1], [1], type: "ComplexFloatStorage"))).Message);
        Assert.Contains("expands storage", Assert.Throws<WeightsFormatException>(() => Load(Tensor(0, [255, 255, 255, 255], [0, 0, 0, 0], numel: 1))).Message);
    }

    [Fact]
    public void Parameters_and_rebuild_from_type_give_tensor_references_with_requires_grad()
    {
        // STORAGE(24 floats), then the argument tuple of _rebuild_tensor_v2 without its opening MARK / closing TUPLE.
        byte[] storage =
        [
            0x28, 0x8c, 0x07, .. "storage"u8, .. "ctorch\nFloatStorage\n"u8, 0x8c, 0x01, (byte)'0', 0x8c, 0x03, .. "cpu"u8, 0x4b, 24, 0x74, 0x51,
        ];
        byte[] args = [.. storage, 0x4b, 0x00, 0x4b, 0x18, 0x85, 0x4b, 0x01, 0x85, 0x89, .. "ccollections\nOrderedDict\n"u8, 0x29, 0x52];

        // _rebuild_parameter(_rebuild_tensor_v2(...), True, OrderedDict())
        byte[] parameter =
        [
            0x80, 0x02, .. "ctorch._utils\n_rebuild_parameter\n"u8, 0x28,
            .. "ctorch._utils\n_rebuild_tensor_v2\n"u8, 0x28, .. args, 0x74, 0x52,
            0x88, .. "ccollections\nOrderedDict\n"u8, 0x29, 0x52, 0x74, 0x52, 0x2e,
        ];
        var p = Assert.IsType<TensorReference>(Load(parameter));
        Assert.True(p.RequiresGrad);
        Assert.Equal([24L], p.Shape);

        // _rebuild_from_type_v2(_rebuild_tensor_v2, torch.nn.parameter.Parameter, (...), {})
        byte[] fromType =
        [
            0x80, 0x02, .. "ctorch._tensor\n_rebuild_from_type_v2\n"u8, 0x28,
            .. "ctorch._utils\n_rebuild_tensor_v2\n"u8, .. "ctorch.nn.parameter\nParameter\n"u8, 0x28, .. args, 0x74, 0x7d,
            0x74, 0x52, 0x2e,
        ];
        var t = Assert.IsType<TensorReference>(Load(fromType));
        Assert.Equal(WeightDType.F32, t.DType);
        Assert.Equal([1L], t.Stride);
    }

    [Fact]
    public void OrderedDict_state_from_BUILD_is_accepted()
    {
        // OrderedDict() with one item, then BUILD({'_metadata': {}}) as module.state_dict() pickles it.
        byte[] pickle =
        [
            0x80, 0x02, .. "ccollections\nOrderedDict\n"u8, 0x29, 0x52,
            0x28, 0x8c, 0x01, (byte)'a', 0x4e, 0x75,
            0x7d, 0x8c, 0x09, .. "_metadata"u8, 0x7d, 0x73, 0x62, 0x2e,
        ];
        var dict = Assert.IsAssignableFrom<IReadOnlyDictionary<object, object?>>(Load(pickle));
        Assert.Equal(["a"], dict.Keys);
        Assert.IsType<PickleDict>(((PickleDict)dict).State);
    }

    private static object? Load(byte[] pickle) => RestrictedUnpickler.Load(pickle, "test.pkl", "data.pkl");

    private static IReadOnlyList<object?> List(object? value) => Assert.IsAssignableFrom<IReadOnlyList<object?>>(value);
}
