using System.IO.Compression;
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;

namespace Vchitect.Core.Tests.Weights.Torch;

public sealed class MaliciousCheckpointTests
{
    private static string Checkpoint(string name) => Fixtures.Path(Path.Combine("checkpoints", name));

    [Fact]
    public void Os_system_payload_is_refused_naming_the_global_and_never_runs()
    {
        // data.pkl: OrderedDict() then REDUCE(posix.system, ('echo PWNED > /tmp/vchitect_pwned',)).
        const string marker = "/tmp/vchitect_pwned";
        File.Delete(marker);
        string path = Checkpoint("malicious_os_system.pt");
        var e = Assert.Throws<WeightsFormatException>(() => TorchCheckpoint.Open(path));
        Assert.Contains("'posix.system'", e.Message);
        Assert.Contains("malicious_os_system.pt", e.Message);
        Assert.Equal(path, e.FilePath);
        Assert.Throws<WeightsFormatException>(() => TorchCheckpoint.ReadObject(path));
        Assert.False(File.Exists(marker), "the os.system payload ran");
    }

    [Fact]
    public void Eval_payload_is_refused_naming_the_global()
    {
        // data.pkl: {'w': __builtin__.eval("__import__('os').system('echo PWNED')")} (protocol 2 names builtins __builtin__).
        var e = Assert.Throws<WeightsFormatException>(() => TorchCheckpoint.Open(Checkpoint("malicious_eval.pt")));
        Assert.Contains("'__builtin__.eval'", e.Message);
        Assert.Contains("malicious_eval.pt", e.Message);
        Assert.Contains("nothing was executed", e.Message);
    }

    [Fact]
    public void Zip_slip_entry_is_refused_by_name_and_nothing_is_written()
    {
        const string target = "/tmp/vchitect_slip";
        File.Delete(target);
        var e = Assert.Throws<WeightsFormatException>(() => TorchCheckpoint.Open(Checkpoint("malicious_zip_slip.pt")));
        Assert.Contains("'../../../../tmp/vchitect_slip'", e.Message);
        Assert.Contains("zip slip", e.Message);
        Assert.Throws<WeightsFormatException>(() => TorchCheckpoint.ReadObject(Checkpoint("malicious_zip_slip.pt")));
        Assert.False(File.Exists(target));
    }

    [Theory]
    [InlineData("/etc/passwd")]
    [InlineData("archive/../../escape")]
    [InlineData("archive\\..\\escape")]
    [InlineData("C:/Windows/escape")]
    [InlineData("..")]
    public void Unsafe_entry_names_are_refused(string name)
    {
        var entries = StateDictEntries("archive");
        entries[name] = [1];
        var e = Assert.Throws<WeightsFormatException>(() => OpenZip(entries));
        Assert.Contains(name, e.Message);
    }

    [Theory]
    [InlineData("archive/data.pkl.bak")]
    [InlineData("archive/sub/../data/0x")]
    public void Names_that_only_look_dangerous_are_classified_correctly(string name) =>
        Assert.Equal(name.Contains("..", StringComparison.Ordinal), TorchCheckpoint.IsUnsafeEntryName(name));

    [Fact]
    public void Any_single_top_folder_name_works()
    {
        using var checkpoint = OpenZip(StateDictEntries("my_model-v2"));
        Assert.Equal(11, checkpoint.Keys.Count);
        using var t = checkpoint.ReadTensor("conv.weight");
        Assert.Equal([8L, 3L, 3L, 3L], t.shape);
    }

    [Fact]
    public void Byteorder_little_is_accepted_and_big_refused()
    {
        var entries = StateDictEntries("archive");
        entries["archive/byteorder"] = "little"u8.ToArray();
        using (OpenZip(entries))
        {
        }

        entries["archive/byteorder"] = "big"u8.ToArray();
        Assert.Contains("byte order 'big'", Assert.Throws<WeightsFormatException>(() => OpenZip(entries)).Message);
    }

    [Fact]
    public void TorchScript_archives_are_refused_clearly()
    {
        var entries = StateDictEntries("archive");
        entries["archive/constants.pkl"] = [0x80, 0x02, 0x29, 0x2e];
        entries["archive/code/__torch__.py"] = "def forward(self): ..."u8.ToArray();
        Assert.Contains("TorchScript", Assert.Throws<WeightsFormatException>(() => OpenZip(entries)).Message);
    }

    [Fact]
    public void Other_zips_are_refused_clearly()
    {
        var entries = new Dictionary<string, byte[]> { ["readme.txt"] = "hi"u8.ToArray() };
        Assert.Contains("no '<archive>/data.pkl'", Assert.Throws<WeightsFormatException>(() => OpenZip(entries)).Message);
    }

    [Fact]
    public void Storage_entries_of_the_wrong_length_or_missing_are_refused_at_open()
    {
        var entries = StateDictEntries("archive");
        entries["archive/data/1"] = new byte[31];
        var e = Assert.Throws<WeightsFormatException>(() => OpenZip(entries));
        Assert.Contains("conv.bias", e.Message);
        Assert.Contains("31 bytes, expected 8 F32 elements = 32 bytes", e.Message);

        entries = StateDictEntries("archive");
        entries.Remove("archive/data/0");
        Assert.Contains("'archive/data/0' is missing", Assert.Throws<WeightsFormatException>(() => OpenZip(entries)).Message);
    }

    internal static Dictionary<string, byte[]> StateDictEntries(string prefix)
    {
        using var zip = ZipFile.OpenRead(Checkpoint("state_dict.pt"));
        return zip.Entries.ToDictionary(
            e => prefix + e.FullName["state_dict".Length..],
            e =>
            {
                using var s = e.Open();
                using var ms = new MemoryStream();
                s.CopyTo(ms);
                return ms.ToArray();
            });
    }

    internal static byte[] MakeZip(Dictionary<string, byte[]> entries)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach ((string name, byte[] data) in entries)
            {
                using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                s.Write(data);
            }
        }

        return ms.ToArray();
    }

    private static TorchCheckpoint OpenZip(Dictionary<string, byte[]> entries) =>
        TorchCheckpoint.Open(new MemoryStream(MakeZip(entries)), "test.pt", null);
}
