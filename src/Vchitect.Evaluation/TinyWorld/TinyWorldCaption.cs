using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Vchitect.Evaluation.TinyWorld;

/// <summary>
/// One caption of the tiny world, <c>a &lt;colour&gt; &lt;shape&gt; &lt;motion&gt; on a &lt;background&gt; background</c>
/// (for example "a red circle moving left on a black background"), as its four attributes. There are
/// 6 · 3 · 4 · 2 = 144 captions (<see cref="All"/>); the 12 of <see cref="HeldOut"/> are kept out of training to test
/// composition, the other 132 are <see cref="Training"/>.
/// </summary>
public sealed partial record TinyWorldCaption
{
    /// <summary>How many captions the grammar has: 6 colours · 3 shapes · 4 motions · 2 backgrounds = 144.</summary>
    public const int Count = 144;

    /// <summary>How many words every caption has: 9.</summary>
    public const int WordCount = 9;

    private const string Template = "a <colour> <shape> moving <left|right|up|down> on a <background> background";

    /// <summary>
    /// The held-out captions, fixed forever so that results stay comparable: two per colour (one on each background),
    /// four per shape, three per motion, six per background, and each shape–motion pair exactly once. Every single
    /// attribute value, and every pair of attribute values, still appears in <see cref="Training"/>.
    /// </summary>
    private static readonly string[] HeldOutText =
    [
        "a red circle moving left on a black background",
        "a red triangle moving up on a gray background",
        "a green square moving right on a black background",
        "a green circle moving down on a gray background",
        "a blue triangle moving left on a gray background",
        "a blue square moving down on a black background",
        "a yellow circle moving up on a black background",
        "a yellow square moving left on a gray background",
        "a white triangle moving right on a black background",
        "a white square moving up on a gray background",
        "a purple triangle moving down on a black background",
        "a purple circle moving right on a gray background",
    ];

    private static readonly TinyWorldCaption[] AllCaptions = Enumerable.Range(0, Count).Select(FromIndex).ToArray();
    private static readonly TinyWorldCaption[] HeldOutCaptions = HeldOutText.Select(t => Parse(t)).ToArray();
    private static readonly HashSet<int> HeldOutIndices = HeldOutCaptions.Select(c => c.Index).ToHashSet();
    private static readonly TinyWorldCaption[] TrainingCaptions = AllCaptions.Where(c => !HeldOutIndices.Contains(c.Index)).ToArray();
    private static readonly TinyWorldCaption[] EvaluationCaptions = BuildEvaluation();

    /// <summary>Creates a caption from its attributes.</summary>
    /// <param name="colour">The object's colour.</param>
    /// <param name="shape">The object's shape.</param>
    /// <param name="motion">The direction it moves in.</param>
    /// <param name="background">The background.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is not a defined member of its enum.</exception>
    public TinyWorldCaption(TinyWorldColour colour, TinyWorldShape shape, TinyWorldMotion motion, TinyWorldBackground background)
    {
        TinyWorldGrammar.CheckIndex((int)colour, TinyWorldGrammar.ColourWords.Count, nameof(colour));
        TinyWorldGrammar.CheckIndex((int)shape, TinyWorldGrammar.ShapeWords.Count, nameof(shape));
        TinyWorldGrammar.CheckIndex((int)motion, TinyWorldGrammar.MotionWords.Count, nameof(motion));
        TinyWorldGrammar.CheckIndex((int)background, TinyWorldGrammar.BackgroundWords.Count, nameof(background));
        Colour = colour;
        Shape = shape;
        Motion = motion;
        Background = background;
    }

    /// <summary>The object's colour.</summary>
    public TinyWorldColour Colour { get; }

    /// <summary>The object's shape.</summary>
    public TinyWorldShape Shape { get; }

    /// <summary>The direction the object moves in.</summary>
    public TinyWorldMotion Motion { get; }

    /// <summary>The background.</summary>
    public TinyWorldBackground Background { get; }

    /// <summary>
    /// The caption's position in <see cref="All"/>, 0 ≤ index &lt; 144:
    /// ((colour · 3 + shape) · 4 + motion) · 2 + background, each attribute by its enum value.
    /// </summary>
    public int Index => ((((((int)Colour * 3) + (int)Shape) * 4) + (int)Motion) * 2) + (int)Background;

    /// <summary>Whether this caption is one of the <see cref="HeldOut"/> combinations kept out of training.</summary>
    public bool IsHeldOut => HeldOutIndices.Contains(Index);

    /// <summary>All 144 captions, in <see cref="Index"/> order.</summary>
    public static IReadOnlyList<TinyWorldCaption> All => AllCaptions;

    /// <summary>
    /// The 12 held-out captions (never in training), in their documented order:
    /// red circle left/black, red triangle up/gray, green square right/black, green circle down/gray,
    /// blue triangle left/gray, blue square down/black, yellow circle up/black, yellow square left/gray,
    /// white triangle right/black, white square up/gray, purple triangle down/black, purple circle right/gray.
    /// </summary>
    public static IReadOnlyList<TinyWorldCaption> HeldOut => HeldOutCaptions;

    /// <summary>The 132 training captions: <see cref="All"/> without <see cref="HeldOut"/>, in <see cref="Index"/> order.</summary>
    public static IReadOnlyList<TinyWorldCaption> Training => TrainingCaptions;

    /// <summary>
    /// 48 fixed training captions for measuring a model on prompts it has seen: for each colour, motion and background
    /// (6 · 4 · 2), the shape (colour + motion + background) mod 3, each by its enum value, moved on to the next shape
    /// when that caption is held out (5 times). Each colour appears 8 times, each motion 12, each background 24, each
    /// shape 15–17, and every colour–shape pair at least twice. In colour, motion, background order.
    /// </summary>
    public static IReadOnlyList<TinyWorldCaption> Evaluation => EvaluationCaptions;

