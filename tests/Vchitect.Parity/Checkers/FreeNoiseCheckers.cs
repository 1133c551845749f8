using System.Globalization;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using Vchitect.Core.Weights;
using Vchitect.Models.Blocks;
using Vchitect.Pipelines.Plugins;
using static TorchSharp.torch;

namespace Vchitect.Parity.Checkers;

/// <summary>
/// <c>freenoise_lavie</c> (arthur-qiu/FreeNoise-LaVie): LaVie's <see cref="BasicTransformerBlock"/> with FreeNoise's window
/// fusion (<see cref="TemporalWindowing"/>, window 16, stride 4, pyramid weights, no tail window as in <c>get_views</c>)
/// and without it, for every <c>F{n}</c> case (1e-4); the views (exact); the weight sequences (1e-5); the noise
/// rescheduling from the stored permutations (<see cref="FreeNoise.RescheduleNoise"/>, 1e-5).
/// </summary>
public sealed class FreeNoiseLaVieChecker : IParityChecker
{
    // get_views / prepare_latents hard-code these in the reference.
    private const int WindowSize = 16;
    private const int Stride = 4;

    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["freenoise_lavie"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        var results = new List<ParityResult>();
        var windowing = new TemporalWindowing { WindowSize = WindowSize, Stride = Stride, Weighting = WindowWeighting.Pyramid, Tail = WindowTail.Uncovered };
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        using var block = BuildBlock(fixture.Config);
        using (var weights = fixture.Weights())
        {
            ModuleWeights.Load(block, weights, new WeightLoadOptions { Strict = true });
        }

        block.eval();
        foreach (int frames in Cases(fixture))
        {
            string c = $"F{frames}";
            var x = fixture.In($"{c}.hidden_states");
            var text = fixture.In($"{c}.encoder_hidden_states");
            block.TemporalWindowing = null;
            results.Add(ParityResult.Close($"{c}.full", fixture.Out($"{c}.full"), block.forward(x, text, frames), 1e-4));
            block.TemporalWindowing = windowing;
            results.Add(ParityResult.Close($"{c}.windowed", fixture.Out($"{c}.windowed"), block.forward(x, text, frames), 1e-4));
            block.TemporalWindowing = null;
            results.Add(ParityResult.Exact($"{c}.views", fixture.Out($"{c}.views"), WindowTensor(windowing.RegularWindows(frames))));
        }

        foreach (string name in fixture.Outputs.Where(o => o.StartsWith("weight_sequence", StringComparison.Ordinal)))
        {
            int length = int.Parse(name["weight_sequence".Length..], CultureInfo.InvariantCulture);
            var actual = tensor(TemporalWindowing.Weights(length, WindowWeighting.Pyramid), ScalarType.Float64).to(ScalarType.Float32);
            results.Add(ParityResult.Close(name, fixture.Out(name), actual, 1e-5));
        }

        var perms = fixture.In("reschedule.perms");
        var noise = FreeNoise.RescheduleNoise(fixture.In("reschedule.base_noise"), WindowSize, (int)perms.shape[1], Rows(perms));
        results.Add(ParityResult.Close("reschedule.noise", fixture.Out("reschedule.noise"), noise, 1e-5));
        return results;
    }

