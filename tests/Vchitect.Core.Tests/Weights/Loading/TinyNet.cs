using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Weights.Loading;

/// <summary>
/// A small module with a Conv2d, a BatchNorm (buffers, an int64 counter among them), a ModuleList and a bias-free Linear.
/// Keys: conv_in.{weight,bias}, norm.{weight,bias,running_mean,running_var,num_batches_tracked},
/// blocks.{0,1}.{weight,bias}, proj_out.weight.
/// </summary>
internal sealed class TinyNet : nn.Module<Tensor, Tensor>
{
    public const int KeyCount = 12;

#pragma warning disable IDE1006 // checkpoint key names
    private readonly Conv2d conv_in;
    private readonly BatchNorm2d norm;
    private readonly ModuleList<Linear> blocks;
    private readonly Linear proj_out;
#pragma warning restore IDE1006

    public TinyNet(Device? device = null)
        : base(nameof(TinyNet))
    {
        conv_in = nn.Conv2d(3, 4, 3, padding: 1, device: device);
        norm = nn.BatchNorm2d(4, device: device);
        blocks = nn.ModuleList(nn.Linear(4, 8, device: device), nn.Linear(8, 4, device: device));
        proj_out = nn.Linear(4, 2, hasBias: false, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = norm.forward(conv_in.forward(input)).mean([2, 3]);
        foreach (var block in blocks)
        {
            x = block.forward(x);
        }

        return proj_out.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>A state dict with this module's keys, shapes and dtypes, filled with seeded random values.</summary>
    public static Dictionary<string, Tensor> RandomStateDict(long seed, ScalarType dtype = ScalarType.Float32)
    {
        using var model = new TinyNet();
        var generator = new Generator((ulong)seed);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, tensor) in model.state_dict())
        {
            result[key] = tensor.dtype == ScalarType.Int64
                ? torch.tensor(seed + 100)
                : torch.randn(tensor.shape, generator: generator).to(dtype);
        }

        return result;
    }

    /// <summary>Detached copies of the module's current state, to compare with later.</summary>
    public Dictionary<string, Tensor> Snapshot() =>
        state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone(), StringComparer.Ordinal);
}
