namespace Vchitect.Core.Media;

/// <summary>
/// Options and safety limits for <see cref="Video.Load"/>, <see cref="Video.LoadImage"/> and <see cref="Video.LoadFrames"/>.
/// The limits are checked against the sizes a file declares before pixels are decoded, so a hostile file cannot make the
/// loader allocate more than they allow.
/// </summary>
public sealed record VideoLoadOptions
{
    /// <summary>Reads at most this many frames from the start (the rest are ignored); null (the default) reads all, within <see cref="MaxTotalBytes"/>.</summary>
    public int? MaxFrames { get; init; }

    /// <summary>Resize every frame to this width (needs <see cref="Height"/> too); null keeps the file's size.</summary>
    public int? Width { get; init; }

    /// <summary>Resize every frame to this height (needs <see cref="Width"/> too); null keeps the file's size.</summary>
    public int? Height { get; init; }

    /// <summary>
    /// The frame rate of the result. When null (the default) it comes from the file (ffprobe's average frame rate, or for an
    /// animated GIF/WebP the mean frame duration), and is <see cref="Video.DefaultFps"/> for still images and frame folders.
    /// </summary>
    public double? Fps { get; init; }

    /// <summary>Largest width or height a file may declare, in pixels. Default 16384.</summary>
    public int MaxDimension { get; init; } = 16384;

    /// <summary>Largest number of pixels a frame may declare (width × height). Default 2^28 (16384²).</summary>
    public long MaxPixelsPerFrame { get; init; } = 1L << 28;

    /// <summary>Largest size of the decoded video (frames × height × width × 3 bytes). Default and upper bound <see cref="Array.MaxLength"/>.</summary>
    public long MaxTotalBytes { get; init; } = Array.MaxLength;

    /// <summary>How long ffmpeg or ffprobe may run before it is killed and loading fails with <see cref="TimeoutException"/>. Default 2 minutes.</summary>
    public TimeSpan FfmpegTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The ffmpeg executable; null uses <c>VCHITECT_FFMPEG</c> if set, otherwise <c>ffmpeg</c> on <c>PATH</c>.</summary>
    public string? FfmpegPath { get; init; }

    /// <summary>The ffprobe executable; null uses <c>VCHITECT_FFPROBE</c> if set, then <c>ffprobe</c> beside ffmpeg, then on <c>PATH</c>.</summary>
    public string? FfprobePath { get; init; }

    /// <summary>Checks the options, naming the first bad one.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="ArgumentException">Only one of <see cref="Width"/> and <see cref="Height"/> is set, or a path is empty.</exception>
    public void Validate()
    {
        if (MaxFrames is int mf && mf < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxFrames), mf, "VideoLoadOptions.MaxFrames must be null or at least 1.");
        }

        if (Width.HasValue != Height.HasValue)
        {
            throw new ArgumentException("VideoLoadOptions.Width and Height must be set together (or neither).", Width.HasValue ? nameof(Height) : nameof(Width));
        }

        if (MaxDimension < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDimension), MaxDimension, "VideoLoadOptions.MaxDimension must be at least 1.");
        }

        if (MaxPixelsPerFrame < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPixelsPerFrame), MaxPixelsPerFrame, "VideoLoadOptions.MaxPixelsPerFrame must be at least 1.");
        }

        if (MaxTotalBytes < 3 || MaxTotalBytes > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxTotalBytes), MaxTotalBytes, $"VideoLoadOptions.MaxTotalBytes must be 3..{Array.MaxLength}.");
        }

        if (Width is int w && (w < 1 || w > MaxDimension))
        {
            throw new ArgumentOutOfRangeException(nameof(Width), w, $"VideoLoadOptions.Width must be 1..MaxDimension ({MaxDimension}).");
        }

        if (Height is int h && (h < 1 || h > MaxDimension))
        {
            throw new ArgumentOutOfRangeException(nameof(Height), h, $"VideoLoadOptions.Height must be 1..MaxDimension ({MaxDimension}).");
        }

        if (Width is int w2 && Height is int h2 && (long)w2 * h2 > MaxPixelsPerFrame)
        {
            throw new ArgumentOutOfRangeException(nameof(Width), w2, $"VideoLoadOptions.Width × Height exceeds MaxPixelsPerFrame ({MaxPixelsPerFrame}).");
        }

        if (Fps is double fps && (!double.IsFinite(fps) || fps <= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(Fps), fps, "VideoLoadOptions.Fps must be null or a finite number greater than 0.");
        }

        if (FfmpegTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(FfmpegTimeout), FfmpegTimeout, "VideoLoadOptions.FfmpegTimeout must be positive.");
        }

        if ((FfmpegPath is not null && string.IsNullOrWhiteSpace(FfmpegPath)) || (FfprobePath is not null && string.IsNullOrWhiteSpace(FfprobePath)))
        {
            throw new ArgumentException("VideoLoadOptions.FfmpegPath/FfprobePath is empty; use null to search.", FfmpegPath is not null && string.IsNullOrWhiteSpace(FfmpegPath) ? nameof(FfmpegPath) : nameof(FfprobePath));
        }
    }
}
