using System.Globalization;
using System.Text;
using System.Text.Json;
using Vchitect.Core;
using Vchitect.Core.Weights;
using static TorchSharp.torch;

namespace Vchitect.Training;

/// <summary>Per-step random generators: every draw of step k comes from a generator seeded by (seed, k) alone.</summary>
internal static class TrainingSeeds
{
    /// <summary>A fresh generator for step <paramref name="step"/> of a run seeded with <paramref name="seed"/>.</summary>
    public static RandomGenerator ForStep(long seed, long step) => new(StepSeed(seed, step));

    /// <summary>SplitMix64 of the seed mixed with the step, reduced to 53 bits (a non-negative torch seed).</summary>
    public static long StepSeed(long seed, long step)
    {
        ulong z = unchecked((ulong)seed + (0x9E3779B97F4A7C15UL * ((ulong)step + 1)));
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (long)(z >> 11);
    }
}

/// <summary>Reads and writes training checkpoints: one safetensors file, the bookkeeping in its metadata.</summary>
internal static class CheckpointFile
{
    public const string Format = "vchitect-training-checkpoint/1";

    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        var meta = new Dictionary<string, string>(metadata, StringComparer.Ordinal) { ["format"] = Format };
        string temp = full + ".tmp";
        using (var scope = NewDisposeScope())
        {
            // Contiguous CPU copies: the writer reads raw bytes.
            var cpu = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous(), StringComparer.Ordinal);
            SafetensorsWriter.Write(temp, cpu, meta);
        }

        File.Move(temp, full, overwrite: true);
    }

    public static Vchitect.Core.Weights.SafetensorsFile Open(string path, string expectedPhase)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint \"{path}\" does not exist.", path);
        }

        var file = Vchitect.Core.Weights.SafetensorsFile.Open(path);
        try
        {
            if (!file.Metadata.TryGetValue("format", out var format) || format != Format)
            {
                throw new InvalidDataException($"\"{path}\" is not a training checkpoint (metadata \"format\" is \"{format}\"; expected \"{Format}\").");
            }

            string phase = file.Metadata.GetValueOrDefault("phase", "?");
            if (phase != expectedPhase)
            {
                throw new InvalidDataException($"Checkpoint \"{path}\" is from phase \"{phase}\"; expected \"{expectedPhase}\".");
            }

            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public static long ReadLong(Vchitect.Core.Weights.SafetensorsFile file, string key) =>
        file.Metadata.TryGetValue(key, out var s) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new InvalidDataException($"Checkpoint \"{file.FilePath}\" has no integer metadata \"{key}\".");

    public static Func<string, Tensor?> Reader(Vchitect.Core.Weights.SafetensorsFile file, string prefix) =>
        key => file.Contains(prefix + key) ? file.ReadTensor(prefix + key) : null;

    public static void LoadModule(TorchSharp.torch.nn.Module module, Func<string, Tensor?> read, string prefix)
    {
        using var noGrad = no_grad();
        foreach (var (name, t) in module.state_dict())
        {
            AdamWOptimizer.CopyInto(t, read(name), prefix + name);
        }
    }

    public static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A JSON-lines loss log: one object per step, flushed each line.</summary>
internal sealed class JsonLinesLog : IDisposable
{
    private readonly StreamWriter? _writer;

    public JsonLinesLog(string? path, bool append)
    {
        if (path is null)
        {
            return;
        }

        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        _writer = new StreamWriter(path, append, new UTF8Encoding(false)) { AutoFlush = true };
    }

    public void Write(IReadOnlyDictionary<string, object> fields)
    {
        if (_writer is null)
        {
            return;
        }

        var sb = new StringBuilder("{");
        bool first = true;
        foreach (var (key, value) in fields)
        {
            if (!first)
            {
                sb.Append(", ");
            }

            first = false;
            sb.Append(JsonSerializer.Serialize(key, TrainingJsonContext.Default.String)).Append(": ");
            sb.Append(value switch
            {
                double d when double.IsFinite(d) => d.ToString("R", CultureInfo.InvariantCulture),
                double => "null",
                long l => l.ToString(CultureInfo.InvariantCulture),
                int i => i.ToString(CultureInfo.InvariantCulture),
                string s => JsonSerializer.Serialize(s, TrainingJsonContext.Default.String),
                _ => JsonSerializer.Serialize(Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty, TrainingJsonContext.Default.String),
            });
        }

        _writer.WriteLine(sb.Append('}').ToString());
    }

    public void Dispose() => _writer?.Dispose();
}

/// <summary>Source-generated JSON for the few strings the log writes.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class TrainingJsonContext : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>Options checks shared by the trainers.</summary>
internal static class OptionChecks
{
    public static void Check(bool ok, string owner, string name, object value, string allowed)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, value, string.Create(CultureInfo.InvariantCulture, $"{owner}.{name} is {value}; allowed: {allowed}."));
        }
    }
}
