using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// 2-D convolution with a workaround for libtorch's CPU bfloat16 kernels: measured 2026-12-05 with TorchSharp-cpu 0.107
/// (libtorch 2.10) on an AMD EPYC with avx512_bf16, a bfloat16 <c>conv2d</c> with fewer than 16 output channels is off by
/// ~25% mean relative error (3, 4, 7 and 8 outputs; 16 and more are at bfloat16's usual 0.3%). Such convolutions — the
/// UNets' and VAEs' output convolutions — run in float32 and are cast back; every other case calls <c>conv2d</c> as is.
/// </summary>
internal static class Conv2dMath
{
    /// <summary>Output channels below which a CPU bfloat16 convolution is computed in float32.</summary>
    public const long MinBFloat16OutChannels = 16;

    /// <summary><c>conv2d(x, weight, bias)</c> with square stride and padding, upcast where the workaround applies.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, long stride, long padding)
    {
        if (x.dtype != ScalarType.BFloat16 || x.device_type != DeviceType.CPU || weight.shape[0] >= MinBFloat16OutChannels)
        {
            return nn.functional.conv2d(x, weight, bias, strides: [stride, stride], padding: [padding, padding]);
        }

        using var scope = NewDisposeScope();
        var y = nn.functional.conv2d(
            x.to(ScalarType.Float32),
            weight.to(ScalarType.Float32),
            bias?.to(ScalarType.Float32),
            strides: [stride, stride],
            padding: [padding, padding]);
        return y.to(ScalarType.BFloat16).MoveToOuterDisposeScope();
    }

    /// <summary>Runs <paramref name="conv"/> (built with square <paramref name="stride"/> and <paramref name="padding"/>, zero padding mode) on <paramref name="x"/>.</summary>
    public static Tensor Forward(TorchSharp.Modules.Conv2d conv, Tensor x, long stride, long padding) =>
        Conv2d(x, conv.weight!, conv.bias, stride, padding);
}
