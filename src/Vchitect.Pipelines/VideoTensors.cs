using Vchitect.Core.Media;
using static TorchSharp.torch;

namespace Vchitect.Pipelines;

/// <summary>Conversions between <see cref="Video"/> and the model-side pixel tensors the pipelines share.</summary>
internal static class VideoTensors
{
    /// <summary>
    /// A video as one model input (1, 3, F, H, W) in [−1, 1]: bytes / 255, resized per frame with bilinear interpolation
    /// (align_corners false, as torchvision-style <c>F.interpolate</c>) when the size differs, then ·2 − 1.
    /// </summary>
    public static Tensor ToModelInput(Video video, int height, int width, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var x = video.ToFloatTensor().permute(0, 3, 1, 2); // (F, 3, H, W) in [0, 1]
        if (video.Height != height || video.Width != width)
        {
            x = nn.functional.interpolate(x, [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
        }

        return ((x * 2) - 1).permute(1, 0, 2, 3).unsqueeze(0).to(dtype, device).MoveToOuterDisposeScope();
    }

    /// <summary>Decoded frames (B, 3, F, H, W) in [−1, 1] as (B, F, H, W, 3) float32 CPU in [0, 1], ready for <see cref="Video.FromTensor"/>.</summary>
    public static Tensor ToFrames(Tensor decoded) =>
        ((decoded / 2) + 0.5).clamp(0, 1).permute(0, 2, 3, 4, 1).to(ScalarType.Float32).cpu();
}
