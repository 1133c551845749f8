using Xunit;

[assembly: CollectionBehavior(DisableTestParallelization = true)] // snippets change the working directory

namespace Vchitect.Docs.Tests;

/// <summary>Runs a docs example in a fresh temporary working folder, as a user would run it in their own.</summary>
internal sealed class TemporaryWorkingDirectory : IDisposable
{
    private readonly string _previous;
    private readonly string _path;

    private TemporaryWorkingDirectory(string previous, string path)
    {
        _previous = previous;
        _path = path;
    }

    public static TemporaryWorkingDirectory Create()
    {
        string previous = Directory.GetCurrentDirectory();
        string path = Directory.CreateTempSubdirectory("vchitect-docs-").FullName;
        Directory.SetCurrentDirectory(path);
        return new TemporaryWorkingDirectory(previous, path);
    }

    public void Dispose()
    {
        Directory.SetCurrentDirectory(_previous);
        Directory.Delete(_path, recursive: true);
    }
}
