namespace Vchitect.TestUtilities;

/// <summary>Locates the repository's test fixtures (tests/fixtures), copied from the Python reference runs.</summary>
public static class Fixtures
{
    private static readonly Lazy<string> Root = new(FindRoot);

    /// <summary>The tests/fixtures folder.</summary>
    public static string Directory => Root.Value;

    /// <summary>The full path of a fixture file, e.g. <c>Fixtures.Path("rng.safetensors")</c>.</summary>
    public static string Path(string relative)
    {
        string path = System.IO.Path.Combine(Root.Value, relative);
        if (!File.Exists(path) && !System.IO.Directory.Exists(path))
        {
            throw new FileNotFoundException($"Fixture not found: {path}", path);
        }

        return path;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "tests", "fixtures");
            if (System.IO.Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"tests/fixtures not found above {AppContext.BaseDirectory}.");
    }
}
