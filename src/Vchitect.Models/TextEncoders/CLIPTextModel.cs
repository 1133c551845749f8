using Microsoft.Extensions.Logging;
using TorchSharp;
using TorchSharp.Modules;
using Vchitect.Core.Models;
using Vchitect.Core.Weights;
using static TorchSharp.torch;

namespace Vchitect.Models.TextEncoders;

/// <summary>The inputs of <see cref="CLIPTextModel.forward"/>.</summary>
/// <param name="InputIds">Token ids, int64, shape (B, L) with L ≤ <c>max_position_embeddings</c>. Not disposed by the model.</param>
/// <param name="AttentionMask">
/// Optional padding mask (B, L): 1 (or true) for tokens to attend to, 0 for padding; combined with the causal mask.
/// Null (the default, as Stable Diffusion calls the encoder) applies the causal mask only.
/// </param>
/// <param name="OutputHiddenStates">Whether to return every layer's hidden states in <see cref="CLIPTextOutput.HiddenStates"/>. Default false.</param>
public sealed record CLIPTextInput(Tensor InputIds, Tensor? AttentionMask = null, bool OutputHiddenStates = false);

/// <summary>The outputs of <see cref="CLIPTextModel.forward"/>; the caller owns (and disposes) every tensor.</summary>
public sealed class CLIPTextOutput : IDisposable
{
    internal CLIPTextOutput(Tensor lastHiddenState, Tensor poolerOutput, IReadOnlyList<Tensor>? hiddenStates)
    {
        LastHiddenState = lastHiddenState;
        PoolerOutput = poolerOutput;
        HiddenStates = hiddenStates;
    }

    /// <summary>The last layer's output after <c>final_layer_norm</c>, (B, L, hidden): what Stable Diffusion v1 conditions on.</summary>
    public Tensor LastHiddenState { get; }

    /// <summary>The row of <see cref="LastHiddenState"/> at each sequence's end-of-text token, (B, hidden).</summary>
    public Tensor PoolerOutput { get; }

    /// <summary>
    /// When requested: the embeddings followed by each layer's output, <c>num_hidden_layers + 1</c> tensors of (B, L, hidden),
    /// none of them normalised by <c>final_layer_norm</c> (as transformers' <c>output_hidden_states</c>). The penultimate
    /// layer, which SD 2.x-style pipelines use, is <c>HiddenStates[^2]</c>. Null when not requested.
    /// </summary>
    public IReadOnlyList<Tensor>? HiddenStates { get; }

    /// <summary>Disposes every tensor of the output.</summary>
    public void Dispose()
    {
        LastHiddenState.Dispose();
        PoolerOutput.Dispose();
        if (HiddenStates is not null)
        {
            foreach (Tensor t in HiddenStates)
            {
                t.Dispose();
            }
        }
    }
}

/// <summary>
/// The CLIP text encoder (transformers <c>CLIPTextModel</c>, <c>models/clip/modeling_clip.py</c>): token + position
/// embeddings, pre-LayerNorm transformer layers with causal self-attention, a final LayerNorm, and pooling at the
/// end-of-text token. Stable Diffusion v1.4 / LaVie use the OpenAI ViT-L/14 tower (<see cref="CLIPTextConfig.ClipVitL14"/>);
/// the x4 upscaler the OpenCLIP ViT-H/14 one (<see cref="CLIPTextConfig.OpenClipVitH14"/>).
/// </summary>
/// <remarks>
/// <para>
/// Parameter names are transformers 5's state-dict keys: <c>embeddings.token_embedding.weight</c>,
/// <c>encoder.layers.N.{self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1, mlp.fc2, layer_norm2}</c>, <c>final_layer_norm</c>.
/// Checkpoints written by older transformers (Stable Diffusion's <c>text_encoder/</c>) put them under <c>text_model.</c>
/// and may carry <c>text_model.embeddings.position_ids</c>; <see cref="LoadWeights"/> and <see cref="CheckpointLoadOptions"/>
/// accept both layouts. Position ids are not a buffer here (0..L−1 is computed in <c>forward</c>).
/// </para>
/// <para>Attention runs through <c>scaled_dot_product_attention</c>; dropout is never applied (inference only).</para>
/// </remarks>
public sealed class CLIPTextModel : nn.Module<CLIPTextInput, CLIPTextOutput>
{
    private readonly CLIPTextEmbeddings embeddings;
    private readonly CLIPEncoder encoder;
    private readonly LayerNorm final_layer_norm;
    private readonly int _eosTokenId;
    private readonly bool _legacyPooling;

