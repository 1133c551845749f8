using Vchitect.Core;
using Vchitect.Core.Models;
using Vchitect.Core.Weights;
using System.Text;
using System.Text.Json;
using Vchitect.Models.Autoencoders;
using Vchitect.Models.TextEncoders;
using Vchitect.Models.UNets;
using Vchitect.Pipelines;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Pipelines.Tests;

/// <summary>Tests that count live tensors or touch TorchSharp's global state run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PipelineTorchState
{
    public const string Name = "pipeline-torch-global-state";
}

/// <summary>
/// Writes a tiny random-weight LaVie model folder (hub layout) with the library's own <see cref="SafetensorsWriter"/>:
/// model_index.json, scheduler/scheduler_config.json (SD v1.4's PNDM config, which LaVie overrides), unet/ (config +
/// safetensors) and vae/ (config + safetensors). The text side is a <see cref="TinyPromptEncoder"/>.
/// </summary>
public sealed class TinyLaVie : IDisposable
{
    public const string UNetConfig = """
        {"_class_name": "UNet3DConditionModel", "attention_head_dim": [1, 1], "block_out_channels": [32, 64], "cross_attention_dim": 32,
         "down_block_types": ["CrossAttnDownBlock3D", "DownBlock3D"], "in_channels": 4, "layers_per_block": 1, "norm_num_groups": 32,
         "out_channels": 4, "sample_size": 8, "up_block_types": ["UpBlock3D", "CrossAttnUpBlock3D"], "use_first_frame": false,
         "use_relative_position": false}
        """;

    // Four levels: the SD scale factor 8, so 32×32 frames are 4×4 latents.
    public const string VaeConfig = """
        {"_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [32, 32, 32, 32],
         "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
         "in_channels": 3, "latent_channels": 4, "layers_per_block": 1, "norm_num_groups": 32, "out_channels": 3, "sample_size": 32,
         "scaling_factor": 0.18215,
         "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}
        """;

    public const string SchedulerConfig = """
        {"_class_name": "PNDMScheduler", "_diffusers_version": "0.7.0.dev0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
         "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
         "trained_betas": null, "clip_sample": false}
        """;

    public const string ModelIndex = """
        {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.2.2",
         "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
         "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
        """;

    /// <summary>The tiny UNet as LaVie's interpolation stage builds it: 8 input channels, sparse-causal attention.</summary>
    public static UNet3DConditionConfig InterpolationUNet =>
        Vchitect.Core.Configuration.ConfigFile.Parse(UNetConfig, UNet3DConditionJsonContext.Default.UNet3DConditionConfig, "tiny unet") with { InChannels = 8, UseFirstFrame = true };

    /// <param name="seed">Seed of the random weights.</param>
    /// <param name="interpolationUNet">
    /// Write the UNet weights of <see cref="InterpolationUNet"/> (the folder's unet/config.json stays the base one, as an SD
    /// folder's does: the interpolation pipeline adapts it).
    /// </param>
    public TinyLaVie(long seed = 1234, bool interpolationUNet = false)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "vchitect-lavie-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(System.IO.Path.Combine(Path, "scheduler"));
        Directory.CreateDirectory(System.IO.Path.Combine(Path, "unet"));
        Directory.CreateDirectory(System.IO.Path.Combine(Path, "vae"));
        File.WriteAllText(System.IO.Path.Combine(Path, ModelFolder.IndexFileName), ModelIndex);
        File.WriteAllText(System.IO.Path.Combine(Path, "scheduler", "scheduler_config.json"), SchedulerConfig);
        File.WriteAllText(System.IO.Path.Combine(Path, "unet", "config.json"), UNetConfig);
        File.WriteAllText(System.IO.Path.Combine(Path, "vae", "config.json"), VaeConfig);
        using var scope = NewDisposeScope();
        using (var unet = new UNet3DConditionModel(interpolationUNet
                   ? InterpolationUNet
                   : Vchitect.Core.Configuration.ConfigFile.Parse(UNetConfig, UNet3DConditionJsonContext.Default.UNet3DConditionConfig, "tiny unet")))
        {
            WriteRandom(unet, System.IO.Path.Combine(Path, "unet", "diffusion_pytorch_model.safetensors"), seed);
        }

        WriteTokenizer(System.IO.Path.Combine(Path, "tokenizer"));
        Directory.CreateDirectory(System.IO.Path.Combine(Path, "text_encoder"));
        var clip = new CLIPTextConfig
        {
            VocabSize = VocabSize, HiddenSize = 32, IntermediateSize = 37, NumHiddenLayers = 1, NumAttentionHeads = 4,
            MaxPositionEmbeddings = 77, HiddenAct = "quick_gelu", ProjectionDim = 32, BosTokenId = Bos, PadTokenId = Eos, EosTokenId = Eos,
            ModelType = "clip_text_model",
        };
        File.WriteAllText(System.IO.Path.Combine(Path, "text_encoder", "config.json"), Vchitect.Core.Configuration.ConfigFile.ToJson(clip, CLIPTextConfig.JsonTypeInfo));
        using (var text = new CLIPTextModel(clip))
        {
            WriteRandom(text, System.IO.Path.Combine(Path, "text_encoder", "model.safetensors"), seed + 2);
        }

