// TrainTinyWorld: dotnet run --project samples/TrainTinyWorld -c Release -- --out DIR [--vae-steps N] [--unet-steps N] [--seed S] [--resume]
//
// Trains the tiny-world LaVie with the library's own trainers: first the VAE on world frames (reconstruction + β·KL),
// then the 3D UNet and the CLIP text encoder on the VAE's latents with LaVie's objective (ε-prediction on clips plus
// α × the same loss on single frames), and writes DIR/model, a folder LaVieVideoPipeline.FromPretrained loads.
// Checkpoints (DIR/checkpoints) are written every --checkpoint-every steps, at the end of each phase and on Ctrl+C;
// --resume continues from them with the same bits an uninterrupted run gives. Loss logs: DIR/vae-loss.jsonl, DIR/lavie-loss.jsonl.
using System.Diagnostics;
using System.Globalization;
using Vchitect.Evaluation.TinyWorld;
using Vchitect.Models.Autoencoders;
using Vchitect.Models.TextEncoders;
using Vchitect.Models.UNets;
using Vchitect.Training;
using static TorchSharp.torch;

string? outDir = null;
int vaeSteps = 300, unetSteps = 500, checkpointEvery = 100;
long seed = 0;
bool resume = false;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--out": outDir = Next(); break;
        case "--vae-steps": vaeSteps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--unet-steps": unetSteps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--checkpoint-every": checkpointEvery = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--seed": seed = long.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--resume": resume = true; break;
        case "-h" or "--help":
            Console.WriteLine("usage: TrainTinyWorld --out DIR [--vae-steps N] [--unet-steps N] [--seed S] [--checkpoint-every N] [--resume]");
            return 0;
        default:
            Console.Error.WriteLine($"Unknown argument \"{args[i]}\"; see --help.");
            return 2;
    }
}

if (outDir is null)
{
    Console.Error.WriteLine("--out DIR is required; see --help.");
    return 2;
}

string checkpoints = Path.Combine(outDir, "checkpoints");
string vaeCheckpoint = Path.Combine(checkpoints, "vae.safetensors");
string lavieCheckpoint = Path.Combine(checkpoints, "lavie.safetensors");
Directory.CreateDirectory(checkpoints);
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
    Console.WriteLine("\nStopping after this step; a checkpoint will be written.");
};

var configs = TinyWorldModelConfigs.Default;
var clock = Stopwatch.StartNew();
Console.WriteLine($"Tiny-world LaVie: seed {seed}, VAE {vaeSteps} steps, UNet+text {unetSteps} steps, {get_num_threads()} torch threads → {Path.GetFullPath(outDir)}");

// The initial weights come from torch's global generator, seeded per part, so a resumed run rebuilds the same modules.
manual_seed(seed);
using var vae = new AutoencoderKL(configs.Vae);
double scaling;
{
    var dataset = new TinyWorldDataset(seed);
    using var trainer = new VaeTrainer(vae, dataset, new VaeTrainingOptions
    {
        Steps = vaeSteps, Seed = seed, LossLogPath = Path.Combine(outDir, "vae-loss.jsonl"),
    });
    if (resume && File.Exists(vaeCheckpoint))
    {
        trainer.LoadCheckpoint(vaeCheckpoint);
        Console.WriteLine($"VAE resumed at step {trainer.Step}.");
    }

    if (!Run("vae", trainer.Train, trainer.SaveCheckpoint, vaeCheckpoint))
    {
        return 1;
    }

    scaling = trainer.MeasureScalingFactor();
    Console.WriteLine($"VAE done; latent scaling factor {scaling:F5}.");
}

// The frozen VAE with its measured scaling factor.
using var frozenVae = new AutoencoderKL(configs.Vae with { ScalingFactor = scaling });
using (no_grad())
{
    var source = vae.state_dict();
    foreach (var (name, t) in frozenVae.state_dict())
    {
        t.copy_(source[name]);
    }
}

manual_seed(seed + 1);
using var unet = new UNet3DConditionModel(configs.UNet);
using var text = new CLIPTextModel(configs.TextEncoder);
string tokenizerDir = Path.Combine(checkpoints, "tokenizer");
TinyWorldTokenizer.WriteFolder(tokenizerDir);
var tokenizer = CLIPTokenizer.FromFolder(tokenizerDir);
using (var trainer = new LaVieTrainer(unet, text, tokenizer, frozenVae, new TinyWorldDataset(seed + 1), new LaVieTrainingOptions
       {
           Steps = unetSteps, Seed = seed, LossLogPath = Path.Combine(outDir, "lavie-loss.jsonl"),
           // The joint image term is off until its NaN gradients are fixed (docs/training.md, known issues).
           ImageBatchSize = 0,
       }))
{
    if (resume && File.Exists(lavieCheckpoint))
    {
        trainer.LoadCheckpoint(lavieCheckpoint);
        Console.WriteLine($"UNet+text resumed at step {trainer.Step}.");
    }

    if (!Run("lavie", trainer.Train, trainer.SaveCheckpoint, lavieCheckpoint))
    {
        return 1;
    }

    string model = Path.Combine(outDir, "model");
    TinyWorldModelWriter.Write(model, frozenVae, unet, text, trainer.EmaWeights("unet"), trainer.EmaWeights("text_encoder"));
    long bytes = Directory.GetFiles(model, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
    Console.WriteLine($"Wrote {Path.GetFullPath(model)} ({bytes / 1e6:F1} MB) after {clock.Elapsed:hh\\:mm\\:ss}.");
}

return 0;

// Trains one phase with progress lines and periodic checkpoints; false when cancelled (after writing a checkpoint).
bool Run<T>(string phase, Func<IProgress<TrainingProgress>?, CancellationToken, T> train, Action<string> save, string checkpoint)
{
    var progress = new SyncProgress(p =>
    {
        if (p.Step % 10 == 0 || p.Step == p.TotalSteps)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{phase}] step {p.Step}/{p.TotalSteps} loss {p.Loss:F5} lr {p.LearningRate:E2} |g| {p.GradientNorm:F3} elapsed {p.Elapsed:hh\\:mm\\:ss}"));
        }

        if (checkpointEvery > 0 && p.Step % checkpointEvery == 0)
        {
            save(checkpoint);
        }
    });
    try
    {
        train(progress, cts.Token);
        save(checkpoint);
        return true;
    }
    catch (OperationCanceledException)
    {
        save(checkpoint);
        Console.WriteLine($"[{phase}] cancelled; checkpoint {checkpoint}. Run again with --resume to continue.");
        return false;
    }
}

internal sealed class SyncProgress(Action<TrainingProgress> handler) : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress value) => handler(value);
}