    /// <summary>The block of the reference call <c>BasicTransformerBlock(**config, rotary_emb=RotaryEmbedding(32))</c>.</summary>
    public static BasicTransformerBlock BuildBlock(JsonElement config)
    {
        long dim = config.GetProperty("dim").GetInt64();
        long heads = config.GetProperty("num_attention_heads").GetInt64();
        long headDim = config.GetProperty("attention_head_dim").GetInt64();
        long? cross = config.TryGetProperty("cross_attention_dim", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt64() : null;
        return new BasicTransformerBlock(dim, heads, headDim, cross);
    }

    internal static Tensor WindowTensor(IReadOnlyList<(int Start, int End)> windows) =>
        tensor(windows.SelectMany(w => new long[] { w.Start, w.End }).ToArray(), [windows.Count, 2], ScalarType.Int64);

    internal static List<long[]> Rows(Tensor perms)
    {
        var rows = new List<long[]>();
        for (long k = 0; k < perms.shape[0]; k++)
        {
            using var row = perms[k];
            rows.Add(row.data<long>().ToArray());
        }

        return rows;
    }

    private static IEnumerable<int> Cases(Fixture fixture) =>
        fixture.Outputs
            .Where(o => o.StartsWith('F') && o.EndsWith(".windowed", StringComparison.Ordinal))
            .Select(o => int.Parse(o[1..o.IndexOf('.', StringComparison.Ordinal)], CultureInfo.InvariantCulture));
}

/// <summary>
/// <c>freenoise_diffusers</c> (diffusers <c>FreeNoiseTransformerBlock</c>, <c>_prepare_latents_free_noise</c>). This library
/// has no diffusers motion-module block, so the block is assembled here from library parts with the same keys
/// (<see cref="CrossAttention"/> ×2 for <c>double_self_attention</c>, <see cref="FeedForward"/> GEGLU, LayerNorms, the
/// stored sinusoidal table <c>pos_embed.pe</c> added before each attention) and the window fusion is the library's
/// <see cref="TemporalWindowing"/> with <see cref="WindowTail.ExtraWindowDiffusers"/>. Checked: the block output per
/// weighting scheme (1e-4), the weights (1e-5), the regular frame indices (exact) and the rescheduled noise from the
/// stored permutations (1e-5). Other configs (cross-attention, ada norms, other activations) are reported as failures.
/// </summary>
public sealed class FreeNoiseDiffusersChecker : IParityChecker
{
    private static readonly (string Name, WindowWeighting Weighting)[] Schemes =
    [
        ("pyramid", WindowWeighting.Pyramid),
        ("flat", WindowWeighting.Flat),
        ("delayed_reverse_sawtooth", WindowWeighting.DelayedReverseSawtooth),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["freenoise_diffusers"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        var results = new List<ParityResult>();
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var config = fixture.Config.GetProperty("block");
        int contextLength = config.GetProperty("context_length").GetInt32();
        int contextStride = config.GetProperty("context_stride").GetInt32();
        string? unsupported = Unsupported(config);
        var x = fixture.In("block.hidden_states");
        int frames = (int)x.shape[1];
        if (unsupported is not null)
        {
            results.AddRange(Schemes.Select(s => ParityResult.Failed($"block.{s.Name}", unsupported)));
        }
        else
        {
            using var block = new DiffusersFreeNoiseBlock(
                config.GetProperty("dim").GetInt64(),
                config.GetProperty("num_attention_heads").GetInt64(),
                config.GetProperty("attention_head_dim").GetInt64(),
                config.GetProperty("num_positional_embeddings").GetInt64());
            using (var weights = fixture.Weights())
            {
                ModuleWeights.Load(block, weights, new WeightLoadOptions { Strict = true });
            }

            block.eval();
            foreach (var (name, weighting) in Schemes)
            {
                var windowing = new TemporalWindowing { WindowSize = contextLength, Stride = contextStride, Weighting = weighting, Tail = WindowTail.ExtraWindowDiffusers };
                results.Add(ParityResult.Close($"block.{name}", fixture.Out($"block.{name}"), block.forward(x, windowing), 1e-4));
            }
        }

        foreach (var (name, weighting) in Schemes)
        {
            var actual = tensor(TemporalWindowing.Weights(contextLength, weighting), ScalarType.Float64).to(ScalarType.Float32);
            results.Add(ParityResult.Close($"block.weights.{name}", fixture.Out($"block.weights.{name}"), actual, 1e-5));
        }

        var regular = new TemporalWindowing { WindowSize = contextLength, Stride = contextStride }.RegularWindows(frames);
        results.Add(ParityResult.Exact("block.frame_indices", fixture.Out("block.frame_indices"), FreeNoiseLaVieChecker.WindowTensor(regular)));

        var reschedule = fixture.Config.GetProperty("reschedule");
        int window = reschedule.GetProperty("context_length").GetInt32();
        int stride = reschedule.GetProperty("context_stride").GetInt32();
        var noise = fixture.In("reschedule.base_noise");
        var starts = fixture.In("reschedule.dest_start").data<long>().ToArray();
        var expectedStarts = Enumerable.Range(0, starts.Length).Select(k => (long)(window + (k * stride))).ToArray();
        if (!starts.SequenceEqual(expectedStarts))
        {
            results.Add(ParityResult.Failed("reschedule.noise", $"dest_start [{string.Join(", ", starts)}] is not W, W+S, … = [{string.Join(", ", expectedStarts)}]"));
        }
        else
        {
            var rescheduled = FreeNoise.RescheduleNoise(noise, window, stride, FreeNoiseLaVieChecker.Rows(fixture.In("reschedule.perms")));
            results.Add(ParityResult.Close("reschedule.noise", fixture.Out("reschedule.noise"), rescheduled, 1e-5));
        }

        return results;
    }

    private static string? Unsupported(JsonElement c)
    {
        bool Is(string name, JsonValueKind kind) => !c.TryGetProperty(name, out var v) || v.ValueKind == kind;
        bool Text(string name, string value) => !c.TryGetProperty(name, out var v) || v.GetString() == value;
        var problems = new List<string>();
        if (!Is("cross_attention_dim", JsonValueKind.Null))
        {
            problems.Add("cross_attention_dim is set");
        }

        if (!Is("double_self_attention", JsonValueKind.True))
        {
            problems.Add("double_self_attention is not true");
        }

        if (!Is("attention_bias", JsonValueKind.False))
        {
            problems.Add("attention_bias is true");
        }

        if (!Text("activation_fn", "geglu"))
        {
            problems.Add("activation_fn is not geglu");
        }

        if (!Text("positional_embeddings", "sinusoidal"))
        {
            problems.Add("positional_embeddings is not sinusoidal");
        }

        if (!Text("norm_type", "layer_norm"))
        {
            problems.Add("norm_type is not layer_norm");
        }

        return problems.Count == 0 ? null : "config not assembled by this checker: " + string.Join(", ", problems);
    }

    /// <summary>
    /// diffusers' <c>FreeNoiseTransformerBlock</c> (layer norms, <c>double_self_attention</c>, sinusoidal positions,
    /// GEGLU) from library parts. Per window: x += attn1(norm1(x) + pe); x += attn2(norm2(x) + pe); the windows are fused
    /// by <see cref="TemporalWindowing.Fuse"/>; then x += ff(norm3(x)).
    /// </summary>
    private sealed class DiffusersFreeNoiseBlock : nn.Module<Tensor, TemporalWindowing, Tensor>
    {
        private readonly PositionTable pos_embed;
        private readonly LayerNorm norm1;
        private readonly CrossAttention attn1;
        private readonly LayerNorm norm2;
        private readonly CrossAttention attn2;
        private readonly FeedForward ff;
        private readonly LayerNorm norm3;

        public DiffusersFreeNoiseBlock(long dim, long heads, long headDim, long positions)
            : base(nameof(DiffusersFreeNoiseBlock))
        {
            pos_embed = new PositionTable(positions, dim);
            norm1 = nn.LayerNorm(dim);
            attn1 = new CrossAttention(dim, null, heads, headDim);
            norm2 = nn.LayerNorm(dim);
            attn2 = new CrossAttention(dim, null, heads, headDim);
            ff = new FeedForward(dim);
            norm3 = nn.LayerNorm(dim);
            RegisterComponents();
        }

        public override Tensor forward(Tensor hiddenStates, TemporalWindowing windowing)
        {
            using var scope = NewDisposeScope();
            var h = windowing.Fuse(hiddenStates, Window);
            return (ff.forward(norm3.forward(h)) + h).MoveToOuterDisposeScope();
        }

        private Tensor Window(Tensor chunk)
        {
            var pe = pos_embed.Table(chunk.shape[1]);
            chunk = attn1.forward(norm1.forward(chunk) + pe, null) + chunk;
            return attn2.forward(norm2.forward(chunk) + pe, null) + chunk;
        }
    }

    /// <summary>diffusers' <c>SinusoidalPositionalEmbedding</c>: the buffer <c>pe</c> (1, max_len, dim), added as x + pe[:, :F].</summary>
    private sealed class PositionTable : nn.Module
    {
        private readonly Tensor pe;

        public PositionTable(long positions, long dim)
            : base(nameof(PositionTable))
        {
            pe = zeros(1, positions, dim);
            register_buffer(nameof(pe), pe);
        }

        // The loader copies the stored table into the registered buffer in place.
        public Tensor Table(long frames) => pe.narrow(1, 0, frames);
    }
}
