using System.Text.RegularExpressions;
using Xunit;

namespace Vchitect.Docs.Tests;

/// <summary>
/// Every <c>```csharp</c> block in docs/*.md must appear, line for line (indentation and blank lines aside), in the
/// text between <c>// &lt;snippet&gt;</c> and <c>// &lt;/snippet&gt;</c> markers of one file of Snippets/ (the regions of a
/// file read one after another, so a block may span its usings and its code), which this project compiles
/// (and whose tests run the examples that can run here). So a docs example that stops compiling fails the build.
/// </summary>
public sealed partial class DocsSnippetTests
{
    [Fact]
    public void Every_csharp_block_in_docs_is_a_compiled_snippet()
    {
        string root = RepoRoot();
        var snippets = Directory.EnumerateFiles(Path.Combine(root, "tests", "Vchitect.Docs.Tests", "Snippets"), "*.cs")
            .Select(f => "\n" + Normalize(string.Join("\n", Regions(File.ReadAllText(f)))) + "\n")
            .ToArray();
        var pages = Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories).ToArray();
        Assert.NotEmpty(pages);
        var missing = new List<string>();
        int blocks = 0;
        foreach (string page in pages)
        {
            foreach (Match m in CSharpBlock().Matches(File.ReadAllText(page)))
            {
                blocks++;
                string block = "\n" + Normalize(m.Groups[1].Value) + "\n";
                if (!snippets.Any(s => s.Contains(block, StringComparison.Ordinal)))
                {
                    missing.Add($"{Path.GetRelativePath(root, page)}: block starting '{m.Groups[1].Value.Trim().Split('\n')[0]}'");
                }
            }
        }

        Assert.True(blocks > 0, "no csharp blocks found in docs/");
        Assert.True(missing.Count == 0, "docs blocks that are not compiled snippets:\n" + string.Join("\n", missing));
    }

    private static IEnumerable<string> Regions(string source)
    {
        foreach (Match m in SnippetRegion().Matches(source))
        {
            yield return m.Groups[1].Value;
        }
    }

    private static string Normalize(string code) =>
        string.Join("\n", code.Replace("\r", "", StringComparison.Ordinal).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Vchitect.Diffusion.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("Vchitect.Diffusion.sln not found above the test folder.");
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"// <snippet>[^\n]*\n(.*?)// </snippet>", RegexOptions.Singleline)]
    private static partial Regex SnippetRegion();
}