    /// <summary>Builds the model with freshly initialised weights (load real ones with <see cref="LoadWeights"/>).</summary>
    /// <param name="config">The config; validated here.</param>
    /// <param name="dtype">Parameter dtype; null for the default dtype (float32).</param>
    /// <param name="device">Parameter device; null for the default device (CPU).</param>
    /// <exception cref="ArgumentNullException"><paramref name="config"/> is null.</exception>
    /// <exception cref="Vchitect.Core.Configuration.ConfigException">The config is invalid (the field is named).</exception>
    /// <exception cref="NotSupportedException">The config's activation is not supported.</exception>
    public CLIPTextModel(CLIPTextConfig config, ScalarType? dtype = null, Device? device = null)
        : base(nameof(CLIPTextModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        _eosTokenId = config.EosTokenId;
        _legacyPooling = config.UsesLegacyPooling;
        embeddings = new CLIPTextEmbeddings(config, dtype, device);
        encoder = new CLIPEncoder(config, dtype, device);
        final_layer_norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>The config the model was built from.</summary>
    public CLIPTextConfig Config { get; }

    /// <summary>
    /// Load options that accept both checkpoint layouts: keys with or without the <c>text_model.</c> prefix, and the
    /// obsolete <c>embeddings.position_ids</c> buffer skipped. Strict otherwise.
    /// </summary>
    public static WeightLoadOptions CheckpointLoadOptions { get; } = new() { KeyMap = MapCheckpointKey };

    /// <summary>
    /// Encodes token ids (transformers <c>CLIPTextTransformer.forward</c>). Pure: the input is not disposed, and every
    /// returned tensor is new and owned by the caller.
    /// </summary>
    /// <param name="input">The ids, optional padding mask, and whether to return all hidden states.</param>
    /// <returns>The last hidden state, the pooled output and, on request, all hidden states.</returns>
    /// <exception cref="ArgumentException">The ids are not a (B, L) integer tensor with 1 ≤ L ≤ max_position_embeddings, or the mask's shape differs.</exception>
    public override CLIPTextOutput forward(CLIPTextInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Tensor ids = input.InputIds;
        ValidateInput(ids, input.AttentionMask);

        using var scope = NewDisposeScope();
        long batch = ids.shape[0];
        long length = ids.shape[1];

        // CLIPTextTransformer.forward
        Tensor hidden = embeddings.forward(ids);
        Tensor? mask = input.AttentionMask is null ? null : BuildAttentionMask(input.AttentionMask, hidden.dtype, length);
        List<Tensor>? all = input.OutputHiddenStates ? new List<Tensor>(Config.NumHiddenLayers + 1) : null;
        hidden = encoder.Run(hidden, mask, all);
        Tensor last = final_layer_norm.forward(hidden);

        // Pooling: legacy configs (eos_token_id == 2) take the first position of the largest id; others the first
        // position whose id is eos_token_id.
        Tensor positions = _legacyPooling
            ? ids.argmax(-1)
            : ids.eq(_eosTokenId).to(ScalarType.Int32).argmax(-1);
        Tensor rows = arange(batch, ScalarType.Int64, device: last.device);
        Tensor pooled = last.index(rows, positions.to(last.device));

        var output = new CLIPTextOutput(
            last.MoveToOuterDisposeScope(),
            pooled.MoveToOuterDisposeScope(),
            all?.Select(t => t.MoveToOuterDisposeScope()).ToArray());
        return output;
    }

    /// <summary>
    /// Loads weights from a checkpoint (a state dict with or without the <c>text_model.</c> prefix), strictly: every
    /// parameter must be present with its shape; only <c>position_ids</c> may be extra.
    /// </summary>
    /// <param name="source">The checkpoint (not disposed).</param>
    /// <param name="dtype">Convert the model to this floating-point dtype first; null keeps the model's.</param>
    /// <param name="device">Move the model to this device first; null keeps it where it is.</param>
    /// <returns>What was loaded and skipped.</returns>
    /// <exception cref="StateDictMismatchException">Keys are missing, unexpected or mis-shaped; nothing was changed.</exception>
    public WeightLoadReport LoadWeights(IWeightSource source, ScalarType? dtype = null, Device? device = null) =>
        ModuleWeights.Load(this, source, CheckpointLoadOptions with { DType = dtype, Device = device });

    /// <summary>
    /// Loads a text encoder from a folder: a component folder holding <c>config.json</c> and weights
    /// (<c>model.safetensors</c>, <c>pytorch_model.bin</c>, ... in diffusers' order), or a pipeline folder whose
    /// <c>text_encoder/</c> subfolder does.
    /// </summary>
    /// <param name="path">The folder.</param>
    /// <param name="dtype">Parameter and compute dtype; null for float32.</param>
    /// <param name="device">Device; null for CPU.</param>
    /// <param name="logger">Receives a warning listing unknown config keys; null for none.</param>
    /// <returns>The model in eval mode, which the caller disposes.</returns>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">No <c>config.json</c> or no weights file (the paths looked for are named).</exception>
    /// <exception cref="Vchitect.Core.Configuration.ConfigException">The config is invalid.</exception>
    /// <exception cref="StateDictMismatchException">The weights do not fit the config.</exception>
    public static CLIPTextModel FromPretrained(string path, ScalarType? dtype = null, Device? device = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string folder = Path.GetFullPath(path);
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Text encoder folder not found: {folder}");
        }

        string sub = Path.Combine(folder, "text_encoder");
        if (!File.Exists(Path.Combine(folder, "config.json")) && Directory.Exists(sub))
        {
            folder = sub;
        }

        CLIPTextConfig config = CLIPTextConfig.Read(Path.Combine(folder, "config.json"), logger);
        string[] candidates = ModelFolder.WeightFileNames().Select(name => Path.Combine(folder, name)).ToArray();
        string weights = candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"No text encoder weights; looked for: {string.Join(", ", candidates)}.", candidates[0]);
        var model = new CLIPTextModel(config, dtype, device);
        try
        {
            using IWeightSource source = WeightFiles.Open(weights);
            model.LoadWeights(source);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static string? MapCheckpointKey(string key)
    {
        const string prefix = "text_model.";
        string mapped = key.StartsWith(prefix, StringComparison.Ordinal) ? key[prefix.Length..] : key;
        return mapped == "embeddings.position_ids" ? null : mapped;
    }

    private void ValidateInput(Tensor ids, Tensor? mask)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.dim() != 2 || ids.is_floating_point() || ids.is_complex())
        {
            throw new ArgumentException(
                $"input_ids must be an integer tensor of shape (B, L); got {ids.dtype} [{string.Join(", ", ids.shape)}].", nameof(ids));
        }

        long length = ids.shape[1];
        if (length < 1 || length > Config.MaxPositionEmbeddings)
        {
            throw new ArgumentException(
                $"input_ids has sequence length {length}; must be between 1 and max_position_embeddings ({Config.MaxPositionEmbeddings}).", nameof(ids));
        }

        if (mask is not null && !mask.shape.SequenceEqual(ids.shape))
        {
            throw new ArgumentException(
                $"attention_mask has shape [{string.Join(", ", mask.shape)}]; must equal input_ids' [{string.Join(", ", ids.shape)}].", nameof(mask));
        }
    }

