// <snippet>
using Vchitect.Core.Media;
using Vchitect.Evaluation.TinyWorld;
// </snippet>
using Xunit;

namespace Vchitect.Docs.Tests.Snippets;

/// <summary>docs/tinyworld.md, run in a temporary working folder.</summary>
public sealed class TinyWorldSnippets
{
    [Fact]
    public void Render_train_and_evaluate_example_runs()
    {
        using var cwd = TemporaryWorkingDirectory.Create();
        // <snippet>
        var caption = TinyWorldCaption.Parse("a blue square moving right on a gray background");
        var renderer = new TinyWorldRenderer();                 // 16 frames of 64×64
        Video clip = renderer.Render(caption, seed: 7);         // the same bytes for the same caption and seed
        clip.SaveGif("blue-square.gif");

        // A trainer's stream: every training caption once per epoch, shuffled, each with its own seed.
        var dataset = new TinyWorldDataset(seed: 0);            // TinyWorldCaption.Training (132 captions)
        foreach (TinyWorldSample sample in dataset.Clips().Take(4))
        {
            using var x = TinyWorldRenderer.ToTensor(sample.Video);  // (3, 16, 64, 64) float32 in [-1, 1]
            Console.WriteLine($"{sample.Text}: {string.Join("×", x.shape)}");
        }

        TinyWorldTokenizer.WriteFolder("model/tokenizer");      // vocab.json + merges.txt in CLIP's format

        // Prompt adherence, from the pixels alone.
        var evaluator = new TinyWorldEvaluator();
        TinyWorldReport report = evaluator.Evaluate([(caption, clip)]);
        Console.WriteLine(report.Verdicts[0]);
        Console.WriteLine(report.SummaryLine);  // colour_acc=1.0000 shape_acc=1.0000 motion_acc=1.0000 flicker=0.9…
        // </snippet>
        Assert.True(report.Verdicts[0].AllCorrect);
        Assert.True(File.Exists("blue-square.gif"));
        Assert.True(File.Exists("model/tokenizer/vocab.json"));
        Assert.StartsWith("colour_acc=1.0000 shape_acc=1.0000 motion_acc=1.0000 flicker=0.9", report.SummaryLine, StringComparison.Ordinal);
    }
}