    /// <summary>The caption with a given <see cref="Index"/>.</summary>
    /// <param name="index">0 ≤ index &lt; 144.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside 0..143.</exception>
    public static TinyWorldCaption FromIndex(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        int background = index % 2;
        int motion = (index / 2) % 4;
        int shape = (index / 8) % 3;
        int colour = index / 24;
        return new TinyWorldCaption((TinyWorldColour)colour, (TinyWorldShape)shape, (TinyWorldMotion)motion, (TinyWorldBackground)background);
    }

    /// <summary>
    /// Parses a caption of the grammar <c>a &lt;colour&gt; &lt;shape&gt; moving &lt;direction&gt; on a &lt;background&gt; background</c>.
    /// Case is ignored, and so are leading, trailing and repeated whitespace; nothing else is (no punctuation, no synonyms).
    /// </summary>
    /// <param name="text">The caption.</param>
    /// <returns>The caption's attributes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="FormatException">The text does not follow the grammar; the message names the first wrong word, its position and what was allowed there.</exception>
    public static TinyWorldCaption Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out TinyWorldCaption? caption, out string? error) ? caption : throw new FormatException(error);
    }

    /// <summary>Parses a caption as <see cref="Parse"/> does, without throwing.</summary>
    /// <param name="text">The caption; null gives false.</param>
    /// <param name="caption">The caption when the text follows the grammar, else null.</param>
    /// <returns>Whether the text follows the grammar.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out TinyWorldCaption? caption) =>
        TryParse(text, out caption, out _);

    /// <summary>Parses a caption as <see cref="Parse"/> does, without throwing, and says what is wrong.</summary>
    /// <param name="text">The caption; null gives false.</param>
    /// <param name="caption">The caption when the text follows the grammar, else null.</param>
    /// <param name="error">Null on success; otherwise the message <see cref="Parse"/> would throw, naming the wrong word.</param>
    /// <returns>Whether the text follows the grammar.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out TinyWorldCaption? caption, [NotNullWhen(false)] out string? error)
    {
        caption = null;
        if (text is null)
        {
            error = "The caption is null.";
            return false;
        }

        string[] words = Spaces().Split(text.Trim().ToLowerInvariant());
        if (words.Length == 1 && words[0].Length == 0)
        {
            words = [];
        }

        if (words.Length != WordCount)
        {
            error = $"Caption \"{text}\" has {words.Length} words; expected {WordCount}: \"{Template}\".";
            return false;
        }

        if (Fixed(text, words, 0, "a", out error) || Fixed(text, words, 3, "moving", out error) || Fixed(text, words, 5, "on", out error)
            || Fixed(text, words, 6, "a", out error) || Fixed(text, words, 8, "background", out error))
        {
            return false;
        }

        if (!Lookup(text, words, 1, "colour", TinyWorldGrammar.ColourWords, out int colour, out error)
            || !Lookup(text, words, 2, "shape", TinyWorldGrammar.ShapeWords, out int shape, out error)
            || !Lookup(text, words, 4, "direction after \"moving\"", TinyWorldGrammar.MotionWords, out int motion, out error)
            || !Lookup(text, words, 7, "background", TinyWorldGrammar.BackgroundWords, out int background, out error))
        {
            return false;
        }

        caption = new TinyWorldCaption((TinyWorldColour)colour, (TinyWorldShape)shape, (TinyWorldMotion)motion, (TinyWorldBackground)background);
        error = null;
        return true;
    }

    /// <summary>The caption's sentence, e.g. "a red circle moving left on a black background" (lower case, single spaces).</summary>
    /// <returns>The text that <see cref="Parse"/> turns back into this caption.</returns>
    public override string ToString() =>
        $"a {TinyWorldGrammar.Word(Colour)} {TinyWorldGrammar.Word(Shape)} {TinyWorldGrammar.Phrase(Motion)} on a {TinyWorldGrammar.Word(Background)} background";

    private static TinyWorldCaption[] BuildEvaluation()
    {
        var list = new List<TinyWorldCaption>(48);
        for (int colour = 0; colour < 6; colour++)
        {
            for (int motion = 0; motion < 4; motion++)
            {
                for (int background = 0; background < 2; background++)
                {
                    int first = (colour + motion + background) % 3;
                    TinyWorldCaption caption = Enumerable.Range(0, 3)
                        .Select(k => new TinyWorldCaption((TinyWorldColour)colour, (TinyWorldShape)((first + k) % 3), (TinyWorldMotion)motion, (TinyWorldBackground)background))
                        .First(c => !HeldOutIndices.Contains(c.Index));
                    list.Add(caption);
                }
            }
        }

        return list.ToArray();
    }

    // True when the word is wrong (so the caller stops).
    private static bool Fixed(string text, string[] words, int position, string expected, [NotNullWhen(true)] out string? error)
    {
        if (words[position] == expected)
        {
            error = null;
            return false;
        }

        error = $"Caption \"{text}\": word {position + 1} is \"{words[position]}\"; expected \"{expected}\" (grammar: \"{Template}\").";
        return true;
    }

    private static bool Lookup(string text, string[] words, int position, string role, IReadOnlyList<string> allowed, out int value, [NotNullWhen(false)] out string? error)
    {
        for (value = 0; value < allowed.Count; value++)
        {
            if (allowed[value] == words[position])
            {
                error = null;
                return true;
            }
        }

        error = $"Caption \"{text}\": word {position + 1} \"{words[position]}\" is not a {role}; expected one of {string.Join(", ", allowed)}.";
        return false;
    }

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Spaces();
}
