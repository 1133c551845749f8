namespace Vchitect.Core.Media;

/// <summary>How <see cref="Video.SaveGif"/> builds the colour tables of an animated GIF.</summary>
public enum GifPalette
{
    /// <summary>Each frame gets its own local colour table of up to 256 colours (best quality; the default).</summary>
    PerFrame = 0,

    /// <summary>One global colour table of up to 256 colours for all frames (smaller file, no palette flicker between frames).</summary>
    Global = 1,
}

/// <summary>How <see cref="Video.SaveGif"/> spreads the quantisation error when a frame has more than 256 colours.</summary>
public enum GifDithering
{
    /// <summary>Each pixel takes the nearest palette colour (the default; smooth gradients show bands).</summary>
    None = 0,

    /// <summary>An 8×8 Bayer threshold pattern (stable between frames, visible cross-hatch texture).</summary>
    Ordered = 1,

    /// <summary>Floyd–Steinberg error diffusion (smoothest stills, noise that can shimmer between frames).</summary>
    FloydSteinberg = 2,
}

/// <summary>
/// Options for <see cref="Video.SaveGif"/>. Frames are always written whole (no inter-frame transparency), with a frame delay of
/// <c>round(100 / fps)</c> centiseconds, at least 2: browsers treat delays under 2 cs as 10 cs, so faster rates would play slower.
/// A GIF therefore cannot play faster than 50 fps, and rates whose period is not a whole number of centiseconds are
/// approximated (8 fps → 13 cs, 7.7 fps).
/// </summary>
public sealed record GifOptions
{
    /// <summary>
    /// How many times the animation repeats after it first plays, written as the NETSCAPE2.0 application extension:
    /// 0 (the default) loops forever; 1..65535 repeats that many times; null writes no extension, so the animation plays once.
    /// </summary>
    public int? LoopCount { get; init; } = 0;

    /// <summary>Per-frame or global colour tables. Default <see cref="GifPalette.PerFrame"/>.</summary>
    public GifPalette Palette { get; init; } = GifPalette.PerFrame;

    /// <summary>
    /// Dithering applied when a frame (or, with <see cref="GifPalette.Global"/>, the video) has more than 256 colours.
    /// Frames with at most 256 distinct colours are always written exactly. Default <see cref="GifDithering.None"/>.
    /// </summary>
    public GifDithering Dithering { get; init; } = GifDithering.None;

    /// <summary>Checks the options, naming the first bad one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public void Validate()
    {
        if (LoopCount is int loop && (loop < 0 || loop > ushort.MaxValue))
        {
            throw new ArgumentOutOfRangeException(nameof(LoopCount), loop, "GifOptions.LoopCount must be null (play once), 0 (forever) or 1..65535.");
        }

        if (!Enum.IsDefined(Palette))
        {
            throw new ArgumentOutOfRangeException(nameof(Palette), Palette, "GifOptions.Palette is not a GifPalette value.");
        }

        if (!Enum.IsDefined(Dithering))
        {
            throw new ArgumentOutOfRangeException(nameof(Dithering), Dithering, "GifOptions.Dithering is not a GifDithering value.");
        }
    }
}
