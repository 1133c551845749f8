using static TorchSharp.torch;

namespace Vchitect.Models.Blocks;

/// <summary>
/// Sinusoidal timestep embedding (diffusers 0.16 <c>Timesteps</c> / <c>get_timestep_embedding</c>): for
/// half = dim/2, f_i = exp(−ln(10000)·i/(half − shift)), emb = [sin(t·f), cos(t·f)], or [cos, sin] when
/// <c>flipSinToCos</c>. Has no parameters. Output is float32.
/// </summary>
public sealed class Timesteps : nn.Module<Tensor, Tensor>
{
    private readonly long _dim;
    private readonly bool _flipSinToCos;
    private readonly double _freqShift;

    /// <summary>Creates the embedding.</summary>
    /// <param name="numChannels">Embedding width (an odd width is zero-padded by one column).</param>
    /// <param name="flipSinToCos">Put cosines first (true for SD and LaVie).</param>
    /// <param name="downscaleFreqShift">The frequency shift (0 for SD and LaVie).</param>
    public Timesteps(long numChannels, bool flipSinToCos, double downscaleFreqShift)
        : base(nameof(Timesteps))
    {
        _dim = numChannels;
        _flipSinToCos = flipSinToCos;
        _freqShift = downscaleFreqShift;
    }

    /// <summary>Embeds 1-D timesteps (N) of any numeric dtype; returns (N, dim) float32.</summary>
    /// <param name="timesteps">The timesteps, one per batch element.</param>
    public override Tensor forward(Tensor timesteps)
    {
        // get_timestep_embedding (diffusers 0.16 embeddings.py)
        long half = _dim / 2;
        using var exponent = arange(0, half, dtype: ScalarType.Float32, device: timesteps.device).mul_(-Math.Log(10000.0)).div_(half - _freqShift);
        using var freqs = exponent.exp();
        using var t = timesteps.to(ScalarType.Float32).unsqueeze(1);
        using var args = t * freqs.unsqueeze(0);
        using var sin = args.sin();
        using var cos = args.cos();
        var emb = _flipSinToCos ? cat([cos, sin], 1) : cat([sin, cos], 1);
        if (_dim % 2 == 1)
        {
            using var e = emb;
            emb = nn.functional.pad(e, [0, 1, 0, 0]);
        }

        return emb;
    }
}
