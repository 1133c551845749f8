using static TorchSharp.torch;

namespace Vchitect.Models.UNets;

/// <summary>Where in the decoder a <see cref="DecoderSkipHook"/> is called.</summary>
/// <param name="UpBlockIndex">
/// Index of the up block, 0 … <paramref name="UpBlockCount"/> − 1, lowest resolution first (diffusers' <c>resolution_idx</c>:
/// <c>up_blocks.0</c> is 0).
/// </param>
/// <param name="LayerIndex">Index of the resnet inside the block whose input is being built (0 … layers_per_block).</param>
/// <param name="UpBlockCount">Number of up blocks in the UNet.</param>
public readonly record struct DecoderSkipSite(int UpBlockIndex, int LayerIndex, int UpBlockCount);

/// <summary>The two tensors a decoder layer is about to concatenate on the channel axis: backbone features and the skip.</summary>
/// <param name="Hidden">The running (backbone) features h, (B, C_h, F, H, W).</param>
/// <param name="Skip">The skip features s from the encoder, (B, C_s, F, H, W).</param>
public readonly record struct DecoderSkipFeatures(Tensor Hidden, Tensor Skip);

/// <summary>
/// A decoder feature hook (FreeU's extension point): called in every up block just before each resnet's
/// <c>cat([h, skip], dim=1)</c>, it may return other backbone and skip tensors of the same shapes.
/// </summary>
/// <param name="site">Which block and layer.</param>
/// <param name="features">The backbone and skip tensors. The hook must not dispose or modify them in place.</param>
/// <returns>
/// The tensors to concatenate: <paramref name="features"/> unchanged, or new tensors of the same shapes (they belong to the
/// caller's dispose scope; the block disposes them).
/// </returns>
public delegate DecoderSkipFeatures DecoderSkipHook(DecoderSkipSite site, DecoderSkipFeatures features);

/// <summary>The hooks of one UNet's decoder, in the order they were added. Shared by its up blocks.</summary>
internal sealed class DecoderSkipHooks
{
    private readonly List<DecoderSkipHook> _hooks = [];

    public DecoderSkipHooks(int upBlockCount) => UpBlockCount = upBlockCount;

    public int UpBlockCount { get; }

    public bool IsEmpty => _hooks.Count == 0;

    public IDisposable Add(DecoderSkipHook hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        _hooks.Add(hook);
        return new Registration(this, hook);
    }

    /// <summary>Runs every hook in order on (h, skip) and checks that the shapes are kept.</summary>
    public (Tensor Hidden, Tensor Skip) Apply(int upBlockIndex, int layerIndex, Tensor hidden, Tensor skip)
    {
        if (_hooks.Count == 0)
        {
            return (hidden, skip);
        }

        var site = new DecoderSkipSite(upBlockIndex, layerIndex, UpBlockCount);
        var features = new DecoderSkipFeatures(hidden, skip);
        foreach (var hook in _hooks.ToArray())
        {
            features = hook(site, features);
            if (features.Hidden is null || features.Skip is null
                || !features.Hidden.shape.SequenceEqual(hidden.shape) || !features.Skip.shape.SequenceEqual(skip.shape))
            {
                throw new InvalidOperationException(
                    $"A decoder skip hook at up_blocks.{upBlockIndex} layer {layerIndex} returned hidden [{Shape(features.Hidden)}] and skip [{Shape(features.Skip)}]; "
                    + $"expected [{Shape(hidden)}] and [{Shape(skip)}].");
            }
        }

        return (features.Hidden, features.Skip);
    }

    private static string Shape(Tensor? t) => t is null ? "null" : string.Join(", ", t.shape);

    private sealed class Registration(DecoderSkipHooks owner, DecoderSkipHook hook) : IDisposable
    {
        private bool _removed;

        public void Dispose()
        {
            if (!_removed)
            {
                _removed = true;
                owner._hooks.Remove(hook);
            }
        }
    }
}
