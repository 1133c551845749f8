using Vchitect.Evaluation.TinyWorld;
using Xunit;

namespace Vchitect.Evaluation.Tests;

public sealed class CaptionTests
{
    [Fact]
    public void All_has_144_distinct_captions_in_index_order()
    {
        Assert.Equal(144, TinyWorldCaption.All.Count);
        Assert.Equal(144, TinyWorldCaption.All.Select(c => c.ToString()).Distinct().Count());
        for (int i = 0; i < TinyWorldCaption.Count; i++)
        {
            Assert.Equal(i, TinyWorldCaption.All[i].Index);
            Assert.Equal(TinyWorldCaption.All[i], TinyWorldCaption.FromIndex(i));
        }
    }

    [Fact]
    public void Every_caption_formats_and_parses_back_to_itself()
    {
        foreach (TinyWorldCaption caption in TinyWorldCaption.All)
        {
            string text = caption.ToString();
            Assert.Matches("^a (red|green|blue|yellow|white|purple) (circle|square|triangle) moving (left|right|up|down) on a (black|gray) background$", text);
            Assert.Equal(caption, TinyWorldCaption.Parse(text));
            Assert.True(TinyWorldCaption.TryParse(text, out TinyWorldCaption? again));
            Assert.Equal(caption, again);
        }
    }

    [Fact]
    public void Parse_ignores_case_and_extra_whitespace()
    {
        var expected = new TinyWorldCaption(TinyWorldColour.Blue, TinyWorldShape.Square, TinyWorldMotion.Right, TinyWorldBackground.Gray);
        Assert.Equal(expected, TinyWorldCaption.Parse("  A Blue   SQUARE moving\tright on a gray background\n"));
    }

    [Theory]
    [InlineData("a pink circle moving left on a black background", "\"pink\"", "colour")]
    [InlineData("a red hexagon moving left on a black background", "\"hexagon\"", "shape")]
    [InlineData("a red circle moving sideways on a black background", "\"sideways\"", "direction")]
    [InlineData("a red circle moving left on a white background", "\"white\"", "background")]
    [InlineData("the red circle moving left on a black background", "\"the\"", "word 1")]
    [InlineData("a red circle going left on a black background", "\"going\"", "\"moving\"")]
    [InlineData("a red circle moving left in a black background", "\"in\"", "\"on\"")]
    [InlineData("a red circle moving left on a black floor", "\"floor\"", "\"background\"")]
    [InlineData("a red circle moving left", "5 words", "expected 9")]
    [InlineData("a red circle moving left on a black background.", "\"background.\"", "word 9")]
    [InlineData("", "0 words", "expected 9")]
    public void Bad_captions_are_rejected_naming_the_word(string text, string named, string context)
    {
        var e = Assert.Throws<FormatException>(() => TinyWorldCaption.Parse(text));
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
        Assert.Contains(context, e.Message, StringComparison.Ordinal);
        Assert.False(TinyWorldCaption.TryParse(text, out TinyWorldCaption? caption, out string? error));
        Assert.Null(caption);
        Assert.Equal(e.Message, error);
    }

    [Fact]
    public void Null_is_rejected()
    {
        Assert.Throws<ArgumentNullException>(() => TinyWorldCaption.Parse(null!));
        Assert.False(TinyWorldCaption.TryParse(null, out _));
    }