    /// <summary>The causal mask combined with a (B, L) padding mask, as an additive (B, 1, L, L) mask (0 or the dtype's minimum).</summary>
    private static Tensor BuildAttentionMask(Tensor paddingMask, ScalarType dtype, long length)
    {
        Device device = paddingMask.device;
        Tensor causal = ones(length, length, ScalarType.Bool, device).tril();
        Tensor keys = paddingMask.to(ScalarType.Bool).unsqueeze(1).unsqueeze(1);
        Tensor allowed = causal.unsqueeze(0).unsqueeze(0).logical_and(keys);
        double min = dtype switch
        {
            ScalarType.Float16 => -65504.0,
            ScalarType.BFloat16 => -3.3895313892515355e38,
            ScalarType.Float64 => double.MinValue,
            _ => float.MinValue,
        };
        return zeros(allowed.shape, dtype, device).masked_fill(allowed.logical_not(), min);
    }
}

/// <summary>Token and position embeddings (transformers <c>CLIPTextEmbeddings</c>).</summary>
internal sealed class CLIPTextEmbeddings : nn.Module<Tensor, Tensor>
{
    private readonly Embedding token_embedding;
    private readonly Embedding position_embedding;

    public CLIPTextEmbeddings(CLIPTextConfig config, ScalarType? dtype, Device? device)
        : base(nameof(CLIPTextEmbeddings))
    {
        token_embedding = nn.Embedding(config.VocabSize, config.HiddenSize, device: device, dtype: dtype);
        position_embedding = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor inputIds)
    {
        // CLIPTextEmbeddings.forward: inputs_embeds + position_embedding(position_ids[:, :seq_length])
        using var positions = arange(inputIds.shape[1], ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        using var tokens = token_embedding.forward(inputIds);
        using var positional = position_embedding.forward(positions);
        return tokens + positional;
    }
}

/// <summary>The stack of encoder layers (transformers <c>CLIPEncoder</c>).</summary>
internal sealed class CLIPEncoder : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<CLIPEncoderLayer> layers;

    public CLIPEncoder(CLIPTextConfig config, ScalarType? dtype, Device? device)
        : base(nameof(CLIPEncoder))
    {
        layers = new ModuleList<CLIPEncoderLayer>();
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            layers.Add(new CLIPEncoderLayer(config, dtype, device));
        }