        using (var vae = new AutoencoderKL(Vchitect.Core.Configuration.ConfigFile.Parse(VaeConfig, AutoencoderJsonContext.Default.AutoencoderKLConfig, "tiny vae")))
        {
            WriteRandom(vae, System.IO.Path.Combine(Path, "vae", "diffusion_pytorch_model.safetensors"), seed + 1);
        }
    }

    /// <summary>Merges of the made-up vocabulary (a few English words).</summary>
    public static readonly string[] Merges = ["r e", "re d</w>", "a l", "b al", "bal l</w>", "c a", "ca t</w>", "d o", "do g</w>"];

    public static int VocabSize => 512 + Merges.Length + 2;

    public static int Bos => 512 + Merges.Length;

    public static int Eos => Bos + 1;

    public string Path { get; }

    /// <summary>Loads the folder as a user would (CLIP tokenizer and text encoder from the folder).</summary>
    public LaVieVideoPipeline Load() => LaVieVideoPipeline.FromPretrained(Path);

    /// <summary>Loads the folder with a <see cref="TinyPromptEncoder"/> instead of its CLIP.</summary>
    public LaVieVideoPipeline Load(TinyPromptEncoder encoder) =>
        LaVieVideoPipeline.FromPretrained(Path, new LaVieLoadOptions { PromptEncoder = encoder });

    /// <summary>Tiny, fast options: 4 frames of 32×32, 3 steps.</summary>
    public static LaVieOptions Options(long seed = 7) => new() { Frames = 4, Height = 32, Width = 32, Steps = 3, Seed = seed };

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }

    // CLIP's file format: the 256 byte-level characters, the same with </w>, one token per merge, then the specials.
    internal static void WriteTokenizer(string folder)
    {
        Directory.CreateDirectory(folder);
        var bytes = ByteChars();
        var vocab = new List<string>(bytes);
        vocab.AddRange(bytes.Select(c => c + "</w>"));
        vocab.AddRange(Merges.Select(m => m.Replace(" ", string.Empty, StringComparison.Ordinal)));
        vocab.Add("<|startoftext|>");
        vocab.Add("<|endoftext|>");
        var ids = vocab.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i);
        File.WriteAllText(System.IO.Path.Combine(folder, "vocab.json"), JsonSerializer.Serialize(ids), new UTF8Encoding(false));
        File.WriteAllText(System.IO.Path.Combine(folder, "merges.txt"), "#version: 0.2\n" + string.Join("\n", Merges) + "\n", new UTF8Encoding(false));
    }

    // GPT-2 / CLIP bytes_to_unicode, in byte-table order.
    private static List<string> ByteChars()
    {
        var bs = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToList();
        var cs = new List<int>(bs);
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            if (!bs.Contains(b))
            {
                bs.Add(b);
                cs.Add(256 + n++);
            }
        }

        return cs.Select(c => ((char)c).ToString()).ToList();
    }

    // Seeded Gaussian weights: 0.05·N(0,1), norm scales 1 + 0.05·N(0,1).
    internal static void WriteRandom(nn.Module module, string path, long seed)
    {
        using var rng = new RandomGenerator(seed);
        var tensors = new SortedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in module.state_dict())
        {
            var noise = rng.Randn(p.shape) * 0.05;
            bool isNormScale = name.EndsWith(".weight", StringComparison.Ordinal) && p.ndim == 1 && name.Contains("norm", StringComparison.Ordinal);
            tensors[name] = isNormScale ? noise + 1 : noise;
        }

        SafetensorsWriter.Write(path, tensors);
    }
}

/// <summary>
/// A deterministic stand-in for CLIP: each of the first 77 bytes of the prompt (padded with 0) indexes a fixed random
/// table, plus a fixed position table. Counts its calls.
/// </summary>
public sealed class TinyPromptEncoder : IPromptEncoder
{
    private readonly Tensor _tokens;
    private readonly Tensor _positions;

    public TinyPromptEncoder(int dim)
    {
        EmbeddingDim = dim;
        using var rng = new RandomGenerator(99);
        _tokens = rng.Randn([256, dim]).DetachFromDisposeScope();
        _positions = (rng.Randn([77, dim]) * 0.1).DetachFromDisposeScope();
    }

    public int EmbeddingDim { get; }

    public List<string> Seen { get; } = [];

    public Tensor Encode(IReadOnlyList<string> prompts)
    {
        Seen.AddRange(prompts);
        using var scope = NewDisposeScope();
        var ids = new long[prompts.Count * 77];
        for (int i = 0; i < prompts.Count; i++)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(prompts[i]);
            for (int j = 0; j < Math.Min(77, bytes.Length); j++)
            {
                ids[(i * 77) + j] = bytes[j];
            }
        }

        using var idx = tensor(ids, [prompts.Count, 77]);
        return (_tokens.index_select(0, idx.flatten()).reshape(prompts.Count, 77, EmbeddingDim) + _positions).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _tokens.Dispose();
        _positions.Dispose();
    }
}
