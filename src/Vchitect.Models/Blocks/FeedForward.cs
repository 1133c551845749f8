using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// diffusers 0.16 <c>FeedForward</c> with GEGLU: <c>net.0.proj</c> Linear(d → 2·mult·d) split into (h, gate),
/// h·GELU(gate) with exact (erf) GELU, dropout (<c>net.1</c>), then <c>net.2</c> Linear(mult·d → d).
/// </summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> net;

    /// <summary>Creates the feed-forward.</summary>
    /// <param name="dim">Input and output width.</param>
    /// <param name="mult">Hidden width multiplier (4).</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public FeedForward(long dim, long mult = 4, ScalarType? dtype = null, Device? device = null)
        : base(nameof(FeedForward))
    {
        long inner = dim * mult;
        net = nn.ModuleList<nn.Module<Tensor, Tensor>>(
            new GEGLU(dim, inner, dtype, device),
            nn.Dropout(0.0),
            nn.Linear(inner, dim, true, device, dtype));
        RegisterComponents();
    }

    /// <summary>Applies the feed-forward to (…, dim).</summary>
    /// <param name="hiddenStates">The tokens.</param>
    public override Tensor forward(Tensor hiddenStates)
    {
        // FeedForward.forward: for module in self.net
        using var h = net[0].forward(hiddenStates);
        return net[2].forward(h);
    }
}

/// <summary>GEGLU (diffusers 0.16): <c>proj</c> Linear(in → 2·out), split into (h, gate), returns h·GELU(gate) (erf GELU).</summary>
public sealed class GEGLU : nn.Module<Tensor, Tensor>
{
    private readonly Linear proj;

    /// <summary>Creates the gated projection.</summary>
    /// <param name="dimIn">Input width.</param>
    /// <param name="dimOut">Output width (the projection is twice as wide).</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype.</param>
    /// <param name="device">Parameter device; null for the default device.</param>
    public GEGLU(long dimIn, long dimOut, ScalarType? dtype = null, Device? device = null)
        : base(nameof(GEGLU))
    {
        proj = nn.Linear(dimIn, dimOut * 2, true, device, dtype);
        RegisterComponents();
    }

    /// <summary>Applies the gated projection.</summary>
    /// <param name="hiddenStates">The tokens (…, dimIn).</param>
    public override Tensor forward(Tensor hiddenStates)
    {
        // GEGLU.forward
        using var projected = proj.forward(hiddenStates);
        var parts = projected.chunk(2, -1);
        using var h = parts[0];
        using var gate = parts[1];
        using var g = nn.functional.gelu(gate);
        return h * g;
    }
}