        RegisterComponents();
    }

    public override Tensor forward(Tensor hiddenStates) => Run(hiddenStates, null, null);

    /// <summary>Runs every layer; when <paramref name="collect"/> is given, adds the input and each layer's output to it.</summary>
    public Tensor Run(Tensor hiddenStates, Tensor? mask, List<Tensor>? collect)
    {
        // CLIPEncoder.forward (hidden_states recorded at every layer's input, then the last output)
        Tensor hidden = hiddenStates;
        collect?.Add(hidden);
        foreach (CLIPEncoderLayer layer in layers)
        {
            hidden = layer.forward(hidden, mask);
            collect?.Add(hidden);
        }

        return hidden;
    }
}

/// <summary>One pre-LayerNorm transformer layer (transformers <c>CLIPEncoderLayer</c>).</summary>
internal sealed class CLIPEncoderLayer : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly CLIPAttention self_attn;
    private readonly LayerNorm layer_norm1;
    private readonly CLIPMLP mlp;
    private readonly LayerNorm layer_norm2;

    public CLIPEncoderLayer(CLIPTextConfig config, ScalarType? dtype, Device? device)
        : base(nameof(CLIPEncoderLayer))
    {
        self_attn = new CLIPAttention(config, dtype, device);
        layer_norm1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device, dtype: dtype);
        mlp = new CLIPMLP(config, dtype, device);
        layer_norm2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hiddenStates, Tensor? mask)
    {
        // CLIPEncoderLayer.forward
        using var scope = NewDisposeScope();
        Tensor residual = hiddenStates;
        Tensor h = layer_norm1.forward(hiddenStates);
        h = self_attn.forward(h, mask);
        h = residual + h;

        residual = h;
        h = layer_norm2.forward(h);
        h = mlp.forward(h);
        h = residual + h;
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>Multi-head self-attention with a causal (and optional padding) mask (transformers <c>CLIPAttention</c>).</summary>
internal sealed class CLIPAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear q_proj;
    private readonly Linear out_proj;
    private readonly long _heads;

    public CLIPAttention(CLIPTextConfig config, ScalarType? dtype, Device? device)
        : base(nameof(CLIPAttention))
    {
        long width = config.HiddenSize;
        _heads = config.NumAttentionHeads;
        k_proj = nn.Linear(width, width, true, device, dtype);
        v_proj = nn.Linear(width, width, true, device, dtype);
        q_proj = nn.Linear(width, width, true, device, dtype);
        out_proj = nn.Linear(width, width, true, device, dtype);
        RegisterComponents();
    }

    /// <param name="hiddenStates">(B, L, C).</param>
    /// <param name="mask">An additive (B, 1, L, L) mask that already includes causality, or null for the causal mask alone.</param>
    public override Tensor forward(Tensor hiddenStates, Tensor? mask)
    {
        // CLIPAttention.forward; eager_attention_forward's scale head_dim^-0.5 is SDPA's default
        using var scope = NewDisposeScope();
        long batch = hiddenStates.shape[0], length = hiddenStates.shape[1];
        Tensor q = SplitHeads(q_proj.forward(hiddenStates));
        Tensor k = SplitHeads(k_proj.forward(hiddenStates));
        Tensor v = SplitHeads(v_proj.forward(hiddenStates));
        Tensor h = mask is null
            ? nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true)
            : nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);
        h = h.transpose(1, 2).reshape(batch, length, -1);
        return out_proj.forward(h).MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, -1).transpose(1, 2);
}

/// <summary>The feed-forward block: fc1 → activation → fc2 (transformers <c>CLIPMLP</c>).</summary>
internal sealed class CLIPMLP : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly string _activation;

    public CLIPMLP(CLIPTextConfig config, ScalarType? dtype, Device? device)
        : base(nameof(CLIPMLP))
    {
        fc1 = nn.Linear(config.HiddenSize, config.IntermediateSize, true, device, dtype);
        fc2 = nn.Linear(config.IntermediateSize, config.HiddenSize, true, device, dtype);
        _activation = config.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor hiddenStates)
    {
        // CLIPMLP.forward
        using var scope = NewDisposeScope();
        Tensor h = fc1.forward(hiddenStates);
        h = _activation switch
        {
            // QuickGELUActivation: x * sigmoid(1.702 x)
            "quick_gelu" => h * (h * 1.702).sigmoid(),
            "gelu" => nn.functional.gelu(h),
            _ => TanhGelu(h),
        };
        return fc2.forward(h).MoveToOuterDisposeScope();
    }

    /// <summary>GELU's tanh approximation (transformers <c>NewGELUActivation</c>): 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
    private static Tensor TanhGelu(Tensor x) =>
        0.5 * x * (1.0 + (Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x.pow(3))).tanh());
}
