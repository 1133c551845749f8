using System.Text.Json;

namespace Vchitect.TestUtilities;

/// <summary>
/// Reads the real-size state-dict manifests in tests/fixtures/manifests (<c>state_dict</c>: key → [shape, dtype]),
/// made from the published configs on PyTorch's meta device.
/// </summary>
public static class Manifests
{
    /// <summary>Key → shape of a manifest's state dict, e.g. <c>Manifests.Shapes("manifest_sd14_vae.json")</c>.</summary>
    public static IReadOnlyDictionary<string, long[]> Shapes(string fileName)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path(Path.Combine("manifests", fileName))));
        var result = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var entry in doc.RootElement.GetProperty("state_dict").EnumerateObject())
        {
            var shape = entry.Value[0].EnumerateArray().Select(d => d.GetInt64()).ToArray();
            result.Add(entry.Name, shape);
        }

        return result;
    }

    /// <summary>Compares a module's key → shape map with a manifest's, listing every missing, unexpected and mis-shaped key.</summary>
    /// <returns>An empty string when they are equal; otherwise the differences, one per line.</returns>
    public static string Compare(IReadOnlyDictionary<string, long[]> expected, IReadOnlyDictionary<string, long[]> actual)
    {
        var lines = new List<string>();
        lines.AddRange(expected.Keys.Where(k => !actual.ContainsKey(k)).Order(StringComparer.Ordinal).Select(k => $"missing {k} [{string.Join(",", expected[k])}]"));
        lines.AddRange(actual.Keys.Where(k => !expected.ContainsKey(k)).Order(StringComparer.Ordinal).Select(k => $"unexpected {k} [{string.Join(",", actual[k])}]"));
        lines.AddRange(expected.Keys.Where(k => actual.TryGetValue(k, out var a) && !a.SequenceEqual(expected[k])).Order(StringComparer.Ordinal)
            .Select(k => $"shape {k}: [{string.Join(",", actual[k])}] expected [{string.Join(",", expected[k])}]"));
        return string.Join("\n", lines);
    }
}
