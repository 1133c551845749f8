namespace Vchitect.Core.Media;

/// <summary>
/// Options for <see cref="Video.SaveMp4"/>: H.264 (libx264) in an MP4 container, 4:2:0 chroma (<c>yuv420p</c>, which every
/// player decodes), frames of odd width or height padded with black to even sizes.
/// </summary>
public sealed record Mp4Options
{
    /// <summary>
    /// libx264's constant rate factor, 0 (lossless luma; 4:2:0 chroma still loses colour detail) to 51 (worst).
    /// Default 18, visually close to lossless; each +6 roughly halves the file size.
    /// </summary>
    public int Crf { get; init; } = 18;

    /// <summary>libx264's speed/size preset: ultrafast, superfast, veryfast, faster, fast, medium (default), slow, slower, veryslow.</summary>
    public string Preset { get; init; } = "medium";

    /// <summary>
    /// The ffmpeg executable. When null (the default), the environment variable <c>VCHITECT_FFMPEG</c> is used if set,
    /// otherwise <c>ffmpeg</c> is searched for on <c>PATH</c>.
    /// </summary>
    public string? FfmpegPath { get; init; }

    /// <summary>How long ffmpeg may run before it is killed and the save fails with <see cref="TimeoutException"/>. Default 10 minutes.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);

    private static readonly string[] Presets =
        ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"];

    /// <summary>Checks the options, naming the first bad one.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="Crf"/> or <see cref="Timeout"/> is out of range.</exception>
    /// <exception cref="ArgumentException"><see cref="Preset"/> is not a libx264 preset, or <see cref="FfmpegPath"/> is empty.</exception>
    public void Validate()
    {
        if (Crf is < 0 or > 51)
        {
            throw new ArgumentOutOfRangeException(nameof(Crf), Crf, "Mp4Options.Crf must be 0..51.");
        }

        if (!Presets.Contains(Preset, StringComparer.Ordinal))
        {
            throw new ArgumentException($"Mp4Options.Preset is '{Preset}'; expected one of {string.Join(", ", Presets)}.", nameof(Preset));
        }

        if (FfmpegPath is not null && string.IsNullOrWhiteSpace(FfmpegPath))
        {
            throw new ArgumentException("Mp4Options.FfmpegPath is empty; use null to search PATH.", nameof(FfmpegPath));
        }

        if (Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "Mp4Options.Timeout must be positive.");
        }
    }
}
