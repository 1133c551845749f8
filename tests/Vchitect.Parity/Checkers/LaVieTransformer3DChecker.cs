using System.Text.Json;
using Vchitect.Core.Weights;
using Vchitect.Models.Blocks;
using static TorchSharp.torch;

namespace Vchitect.Parity.Checkers;

/// <summary>
/// <c>lavie_transformer3d</c>: one LaVie <c>Transformer3DModel</c> (spatial, cross and temporal attention with rotary and
/// relative position bias) built from the fixture's constructor kwargs, weights loaded strictly; <c>sample</c> within 1e-4.
/// </summary>
public sealed class LaVieTransformer3DChecker : IParityChecker
{
    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["lavie_transformer3d"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        var results = new List<ParityResult>();
        using (var scope = NewDisposeScope())
        using (var model = Build(fixture.Config))
        {
            using var weights = fixture.Weights();
            ModuleWeights.Load(model, weights, new WeightLoadOptions { Strict = true });
            model.eval();
            using var mode = inference_mode();
            var x = fixture.In("hidden_states");
            var ehs = fixture.In("encoder_hidden_states");
            var y = model.forward(x, ehs);
            results.Add(ParityResult.Close("sample", fixture.Out("sample"), y, 1e-4));
        }

        return results;
    }

    /// <summary>Builds the model from the reference's constructor kwargs.</summary>
    public static Transformer3DModel Build(JsonElement config)
    {
        long Get(string name, long fallback) => config.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : fallback;
        bool Flag(string name) => config.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
        long? cross = config.TryGetProperty("cross_attention_dim", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt64() : null;
        long heads = Get("num_attention_heads", 16);
        long headDim = Get("attention_head_dim", 88);
        return new Transformer3DModel(
            heads,
            headDim,
            Get("in_channels", heads * headDim),
            Get("num_layers", 1),
            Get("norm_num_groups", 32),
            cross,
            Flag("use_linear_projection"),
            Flag("upcast_attention"),
            Flag("attention_bias"));
    }
}
