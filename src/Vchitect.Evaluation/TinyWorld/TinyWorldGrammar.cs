namespace Vchitect.Evaluation.TinyWorld;

/// <summary>The colour of the tiny world's object: the caption's <c>&lt;colour&gt;</c> word.</summary>
public enum TinyWorldColour
{
    /// <summary>"red".</summary>
    Red,

    /// <summary>"green".</summary>
    Green,

    /// <summary>"blue".</summary>
    Blue,

    /// <summary>"yellow".</summary>
    Yellow,

    /// <summary>"white".</summary>
    White,

    /// <summary>"purple".</summary>
    Purple,
}

/// <summary>The shape of the tiny world's object: the caption's <c>&lt;shape&gt;</c> word.</summary>
public enum TinyWorldShape
{
    /// <summary>"circle": a disc whose diameter is the object size.</summary>
    Circle,

    /// <summary>"square": an axis-aligned square whose side is the object size.</summary>
    Square,

    /// <summary>"triangle": an isosceles triangle, apex up, base and height equal to the object size.</summary>
    Triangle,
}

/// <summary>The direction the object moves in, at constant speed: the caption's <c>&lt;motion&gt;</c> phrase.</summary>
public enum TinyWorldMotion
{
    /// <summary>"moving left": x decreases.</summary>
    Left,

    /// <summary>"moving right": x increases.</summary>
    Right,

    /// <summary>"moving up": y decreases (towards the top row).</summary>
    Up,

    /// <summary>"moving down": y increases (towards the bottom row).</summary>
    Down,
}

/// <summary>The uniform background of a clip: the caption's <c>&lt;background&gt;</c> word.</summary>
public enum TinyWorldBackground
{
    /// <summary>"black".</summary>
    Black,

    /// <summary>"gray".</summary>
    Gray,
}

/// <summary>
/// The words of the tiny world's caption grammar,
/// <c>a &lt;colour&gt; &lt;shape&gt; &lt;motion&gt; on a &lt;background&gt; background</c>: colours red, green, blue,
/// yellow, white, purple; shapes circle, square, triangle; motions "moving left", "moving right", "moving up",
/// "moving down"; backgrounds black, gray.
/// </summary>
public static class TinyWorldGrammar
{
    private static readonly string[] ColourNames = ["red", "green", "blue", "yellow", "white", "purple"];
    private static readonly string[] ShapeNames = ["circle", "square", "triangle"];
    private static readonly string[] MotionNames = ["left", "right", "up", "down"];
    private static readonly string[] BackgroundNames = ["black", "gray"];

    /// <summary>The colour words, in <see cref="TinyWorldColour"/> order.</summary>
    public static IReadOnlyList<string> ColourWords => ColourNames;

    /// <summary>The shape words, in <see cref="TinyWorldShape"/> order.</summary>
    public static IReadOnlyList<string> ShapeWords => ShapeNames;

    /// <summary>The direction words that follow "moving", in <see cref="TinyWorldMotion"/> order.</summary>
    public static IReadOnlyList<string> MotionWords => MotionNames;

    /// <summary>The background words, in <see cref="TinyWorldBackground"/> order.</summary>
    public static IReadOnlyList<string> BackgroundWords => BackgroundNames;

    /// <summary>
    /// Every distinct word a caption can contain, in order of first use: a, the colours, the shapes, moving, the
    /// directions, on, the backgrounds, background (19 words).
    /// </summary>
    public static IReadOnlyList<string> Words { get; } =
        ["a", .. ColourNames, .. ShapeNames, "moving", .. MotionNames, "on", .. BackgroundNames, "background"];

    /// <summary>The word of a colour ("red").</summary>
    /// <param name="colour">The colour.</param>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="TinyWorldColour"/>.</exception>
    public static string Word(TinyWorldColour colour) => ColourNames[CheckIndex((int)colour, ColourNames.Length, nameof(colour))];

    /// <summary>The word of a shape ("circle").</summary>
    /// <param name="shape">The shape.</param>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="TinyWorldShape"/>.</exception>
    public static string Word(TinyWorldShape shape) => ShapeNames[CheckIndex((int)shape, ShapeNames.Length, nameof(shape))];

    /// <summary>The phrase of a motion ("moving left").</summary>
    /// <param name="motion">The motion.</param>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="TinyWorldMotion"/>.</exception>
    public static string Phrase(TinyWorldMotion motion) => "moving " + MotionNames[CheckIndex((int)motion, MotionNames.Length, nameof(motion))];

    /// <summary>The word of a background ("black").</summary>
    /// <param name="background">The background.</param>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="TinyWorldBackground"/>.</exception>
    public static string Word(TinyWorldBackground background) =>
        BackgroundNames[CheckIndex((int)background, BackgroundNames.Length, nameof(background))];

    internal static int CheckIndex(int value, int count, string name) =>
        value >= 0 && value < count
            ? value
            : throw new ArgumentOutOfRangeException(name, value, $"{name} must be one of the {count} defined values (0..{count - 1}).");
}
