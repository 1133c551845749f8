using Vchitect.Models.Denoising;
using Vchitect.Models.UNets;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Plugins;

/// <summary>
/// FreeU (Si et al., CVPR 2024): in the UNet decoder's two lowest-resolution stages, scales the first half of the backbone
/// channels by b and damps the skip features' low frequencies by s, just before each skip concatenation. Training-free,
/// negligible cost. A denoiser decorator: <c>pipe.Use(new FreeU(FreeUOptions.SD14))</c>.
/// </summary>
/// <remarks>
/// <para>During each <see cref="IVideoDenoiser.Predict"/> the decorator finds the UNet under the denoiser stack
/// (<c>Find&lt;UNet3DDenoiser&gt;()</c>), adds a decoder skip hook (<see cref="UNet3DConditionModel.AddDecoderSkipHook"/>),
/// calls the inner denoiser and removes the hook, also when it throws. Nothing is left on the model between calls, so
/// FreeU composes with any other plugin in any order.</para>
/// <para>Maths: diffusers' <c>apply_freeu</c> and <c>fourier_filter</c> (<c>utils/torch_utils.py</c>), the official
/// <c>Fourier_filter</c> (ChenyangSi/FreeU <c>demo/free_lunch_utils.py</c>). The Fourier filter always runs in at least
/// float32 (float16 and bfloat16 features are upcast and cast back; diffusers keeps float16 for power-of-two sizes).</para>
/// </remarks>
public sealed class FreeU : IPipelinePlugin
{
    /// <summary>Creates the plugin.</summary>
    /// <param name="options">The factors and variants; null for <see cref="FreeUOptions.Video"/> (b1 1.2, b2 1.4, s1 0.9, s2 0.2).</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the parameter name is the option's).</exception>
    public FreeU(FreeUOptions? options = null)
    {
        options ??= FreeUOptions.Video;
        options.Validate();
        Options = options;
    }

    /// <summary>The options.</summary>
    public FreeUOptions Options { get; }

    /// <inheritdoc/>
    public IVideoDenoiser WrapDenoiser(IVideoDenoiser inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        return new FreeUDenoiser(inner, this);
    }

