using System.Text.RegularExpressions;
using Vchitect.Parity;
using Vchitect.TestUtilities;
using Xunit;

namespace Vchitect.Parity.Tests;

/// <summary>Runs the parity runner on the fixtures copied into the repository, as a user would.</summary>
[Collection("torch-global-state")] // the rng checker seeds torch's global generator
public sealed class ParityRunnerTests
{
    public static TheoryData<string> FixtureFiles()
    {
        var data = new TheoryData<string>();
        foreach (string f in Directory.EnumerateFiles(Fixtures.Directory, "*.safetensors", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(Fixtures.Directory, f));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FixtureFiles))]
    public void Every_output_of_a_supported_fixture_passes_and_unsupported_ones_say_so(string relative)
    {
        string path = Fixtures.Path(relative);
        var output = new StringWriter();
        int exit = ParityRunner.Run([path], output);
        string[] lines = output.ToString().TrimEnd().Split('\n');
        string last = lines[^1];

        string? component = ReadComponent(path);
        if (component is not null && NotCheckable.TryGetValue(component, out var notCheckable))
        {
            // Outputs this library cannot compute (documented in the checker): FAIL with the reason, everything else PASS.
            Assert.Equal(1, exit);
            foreach (string line in lines[..^1])
            {
                string outputName = line.Split(' ')[2];
                if (notCheckable.Contains(outputName))
                {
                    Assert.StartsWith("FAIL ", line, StringComparison.Ordinal);
                    Assert.Contains("not checkable", line, StringComparison.Ordinal);
                }
                else
                {
                    Assert.StartsWith("PASS ", line, StringComparison.Ordinal);
                }
            }

            Assert.Matches($@"^[1-9][0-9]* passed, {notCheckable.Count} failed$", last);
        }
        else if (component is not null && ParityRunner.KnownComponents.Contains(component))
        {
            Assert.True(exit == 0, output.ToString());
            Assert.All(lines[..^1], l => Assert.StartsWith("PASS ", l, StringComparison.Ordinal));
            Assert.Matches(@"^[1-9][0-9]* passed, 0 failed$", last);
        }
        else
        {
            Assert.Equal(1, exit);
            Assert.Equal($"FAIL {path} unsupported component {component}", lines[0]);
            Assert.Equal("0 passed, 1 failed", last);
        }
    }

    [Fact]
    public void FreeU_fixture_passes_its_filter_and_apply_entries_and_names_the_model_level_ones_it_cannot_check()
    {
        var output = new StringWriter();
        ParityRunner.Run([Fixtures.Path("freeu.safetensors")], output);
        string[] lines = output.ToString().TrimEnd().Split('\n');
        Assert.Equal(12, lines.Length); // filter0..2, apply0..2 × (hidden, skip), unet.sample, unet.sample_freeu, totals
        Assert.Equal(9, lines.Count(l => Regex.IsMatch(l, @"^PASS \S+ (filter[0-2]\.y|apply[0-2]\.(hidden_states|res_hidden_states)) max_abs=\S+ tol=1e-5$")));
        Assert.Equal(2, lines.Count(l => l.StartsWith("FAIL ", StringComparison.Ordinal) && l.Contains(" unet.sample", StringComparison.Ordinal) && l.Contains(Checkers.FreeUChecker.ModelLevelReason, StringComparison.Ordinal)));
        Assert.Equal("9 passed, 2 failed", lines[^1]);
    }

    [Fact]
    public void FreeInit_fixture_passes_every_filter_and_mix()
    {
        var output = new StringWriter();
        int exit = ParityRunner.Run([Fixtures.Path("freeinit.safetensors")], output);
        string[] lines = output.ToString().TrimEnd().Split('\n');
        Assert.Equal(0, exit);
        foreach (string name in new[] { "gaussian", "butterworth", "ideal", "box", "butterworth_n2_ds04_dt06" })
        {
            Assert.Contains(lines, l => Regex.IsMatch(l, $@"^PASS \S+ {name}\.filter max_abs=\S+ tol=1e-6$"));
            Assert.Contains(lines, l => Regex.IsMatch(l, $@"^PASS \S+ {name}\.mixed max_abs=\S+ tol=1e-5$"));
        }

        Assert.Equal("10 passed, 0 failed", lines[^1]);
    }

    [Fact]
    public void Rng_fixture_reproduces_every_draw_exactly()
    {
        var output = new StringWriter();
        int exit = ParityRunner.Run([Fixtures.Path("rng.safetensors")], output);
        string[] lines = output.ToString().TrimEnd().Split('\n');
        Assert.Equal(0, exit);
        Assert.Equal(16, lines.Length); // 3 seeds × 5 draws, then the totals
        Assert.All(lines[..^1], l => Assert.Matches(@"^PASS \S+rng\.safetensors seed\d+\.\S+ max_abs=0e\+0 tol=exact$", l));
        Assert.Equal("15 passed, 0 failed", lines[^1]);
    }

    [Theory]
    [InlineData("freenoise_lavie.safetensors", new[] { "F24.full", "F24.windowed", "F24.views", "F22.full", "F22.windowed", "F22.views", "F16.full", "F16.windowed", "F16.views", "weight_sequence16", "weight_sequence5", "reschedule.noise" })]
    [InlineData("freenoise_diffusers.safetensors", new[] { "block.pyramid", "block.flat", "block.delayed_reverse_sawtooth", "block.weights.pyramid", "block.weights.flat", "block.weights.delayed_reverse_sawtooth", "block.frame_indices", "reschedule.noise" })]
    public void FreeNoise_fixtures_check_every_output(string file, string[] outputs)
    {
        var output = new StringWriter();
        int exit = ParityRunner.Run([Fixtures.Path(file)], output);
        string[] lines = output.ToString().TrimEnd().Split('\n');
        Assert.True(exit == 0, output.ToString());
        Assert.Equal(outputs.Order(StringComparer.Ordinal), lines[..^1].Select(l => l.Split(' ')[2]).Order(StringComparer.Ordinal));
        Assert.Equal($"{outputs.Length} passed, 0 failed", lines[^1]);
    }

    [Fact]
    public void Corrupted_reference_output_is_reported_as_a_failure_with_its_error()
    {
        // Independent truth: the runner must catch a wrong value, not just run.
        string dir = Directory.CreateTempSubdirectory("parity-").FullName;
        try
        {
            string copy = Path.Combine(dir, "rng_tampered.safetensors");
            byte[] bytes = File.ReadAllBytes(Fixtures.Path("rng.safetensors"));
            // Flip a mantissa bit of the very last float of the data region (the last tensor stored).
            bytes[^2] ^= 0x01;
            File.WriteAllBytes(copy, bytes);
            var output = new StringWriter();
            int exit = ParityRunner.Run([copy], output);
            Assert.Equal(1, exit);
            Assert.Contains("FAIL ", output.ToString(), StringComparison.Ordinal);
            Assert.EndsWith("14 passed, 1 failed", output.ToString().TrimEnd(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Folder_argument_checks_every_fixture_and_missing_paths_fail()
    {
        var output = new StringWriter();
        int exit = ParityRunner.Run([Path.Combine(Fixtures.Directory, "checkpoints"), "/no/such/fixture.safetensors"], output);
        string text = output.ToString();
        Assert.Equal(1, exit);
        Assert.Contains("PASS ", text, StringComparison.Ordinal);
        Assert.Contains("FAIL /no/such/fixture.safetensors", text, StringComparison.Ordinal);
    }

    [Fact]
    public void No_arguments_prints_usage_and_known_components()
    {
        var output = new StringWriter();
        Assert.Equal(2, ParityRunner.Run([], output));
        Assert.Contains("rng", output.ToString(), StringComparison.Ordinal);
    }

    // Fixture outputs a checker reports as FAIL on purpose, because this library lacks the model that made them.
    private static readonly Dictionary<string, HashSet<string>> NotCheckable = new(StringComparer.Ordinal)
    {
        ["freeu"] = ["unet.sample", "unet.sample_freeu"],
    };

    private static string? ReadComponent(string path)
    {
        using var file = Vchitect.Core.Weights.SafetensorsFile.Open(path);
        return file.Metadata.TryGetValue("component", out string? c) ? c : null;
    }
}
