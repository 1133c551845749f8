using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using TorchSharp;

namespace Vchitect.Benchmarks;

/// <summary>
/// Process memory of one benchmark case, measured inside the benchmark process (BenchmarkDotNet runs each case in a
/// process of its own, so the numbers belong to that case alone). <see cref="MemoryDiagnoserAttribute"/> sees only
/// managed allocations; TorchSharp tensors live in libtorch's native heap, which only the process RSS shows.
/// Linux only (reads <c>/proc/self/status</c>); elsewhere the columns stay empty.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>Setup RSS</c>: VmRSS at the end of [GlobalSetup]: runtime + libtorch + weights + inputs resident.</item>
/// <item><c>Peak RSS</c>: VmHWM at [GlobalCleanup]. The high-water mark is reset (<c>/proc/self/clear_refs</c> ← 5)
/// at the end of setup, so this is the peak over the measured invocations only, not over model construction.</item>
/// <item><c>Run Δ</c>: Peak RSS − Setup RSS: what the invocations added on top of the resident model (activations,
/// allocator caches); the number chunking is meant to bound.</item>
/// <item><c>Weights</c>: bytes of the model's parameters and buffers (numel × element size), computed, not measured.</item>
/// </list>
/// </remarks>
internal static class PeakMemory
{
    private static readonly string Directory = Path.Combine(Path.GetTempPath(), "vchitect-benchmarks-memory");

    /// <summary>Called last in a [GlobalSetup]: clears an old result, records setup RSS, resets the high-water mark.</summary>
    public static void AfterSetup(string key, long weightBytes)
    {
        System.IO.Directory.CreateDirectory(Directory);
        File.Delete(FileOf(key));
        GC.Collect();
        s_setupKb = ReadStatusKb("VmRSS");
        s_weightBytes = weightBytes;
        s_resetOk = TryResetPeak();
    }

    private static long s_setupKb = -1;
    private static long s_weightBytes;
    private static bool s_resetOk;

    /// <summary>Called in a [GlobalCleanup]: reads VmHWM, prints the numbers and leaves them for <see cref="Column"/>.</summary>
    public static void AfterRun(string key)
    {
        long peakKb = ReadStatusKb("VmHWM");
        string line = string.Create(
            CultureInfo.InvariantCulture,
            $"{s_setupKb} {peakKb} {s_weightBytes} {(s_resetOk ? 1 : 0)}");
        File.WriteAllText(FileOf(key), line);
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"// PeakMemory {key}: setup RSS {s_setupKb / 1024.0:F0} MiB, peak RSS {peakKb / 1024.0:F0} MiB (high-water mark reset after setup: {s_resetOk}), weights {s_weightBytes / 1048576.0:F0} MiB"));
    }

    /// <summary>Bytes held by a module's parameters and buffers.</summary>
    public static long BytesOf(torch.nn.Module module) =>
        module.parameters().Sum(p => p.numel() * p.ElementSize) + module.buffers().Sum(b => b.numel() * b.ElementSize);

    /// <summary>The key of a case: class, method and (optional) parameter value, as <see cref="Column"/> rebuilds it.</summary>
    public static string Key(string type, string method, string? parameter) =>
        parameter is null ? $"{type}.{method}" : $"{type}.{method}-{parameter}";

    private static string FileOf(string key) => Path.Combine(Directory, key + ".txt");

    private static long ReadStatusKb(string field)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status))
        {
            return -1;
        }

        foreach (var line in File.ReadLines(status))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                var parts = line[(field.Length + 1)..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[0], CultureInfo.InvariantCulture);
            }
        }

        return -1;
    }

    private static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Adds the memory columns to a benchmark class: <c>[Config(typeof(PeakMemory.Config))]</c>.</summary>
    public sealed class Config : ManualConfig
    {
        /// <summary>The four columns.</summary>
        public Config()
        {
            AddColumn(new Column("Setup RSS", 0), new Column("Peak RSS", 1), new Column("Run Δ", 2), new Column("Weights", 3));
        }
    }

    /// <summary>One memory figure in MiB, read from the file the benchmark process left.</summary>
    private sealed class Column(string name, int kind) : IColumn
    {
        public string Id => "PeakMemory." + name;

        public string ColumnName => name + " (MiB)";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Metric;

        public int PriorityInCategory => kind;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => kind switch
        {
            0 => "Process RSS after [GlobalSetup] (runtime, libtorch, weights, inputs), MiB",
            1 => "Process peak RSS (VmHWM) over the measured invocations; high-water mark reset after setup, MiB",
            2 => "Peak RSS − Setup RSS: memory the invocations added on top of the resident model, MiB",
            _ => "Parameters and buffers of the model, numel × element size, MiB",
        };

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var d = benchmarkCase.Descriptor;
            string? parameter = benchmarkCase.Parameters.Count == 0 ? null : string.Join("-", benchmarkCase.Parameters.Items.Select(p => p.Value?.ToString()));
            string file = FileOf(Key(d.Type.Name, d.WorkloadMethod.Name, parameter));
            if (!File.Exists(file))
            {
                return "?";
            }

            var v = File.ReadAllText(file).Split(' ').Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            long setupKb = v[0], peakKb = v[1], weightBytes = v[2];
            bool reset = v[3] == 1;
            double mib = kind switch
            {
                0 => setupKb / 1024.0,
                1 => peakKb / 1024.0,
                2 => (peakKb - setupKb) / 1024.0,
                _ => weightBytes / 1048576.0,
            };
            string text = mib.ToString("F0", CultureInfo.InvariantCulture);
            return kind == 1 && !reset ? text + "*" : text;
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
