using System.Diagnostics;
using FsCheck.Xunit;
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;

namespace Vchitect.Core.Tests.Weights.Torch;

/// <summary>
/// Mutates valid checkpoints thousands of times: each mutant must open and read, or throw
/// <see cref="WeightsFormatException"/>; any other exception, a crash or a hang fails the test.
/// </summary>
public sealed class CheckpointFuzzTests(ITestOutputHelper output)
{
    private const int Iterations = 4000;

    [Fact(Timeout = 120_000)]
    public async Task Mutated_data_pkl_inside_a_valid_archive_only_ever_throws_WeightsFormatException()
    {
        Dictionary<string, byte[]> entries = MaliciousCheckpointTests.StateDictEntries("archive");
        byte[] pickle = entries["archive/data.pkl"];
        await Task.Run(() => Fuzz(seed: 1, pickle, mutant =>
        {
            entries["archive/data.pkl"] = mutant;
            return MaliciousCheckpointTests.MakeZip(entries);
        }));
    }

    [Fact(Timeout = 120_000)]
    public async Task Mutated_data_pkl_alone_only_ever_throws_WeightsFormatException()
    {
        byte[] pickle = MaliciousCheckpointTests.StateDictEntries("archive")["archive/data.pkl"];
        await Task.Run(() =>
        {
            var random = new Random(2);
            var stopwatch = Stopwatch.StartNew();
            int ok = 0;
            for (int i = 0; i < 4 * Iterations; i++)
            {
                byte[] mutant = Mutate(pickle, random);
                try
                {
                    RestrictedUnpickler.Load(mutant, "fuzz.pt", "data.pkl");
                    ok++;
                }
                catch (WeightsFormatException)
                {
                }
                catch (Exception e)
                {
                    throw new Xunit.Sdk.XunitException($"mutant {i}: {e.GetType().Name} instead of WeightsFormatException: {e}\n{Convert.ToBase64String(mutant)}");
                }
            }

            output.WriteLine($"{4 * Iterations} data.pkl mutants, {ok} loaded, {stopwatch.ElapsedMilliseconds} ms");
        });
    }

    [Theory(Timeout = 120_000)]
    [InlineData("state_dict.pt", 3)]
    [InlineData("legacy_format.pt", 4)]
    [InlineData("wrapped.pt", 5)]
    public async Task Mutated_whole_files_only_ever_throw_WeightsFormatException(string file, int seed)
    {
        byte[] original = File.ReadAllBytes(Fixtures.Path(Path.Combine("checkpoints", file)));
        await Task.Run(() => Fuzz(seed, original, mutant => mutant));
    }

    [Property(MaxTest = 2000)]
    public void Arbitrary_bytes_never_escape_as_another_exception(byte[] bytes)
    {
        try
        {
            RestrictedUnpickler.Load([0x80, 0x02, .. bytes], "fuzz.pkl", "data.pkl");
        }
        catch (WeightsFormatException)
        {
        }

        try
        {
            using var checkpoint = TorchCheckpoint.Open(new MemoryStream([(byte)'P', (byte)'K', 3, 4, .. bytes]), "fuzz.pt", null);
        }
        catch (WeightsFormatException)
        {
        }
    }

    private void Fuzz(int seed, byte[] original, Func<byte[], byte[]> toFile)
    {
        var random = new Random(seed);
        var stopwatch = Stopwatch.StartNew();
        int opened = 0;
        int read = 0;
        var options = new TorchCheckpointOptions { Unwrap = TorchCheckpointOptions.DefaultWrapperKeys };
        for (int i = 0; i < Iterations; i++)
        {
            byte[] mutant = Mutate(original, random);
            try
            {
                using var checkpoint = TorchCheckpoint.Open(new MemoryStream(toFile(mutant)), "fuzz.pt", options);
                opened++;
                foreach (string key in checkpoint.Keys)
                {
                    _ = checkpoint.GetInfo(key);
                    using var t = checkpoint.ReadTensor(key);
                    read++;
                }
            }
            catch (WeightsFormatException)
            {
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException(
                    $"seed {seed}, mutant {i}: {e.GetType().Name} instead of WeightsFormatException: {e}");
            }
        }

        output.WriteLine($"{Iterations} mutants: {opened} opened, {read} tensors read, {stopwatch.ElapsedMilliseconds} ms");
    }

    /// <summary>One to four random edits: overwrite, bit flip, small-integer poke, insert, delete or truncate.</summary>
    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = new List<byte>(original);
        int edits = random.Next(1, 5);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0: bytes[at] = (byte)random.Next(256); break;
                case 1: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 2: bytes[at] = (byte)(new[] { 0, 1, 2, 0x7f, 0x80, 0xff }[random.Next(6)]); break;
                case 3: bytes.Insert(at, (byte)random.Next(256)); break;
                case 4: bytes.RemoveAt(at); break;
                default: bytes.RemoveRange(at, bytes.Count - at); break;
            }
        }

        return [.. bytes];
    }
}