    [Fact]
    public void Undefined_enum_values_are_rejected_by_name()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TinyWorldCaption((TinyWorldColour)6, TinyWorldShape.Circle, TinyWorldMotion.Left, TinyWorldBackground.Black));
        Assert.Equal("colour", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => TinyWorldCaption.FromIndex(144));
        Assert.Throws<ArgumentOutOfRangeException>(() => TinyWorldCaption.FromIndex(-1));
    }

    [Fact]
    public void Held_out_list_is_fixed_and_covers_every_value()
    {
        IReadOnlyList<TinyWorldCaption> heldOut = TinyWorldCaption.HeldOut;
        Assert.Equal(12, heldOut.Count);
        Assert.Equal(12, heldOut.Distinct().Count());
        Assert.Equal("a red circle moving left on a black background", heldOut[0].ToString());
        Assert.Equal("a purple circle moving right on a gray background", heldOut[^1].ToString());
        Assert.All(heldOut, c => Assert.True(c.IsHeldOut));
        Assert.Equal(Enum.GetValues<TinyWorldColour>(), heldOut.Select(c => c.Colour).Distinct().Order());
        Assert.Equal(Enum.GetValues<TinyWorldShape>(), heldOut.Select(c => c.Shape).Distinct().Order());
        Assert.Equal(Enum.GetValues<TinyWorldMotion>(), heldOut.Select(c => c.Motion).Distinct().Order());
        Assert.Equal(Enum.GetValues<TinyWorldBackground>(), heldOut.Select(c => c.Background).Distinct().Order());

        // The quickstart's prompt stays in training.
        Assert.False(TinyWorldCaption.Parse("a blue square moving right on a black background").IsHeldOut);
        Assert.False(TinyWorldCaption.Parse("a blue square moving right on a gray background").IsHeldOut);
    }

    [Fact]
    public void Training_is_the_complement_and_still_has_every_value_and_every_pair_of_values()
    {
        IReadOnlyList<TinyWorldCaption> training = TinyWorldCaption.Training;
        Assert.Equal(132, training.Count);
        Assert.Empty(training.Intersect(TinyWorldCaption.HeldOut));
        Assert.Equal(TinyWorldCaption.All.OrderBy(c => c.Index), training.Concat(TinyWorldCaption.HeldOut).OrderBy(c => c.Index));
        Assert.All(training, c => Assert.False(c.IsHeldOut));

        // Each attribute value, and each pair of values of two attributes, appears in some training caption: the held-out
        // captions are new combinations of things the model has seen, never an unseen value.
        Func<TinyWorldCaption, int>[] attributes = [c => (int)c.Colour, c => (int)c.Shape, c => (int)c.Motion, c => (int)c.Background];
        int[] sizes = [6, 3, 4, 2];
        for (int a = 0; a < attributes.Length; a++)
        {
            Assert.Equal(sizes[a], training.Select(attributes[a]).Distinct().Count());
            for (int b = a + 1; b < attributes.Length; b++)
            {
                Assert.Equal(sizes[a] * sizes[b], training.Select(c => (attributes[a](c), attributes[b](c))).Distinct().Count());
            }
        }
    }

    [Fact]
    public void The_seen_evaluation_list_is_48_balanced_training_captions()
    {
        IReadOnlyList<TinyWorldCaption> list = TinyWorldCaption.Evaluation;
        Assert.Equal(48, list.Count);
        Assert.Equal(48, list.Distinct().Count());
        Assert.All(list, c => Assert.False(c.IsHeldOut));
        Assert.All(list.GroupBy(c => c.Colour), g => Assert.Equal(8, g.Count()));
        Assert.All(list.GroupBy(c => c.Motion), g => Assert.Equal(12, g.Count()));
        Assert.All(list.GroupBy(c => c.Background), g => Assert.Equal(24, g.Count()));
        Assert.Equal([17, 15, 16], Enum.GetValues<TinyWorldShape>().Select(s => list.Count(c => c.Shape == s)));
        Assert.Equal(18, list.Select(c => (c.Colour, c.Shape)).Distinct().Count());
        Assert.All(list.GroupBy(c => (c.Colour, c.Shape)), g => Assert.True(g.Count() >= 2));
        Assert.Equal("a red square moving left on a black background", list[0].ToString()); // red circle left black is held out
        Assert.Equal("a red square moving right on a black background", list[2].ToString());
    }

    [Fact]
    public void Grammar_words_are_the_fixed_nineteen()
    {
        Assert.Equal(
            ["a", "red", "green", "blue", "yellow", "white", "purple", "circle", "square", "triangle", "moving", "left", "right", "up", "down", "on", "black", "gray", "background"],
            TinyWorldGrammar.Words);
        Assert.Equal("moving up", TinyWorldGrammar.Phrase(TinyWorldMotion.Up));
        Assert.Equal("gray", TinyWorldGrammar.Word(TinyWorldBackground.Gray));
    }
}
