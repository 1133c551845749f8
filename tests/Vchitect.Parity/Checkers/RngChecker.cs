using Vchitect.Core;
using static TorchSharp.torch;

namespace Vchitect.Parity.Checkers;

/// <summary>
/// <c>rng</c>: for each seed s, <c>torch.manual_seed(s); a = torch.randn(1,4,16,40,64); b = torch.randn(5)</c>
/// (stored: <c>a[0,:,:2]</c> and b), then with <c>g = torch.Generator().manual_seed(s)</c>:
/// <c>randn(3,7)</c>, <c>rand(4,4)</c>, <c>randperm(10)</c> in that order. Every draw must be reproduced exactly.
/// </summary>
public sealed class RngChecker : IParityChecker
{
    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["rng"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        foreach (var seedElement in fixture.Config.GetProperty("seeds").EnumerateArray())
        {
            long seed = seedElement.GetInt64();
            string p = $"seed{seed}.";
            var results = new List<ParityResult>();
            using (var scope = NewDisposeScope())
            {
                // The global generator, as torch.manual_seed + torch.randn use it.
                manual_seed(seed);
                var a = randn([1, 4, 16, 40, 64]);
                var b = randn([5]);
                results.Add(ParityResult.Exact(p + "randn_1x4x16x40x64", fixture.Out(p + "randn_1x4x16x40x64"), a[0, TensorIndex.Colon, TensorIndex.Slice(0, 2)]));
                results.Add(ParityResult.Exact(p + "randn_then_5", fixture.Out(p + "randn_then_5"), b));

                // A dedicated generator, as pipelines use it.
                using var gen = new RandomGenerator(seed);
                results.Add(ParityResult.Exact(p + "gen_randn_3x7", fixture.Out(p + "gen_randn_3x7"), gen.Randn([3, 7])));
                results.Add(ParityResult.Exact(p + "gen_rand_4x4", fixture.Out(p + "gen_rand_4x4"), gen.Rand([4, 4])));
                results.Add(ParityResult.Exact(p + "gen_randperm_10", fixture.Out(p + "gen_randperm_10"), gen.Randperm(10)));
            }

            foreach (var r in results)
            {
                yield return r;
            }
        }
    }
}
