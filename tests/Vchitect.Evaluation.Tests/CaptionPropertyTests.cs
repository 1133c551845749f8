using FsCheck.Xunit;
using Vchitect.Core.Media;
using Vchitect.Evaluation.TinyWorld;
using Xunit;

namespace Vchitect.Evaluation.Tests;

/// <summary>FsCheck properties of the caption parser, the palette and the evaluator on arbitrary input.</summary>
public sealed class CaptionPropertyTests
{
    private static readonly string[] Pool = [.. TinyWorldGrammar.Words, "pink", "hexagon", "sideways", "the", "", "  ", "Red", "BACKGROUND", ".", "é"];

    [Property(MaxTest = 500)]
    public void Any_text_parses_to_a_round_tripping_caption_or_fails_with_a_message(string text)
    {
        bool ok = TinyWorldCaption.TryParse(text, out TinyWorldCaption? caption, out string? error);
        if (ok)
        {
            Assert.Equal(caption, TinyWorldCaption.Parse(caption!.ToString()));
            Assert.Null(error);
        }
        else
        {
            Assert.False(string.IsNullOrWhiteSpace(error));
            if (text is not null)
            {
                Assert.Equal(error, Assert.Throws<FormatException>(() => TinyWorldCaption.Parse(text)).Message);
            }
        }
    }

    [Property(MaxTest = 500)]
    public void Sentences_of_grammar_words_parse_exactly_when_every_slot_is_right(byte[] picks)
    {
        // Nine words drawn mostly from the grammar: the parser accepts them iff each slot holds an allowed word.
        string[] words = Enumerable.Range(0, 9).Select(i => Pool[(picks is { Length: > 0 } ? picks[i % picks.Length] + i : i) % Pool.Length]).ToArray();
        string text = string.Join(' ', words);
        string[] normal = text.Trim().ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        bool expected = normal.Length == 9 && normal[0] == "a" && TinyWorldGrammar.ColourWords.Contains(normal[1])
            && TinyWorldGrammar.ShapeWords.Contains(normal[2]) && normal[3] == "moving" && TinyWorldGrammar.MotionWords.Contains(normal[4])
            && normal[5] == "on" && normal[6] == "a" && TinyWorldGrammar.BackgroundWords.Contains(normal[7]) && normal[8] == "background";
        Assert.Equal(expected, TinyWorldCaption.TryParse(text, out TinyWorldCaption? caption));
        if (expected)
        {
            Assert.Equal(string.Join(' ', normal), caption!.ToString());
        }
    }

    [Property(MaxTest = 300)]
    public void A_colour_off_by_up_to_40_per_channel_is_still_classified_right(byte colourIndex, sbyte dr, sbyte dg, sbyte db)
    {
        var colour = (TinyWorldColour)(colourIndex % 6);
        Rgb reference = TinyWorldPalette.Of(colour);
        static byte Shift(byte v, sbyte d) => (byte)Math.Clamp(v + (d % 41), 0, 255);
        Assert.Equal(colour, TinyWorldPalette.NearestColour(new Rgb(Shift(reference.R, dr), Shift(reference.G, dg), Shift(reference.B, db))));
    }

    [Property(MaxTest = 60)]
    public void Arbitrary_small_videos_are_observed_without_throwing(byte frames, byte height, byte width, int seed)
    {
        int f = 1 + (frames % 6), h = 1 + (height % 40), w = 1 + (width % 40);
        var pixels = new byte[f * h * w * 3];
        new Random(seed).NextBytes(pixels);
        TinyWorldObservation o = new TinyWorldEvaluator().Observe(new Video(pixels, f, h, w));
        Assert.Equal(f, o.Frames.Count);
    }

    [Fact]
    public void The_palette_keeps_colours_and_backgrounds_apart()
    {
        TinyWorldColour[] colours = Enum.GetValues<TinyWorldColour>();
        double closestPair = colours.SelectMany(a => colours.Where(b => b > a).Select(b => TinyWorldPalette.Of(a).DistanceTo(TinyWorldPalette.Of(b)))).Min();
        double closestToBackground = colours.SelectMany(c => Enum.GetValues<TinyWorldBackground>().Select(b => TinyWorldPalette.Of(c).DistanceTo(TinyWorldPalette.Of(b)))).Min();
        Assert.Equal(151.0, closestPair, 0);          // blue–purple, as docs/tinyworld.md says
        Assert.Equal(125.0, closestToBackground, 0);  // purple on gray
        Assert.True(closestToBackground > 2 * new TinyWorldEvaluatorOptions().DetectionThreshold);
    }
}