    /// <summary>
    /// FreeU's Fourier filter (diffusers' <c>fourier_filter</c>): FFT over the last two dims, fftshift, multiply the centred
    /// box of rows [H/2 − r, H/2 + r) and columns [W/2 − r, W/2 + r) by <paramref name="scale"/>, inverse shift and FFT,
    /// real part. Computed in float32 (float64 input stays float64) and returned in the input's dtype.
    /// </summary>
    /// <param name="x">Features (…, H, W), at least 2-D; not modified.</param>
    /// <param name="threshold">The box half-size r, ≥ 1.</param>
    /// <param name="scale">The factor for the box.</param>
    /// <returns>A new tensor of the input's shape and dtype.</returns>
    /// <exception cref="ArgumentException"><paramref name="x"/> has fewer than 2 dims.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is below 1.</exception>
    public static Tensor FourierFilter(Tensor x, int threshold, double scale)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.ndim < 2)
        {
            throw new ArgumentException($"The Fourier filter needs (…, H, W) features; got [{string.Join(", ", x.shape)}].", nameof(x));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        using var scope = NewDisposeScope();
        long h = x.shape[^2], w = x.shape[^1];
        var work = x.dtype == ScalarType.Float64 ? x : x.to(ScalarType.Float32);
        long[] dims = [-2, -1];
        var freq = fft.fftshift(fft.fftn(work, dim: dims), dims);

        var mask = ones(h, w, dtype: work.dtype, device: x.device);
        long crow = h / 2, ccol = w / 2;
        var (r0, r1) = PythonSlice(crow - threshold, crow + threshold, h);
        var (c0, c1) = PythonSlice(ccol - threshold, ccol + threshold, w);
        if (r1 > r0 && c1 > c0)
        {
            mask[TensorIndex.Slice(r0, r1), TensorIndex.Slice(c0, c1)] = tensor(scale, work.dtype, x.device);
        }

        freq *= mask;

        var filtered = fft.ifftn(fft.ifftshift(freq, dims), dim: dims).real;
        return filtered.to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Applies FreeU at one decoder layer, as diffusers' <c>apply_freeu</c>: stage 0 scales the first C/2 backbone channels
    /// by b1 (or the structure-aware map) and filters the skip with (r, s1); stage 1 the same with b2 and s2; any other stage
    /// returns the inputs unchanged.
    /// </summary>
    /// <param name="stage">0 for (b1, s1), 1 for (b2, s2), anything else for no change (diffusers' <c>resolution_idx</c>).</param>
    /// <param name="hidden">Backbone features (B, C, …, H, W); not modified.</param>
    /// <param name="skip">Skip features (B, C', …, H, W); not modified.</param>
    /// <returns>
    /// The new backbone and skip features: new tensors, or the inputs themselves when the stage is not 0 or 1 or a factor
    /// is exactly 1 (the identity, so b = s = 1 gives bit-identical results to no FreeU).
    /// </returns>
    public DecoderSkipFeatures Apply(int stage, Tensor hidden, Tensor skip)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        ArgumentNullException.ThrowIfNull(skip);
        if (stage is not (0 or 1))
        {
            return new DecoderSkipFeatures(hidden, skip);
        }

        double b = stage == 0 ? Options.B1 : Options.B2;
        double s = stage == 0 ? Options.S1 : Options.S2;
        // A factor of exactly 1 is the identity: skip the work (and the FFT round trip's rounding).
        return new DecoderSkipFeatures(
            b == 1 ? hidden : ScaleBackbone(hidden, b),
            s == 1 ? skip : FourierFilter(skip, Options.Threshold, s));
    }

    // Python's x[start:stop] bounds for a length-n axis (a negative start counts from the end), as the reference's mask slice.
    private static (long Start, long Stop) PythonSlice(long start, long stop, long n)
    {
        static long Normalise(long i, long n) => Math.Clamp(i < 0 ? i + n : i, 0, n);
        return (Normalise(start, n), Normalise(stop, n));
    }

    private Tensor ScaleBackbone(Tensor h, double b)
    {
        using var scope = NewDisposeScope();
        long half = h.shape[1] / 2;
        var first = h[TensorIndex.Colon, TensorIndex.Slice(0, half)];
        var rest = h[TensorIndex.Colon, TensorIndex.Slice(half, null)];
        Tensor scaledFirst;
        if (Options.BackboneScaling == FreeUBackboneScaling.Constant)
        {
            // h[:, :half] * b with b a scalar (as the reference: half-precision features are scaled in float32 arithmetic).
            scaledFirst = first * b;
        }
        else
        {
            // README Free_UNetModel: m = mean over channels, min-max normalised per sample over H·W (per frame for video).
            var mean = h.mean([1], keepdim: true);                        // (B, 1, …, H, W)
            var flat = mean.flatten(-2);                                   // (B, 1, …, H·W)
            var min = flat.amin([-1], keepdim: true).unsqueeze(-1);
            var max = flat.amax([-1], keepdim: true).unsqueeze(-1);
            var normalised = (mean - min) / (max - min);
            var factor = ((b - 1) * normalised) + 1;                      // (B, 1, …, H, W)
            scaledFirst = first * factor;
        }

        return cat([scaledFirst, rest], 1).MoveToOuterDisposeScope();
    }

    /// <summary>Which stage (0, 1, or −1 for none) a decoder layer belongs to under the options' placement.</summary>
    internal int StageOf(DecoderSkipSite site, long hiddenChannels, int stage1Channels, int stage2Channels) => Options.Placement switch
    {
        FreeUPlacement.ByBlockIndex => site.UpBlockIndex is 0 or 1 ? site.UpBlockIndex : -1,
        _ => hiddenChannels == stage1Channels ? 0 : hiddenChannels == stage2Channels ? 1 : -1,
    };

    /// <summary>The stage channel counts for <see cref="FreeUPlacement.ByChannelCount"/>: the options', or the UNet's two largest widths.</summary>
    internal (int Stage1, int Stage2) StageChannels(UNet3DConditionConfig config)
    {
        var widths = config.BlockOutChannels.Distinct().OrderDescending().ToArray();
        int stage1 = Options.Stage1Channels ?? widths[0];
        int stage2 = Options.Stage2Channels ?? (widths.Length > 1 ? widths[1] : -1);
        return (stage1, stage2);
    }

    /// <summary>The decorator: installs the hook for the duration of one prediction.</summary>
    private sealed class FreeUDenoiser(IVideoDenoiser inner, FreeU plugin) : IVideoDenoiser
    {
        public int InChannels => inner.InChannels;

        public Tensor Predict(Tensor latents, Tensor timestep, VideoConditioning conditioning)
        {
            var unet = inner.Find<UNet3DDenoiser>()?.Model
                ?? throw new InvalidOperationException(
                    $"FreeU needs a UNet3DConditionModel (through a UNet3DDenoiser) under the denoiser; {inner.GetType().Name} has none.");
            var (stage1, stage2) = plugin.StageChannels(unet.Config);
            using var hook = unet.AddDecoderSkipHook((site, features) =>
            {
                int stage = plugin.StageOf(site, features.Hidden.shape[1], stage1, stage2);
                return stage < 0 ? features : plugin.Apply(stage, features.Hidden, features.Skip);
            });
            return inner.Predict(latents, timestep, conditioning);
        }

        public T? Find<T>()
            where T : class => this as T ?? inner.Find<T>();
    }
}
