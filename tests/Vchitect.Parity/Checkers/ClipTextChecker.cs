using System.Text.Json;
using Vchitect.Models.TextEncoders;
using static TorchSharp.torch;

namespace Vchitect.Parity.Checkers;

/// <summary>
/// <c>clip_text</c>: transformers <c>CLIPTextModel(config)(input_ids)</c> (causal mask, no padding mask) for one or more
/// cases that differ in <c>eos_token_id</c>, hence in the pooling rule. Each case <c>c</c> stores
/// <c>out.c.{last_hidden_state, pooler_output, hidden_states_penultimate}</c> (and possibly <c>hidden_states.N</c>).
/// </summary>
/// <remarks>
/// The config is either one object per case (<c>config.&lt;case&gt;</c>) or one shared object; in the second form a
/// case's <c>eos_token_id</c> comes from <c>notes.&lt;case&gt;.eos_token_id</c>. Inputs are <c>in.&lt;case&gt;.input_ids</c>
/// or the shared <c>in.input_ids</c> (plus an optional <c>attention_mask</c>). Tolerance: 1e-4 absolute (fixtures README).
/// </remarks>
public sealed class ClipTextChecker : IParityChecker
{
    private const double Atol = 1e-4;

    /// <inheritdoc/>
    public IReadOnlyList<string> Components { get; } = ["clip_text"];

    /// <inheritdoc/>
    public IEnumerable<ParityResult> Check(Fixture fixture)
    {
        var cases = fixture.Outputs
            .Where(o => o.Contains('.', StringComparison.Ordinal))
            .Select(o => o[..o.IndexOf('.', StringComparison.Ordinal)])
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (cases.Count == 0)
        {
            cases.Add(string.Empty);
        }

        foreach (string name in cases)
        {
            foreach (ParityResult result in CheckCase(fixture, name))
            {
                yield return result;
            }
        }
    }

    private static List<ParityResult> CheckCase(Fixture fixture, string name)
    {
        string prefix = name.Length == 0 ? string.Empty : name + ".";
        var results = new List<ParityResult>();
        CLIPTextConfig config;
        try
        {
            config = CaseConfig(fixture, name);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException or NotSupportedException)
        {
            results.Add(ParityResult.Failed(prefix + "config", e.Message));
            return results;
        }

        using var scope = NewDisposeScope();
        using var model = new CLIPTextModel(config);
        using (var weights = fixture.Weights())
        {
            model.LoadWeights(weights);
        }

        model.eval();
        Tensor ids = fixture.HasInput(prefix + "input_ids") ? fixture.In(prefix + "input_ids") : fixture.In("input_ids");
        Tensor? mask = fixture.HasInput(prefix + "attention_mask") ? fixture.In(prefix + "attention_mask")
            : fixture.HasInput("attention_mask") ? fixture.In("attention_mask") : null;
        using var noGrad = no_grad();
        using CLIPTextOutput output = model.forward(new CLIPTextInput(ids, mask, OutputHiddenStates: true));
        IReadOnlyList<Tensor> hidden = output.HiddenStates!;

        foreach (string full in fixture.Outputs.Where(o => o.StartsWith(prefix, StringComparison.Ordinal)))
        {
            string what = full[prefix.Length..];
            Tensor expected = fixture.Out(full);
            Tensor? actual = what switch
            {
                "last_hidden_state" => output.LastHiddenState,
                "pooler_output" => output.PoolerOutput,
                "hidden_states_penultimate" => hidden[^2],
                _ when what.StartsWith("hidden_states.", StringComparison.Ordinal)
                    && int.TryParse(what["hidden_states.".Length..], out int i) && i >= 0 && i < hidden.Count => hidden[i],
                _ => null,
            };
            results.Add(actual is null
                ? ParityResult.Failed(full, $"output '{what}' is not one ClipTextChecker knows")
                : ParityResult.Close(full, expected, actual, Atol));
        }

        return results;
    }

    private static CLIPTextConfig CaseConfig(Fixture fixture, string name)
    {
        JsonElement root = fixture.Config;
        if (name.Length > 0 && root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out JsonElement perCase)
            && perCase.ValueKind == JsonValueKind.Object)
        {
            return CLIPTextConfig.Parse(perCase.GetRawText(), $"{fixture.Path} config.{name}");
        }

        CLIPTextConfig config = CLIPTextConfig.Parse(root.GetRawText(), $"{fixture.Path} config");
        if (name.Length > 0 && fixture.Notes.ValueKind == JsonValueKind.Object
            && fixture.Notes.TryGetProperty(name, out JsonElement notes) && notes.ValueKind == JsonValueKind.Object
            && notes.TryGetProperty("eos_token_id", out JsonElement eos))
        {
            config = config with { EosTokenId = eos.GetInt32() };
        }

        return config;
    }
}
