using System.Globalization;
using System.Reflection;
using TorchSharp;

namespace Vchitect.Parity;

/// <summary>
/// Runs every fixture given (files, or folders searched recursively for <c>*.safetensors</c>) through the checker of its
/// component and prints one line per output, <c>PASS|FAIL &lt;file&gt; &lt;output&gt; max_abs=&lt;x&gt; tol=&lt;y&gt;</c>,
/// then <c>N passed, M failed</c> alone on the last line.
/// </summary>
public static class ParityRunner
{
    private static readonly Lazy<IReadOnlyDictionary<string, IParityChecker>> Registry = new(Discover);

    /// <summary>The components this runner can check, by name.</summary>
    public static IReadOnlyCollection<string> KnownComponents => Registry.Value.Keys.ToArray();

    /// <summary>Runs the fixtures and writes the report.</summary>
    /// <returns>0 when at least one output was checked and none failed; 1 otherwise; 2 for a usage error.</returns>
    public static int Run(IReadOnlyList<string> arguments, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentNullException.ThrowIfNull(output);
        if (arguments.Count == 0 || arguments.Any(a => a is "-h" or "--help"))
        {
            output.WriteLine("usage: Vchitect.Parity <fixture.safetensors | folder> ...");
            output.WriteLine("known components: " + string.Join(", ", KnownComponents.Order(StringComparer.Ordinal)));
            return 2;
        }

        int passed = 0, failed = 0;
        foreach (string file in ExpandPaths(arguments, output, ref failed))
        {
            foreach (var result in CheckFile(file))
            {
                if (result.Passed)
                {
                    passed++;
                }
                else
                {
                    failed++;
                }

                output.WriteLine(FormatLine(file, result));
            }
        }

        output.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 && passed > 0 ? 0 : 1;
    }

    /// <summary>Checks one fixture file; never throws (errors become FAIL results).</summary>
    public static IReadOnlyList<ParityResult> CheckFile(string file)
    {
        Fixture fixture;
        try
        {
            fixture = Fixture.Open(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [ParityResult.Failed("-", $"unreadable fixture: {e.Message}")];
        }

        using (fixture)
        {
            if (fixture.Component is null)
            {
                return [ParityResult.Failed("-", "no __metadata__.component")];
            }

            if (!Registry.Value.TryGetValue(fixture.Component, out var checker))
            {
                return [new ParityResult($"unsupported component {fixture.Component}", false, double.NaN, "-")];
            }

            var results = new List<ParityResult>();
            try
            {
                using var noGrad = torch.no_grad();
                foreach (var r in checker.Check(fixture))
                {
                    results.Add(r);
                }
            }
#pragma warning disable CA1031 // the runner reports any failure of a checker as a FAIL line and goes on
            catch (Exception e)
#pragma warning restore CA1031
            {
                results.Add(ParityResult.Failed("error", $"{e.GetType().Name}: {e.Message}"));
            }

            if (results.Count == 0)
            {
                results.Add(ParityResult.Failed("-", "the checker compared no output"));
            }

            return results;
        }
    }

    private static string FormatLine(string file, ParityResult r)
    {
        string status = r.Passed ? "PASS" : "FAIL";
        if (r.Output.StartsWith("unsupported component ", StringComparison.Ordinal))
        {
            return $"FAIL {file} {r.Output}";
        }

        string maxAbs = double.IsNaN(r.MaxAbs) ? "nan" : r.MaxAbs.ToString("0.###e+0", CultureInfo.InvariantCulture);
        string line = $"{status} {file} {r.Output} max_abs={maxAbs} tol={r.Tolerance}";
        return r.Detail is null ? line : $"{line} ({r.Detail})";
    }

    private static List<string> ExpandPaths(IEnumerable<string> arguments, TextWriter output, ref int failed)
    {
        var files = new List<string>();
        foreach (string arg in arguments)
        {
            if (Directory.Exists(arg))
            {
                files.AddRange(Directory.EnumerateFiles(arg, "*.safetensors", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
            }
            else if (File.Exists(arg))
            {
                files.Add(arg);
            }
            else
            {
                output.WriteLine($"FAIL {arg} - max_abs=nan tol=- (no such file or folder)");
                failed++;
            }
        }

        return files;
    }

    private static Dictionary<string, IParityChecker> Discover()
    {
        var map = new Dictionary<string, IParityChecker>(StringComparer.Ordinal);
        var types = typeof(ParityRunner).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IParityChecker).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null);
        foreach (var type in types)
        {
            var checker = (IParityChecker)Activator.CreateInstance(type)!;
            foreach (string component in checker.Components)
            {
                if (!map.TryAdd(component, checker))
                {
                    throw new InvalidOperationException($"Component '{component}' has two checkers: {map[component].GetType().Name} and {type.Name}.");
                }
            }
        }

        return map;
    }
}
