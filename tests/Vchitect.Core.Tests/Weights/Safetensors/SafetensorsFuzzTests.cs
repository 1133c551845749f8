using System.Diagnostics;
using System.Text;
using Vchitect.Core.Weights;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Weights.Safetensors;

/// <summary>
/// Mutates valid files thousands of times (seeded, so a failure reproduces): every mutant must either open and read all
/// its tensors, or be refused with <see cref="WeightsFormatException"/>. Any other exception, a crash or a hang fails.
/// </summary>
public sealed class SafetensorsFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Mutants = 3000;
    private static readonly byte[] Interesting = "{}[],:\"-0123456789 eE.\\tn"u8.ToArray().Concat(new byte[] { 0, 0x7F, 0x80, 0xFF, 0xC3, 0xE2 }).ToArray();

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Mutated_files_either_read_fully_or_throw_WeightsFormatException()
    {
        byte[][] seeds = [File.ReadAllBytes(Fixtures.Path("checkpoints/state_dict.safetensors")), AllDTypesFile()];
        string path = _temp.File("mutant.safetensors");
        int accepted = 0, rejected = 0;
        var messages = new HashSet<string>();

        // The loop runs on its own thread so that a hang fails the test instead of stalling the run.
        var stopwatch = Stopwatch.StartNew();
        var worker = Task.Factory.StartNew(() =>
        {
            var random = new Random(20240607);
            for (int i = 0; i < Mutants; i++)
            {
                byte[] seed = seeds[i % seeds.Length];
                var (bytes, what) = Mutate(seed, random);
                File.WriteAllBytes(path, bytes);
                var options = new SafetensorsReadOptions { UseMemoryMapping = i % 3 != 0, CopyChunkBytes = i % 5 == 0 ? 8 : 1 << 30 };
                try
                {
                    using var scope = NewDisposeScope();
                    using var file = SafetensorsFile.Open(path, options);
                    long covered = 0;
                    foreach (string key in file.Keys)
                    {
                        TensorInfo info = file.GetInfo(key);
                        Tensor t = file.ReadTensor(key);
                        Assert.Equal(info.ShapeArray(), t.shape);
                        covered += info.ByteLength;
                    }

                    Assert.Equal(file.DataLength, covered);
                    accepted++;
                }
                catch (WeightsFormatException ex)
                {
                    Assert.Equal(path, ex.FilePath);
                    messages.Add(ex.Message[(path.Length + 2)..Math.Min(ex.Message.Length, path.Length + 40)]);
                    rejected++;
                }
                catch (Exception ex)
                {
                    throw new InvalidOperationException($"mutant {i} ({what}) threw {ex.GetType().Name}: {ex.Message}", ex);
                }
            }
        }, TaskCreationOptions.LongRunning);

        await worker.WaitAsync(TimeSpan.FromSeconds(120)); // TimeoutException: the loop hung
        output.WriteLine($"{Mutants} mutants in {stopwatch.ElapsedMilliseconds} ms: {accepted} read fully, {rejected} rejected, {messages.Count} distinct message starts");
        Assert.True(accepted > 100, $"only {accepted} mutants were accepted: the mutations are too destructive to test reading");
        Assert.True(rejected > 1000, $"only {rejected} mutants were rejected");
    }

    /// <summary>A small file with every dtype, a 0-d and an empty tensor, and metadata.</summary>
    private byte[] AllDTypesFile()
    {
        string path = _temp.File("seed.safetensors");
        using var scope = NewDisposeScope();
        var tensors = SafetensorsRoundTripTests.DTypes
            .Select((type, i) => KeyValuePair.Create($"t{i}.{type}", SafetensorsRoundTripTests.Sample(type, i == 3 ? [] : [2, i % 3 + 1], i)))
            .Append(KeyValuePair.Create("empty", zeros(new long[] { 0, 3 })))
            .ToList();
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        return File.ReadAllBytes(path);
    }

    private static (byte[] Bytes, string What) Mutate(byte[] seed, Random random)
    {
        var bytes = new List<byte>(seed);
        var what = new StringBuilder();
        int headerEnd = 8 + (int)BitConverter.ToUInt64(seed, 0);
        int count = 1 + random.Next(3);
        for (int m = 0; m < count && bytes.Count > 0; m++)
        {
            // Mostly the header (where parsing happens), sometimes anywhere, including the length prefix and the data.
            int limit = random.Next(4) == 0 ? bytes.Count : Math.Min(bytes.Count, headerEnd);
            int at = random.Next(limit);
            switch (random.Next(7))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    what.Append($"flip@{at} ");
                    break;
                case 1:
                    bytes[at] = Interesting[random.Next(Interesting.Length)];
                    what.Append($"set@{at} ");
                    break;
                case 2:
                    bytes[at] = (byte)random.Next(256);
                    what.Append($"rand@{at} ");
                    break;
                case 3:
                    int cut = random.Next(bytes.Count);
                    bytes.RemoveRange(cut, bytes.Count - cut);
                    what.Append($"truncate@{cut} ");
                    break;
                case 4:
                    int n = 1 + random.Next(8);
                    bytes.InsertRange(at, Enumerable.Range(0, n).Select(_ => Interesting[random.Next(Interesting.Length)]));
                    what.Append($"insert{n}@{at} ");
                    break;
                case 5:
                    int del = Math.Min(1 + random.Next(8), bytes.Count - at);
                    bytes.RemoveRange(at, del);
                    what.Append($"delete{del}@{at} ");
                    break;
                default:
                    // Nudge a digit in the header: offsets and shapes that are almost right.
                    int digit = bytes.FindIndex(Math.Min(at, bytes.Count - 1), b => b is >= (byte)'0' and <= (byte)'9');
                    if (digit >= 0 && digit < headerEnd)
                    {
                        bytes[digit] = (byte)('0' + random.Next(10));
                        what.Append($"digit@{digit} ");
                    }

                    break;
            }
        }

        return (bytes.ToArray(), what.ToString());
    }
}
