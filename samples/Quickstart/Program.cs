// Quickstart: dotnet run --project samples/Quickstart -c Release -- "a blue square moving right" [--seed N] [--out DIR]
//
// No trained model ships yet (the embedded tiny LaVie comes with issue 5), so this does NOT generate from the prompt.
// It runs the foundation end to end: the seeded initial latent noise that a LaVie generation starts from
// (1×4×16×40×64, equal to PyTorch's torch.randn for the seed), previewed as RGB with Stable Diffusion's approximate
// latent-to-RGB map, upscaled ×8 to 320×512, and written as an animated GIF and (with ffmpeg) an MP4.
using System.Diagnostics;
using Vchitect.Core;
using Vchitect.Core.Media;
using static TorchSharp.torch;

string prompt = "a blue square moving right";
long seed = 0;
string outDir = "quickstart-output";
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--seed" when i + 1 < args.Length && long.TryParse(args[i + 1], out long s):
            seed = s;
            i++;
            break;
        case "--out" when i + 1 < args.Length:
            outDir = args[++i];
            break;
        case "-h" or "--help":
            Console.WriteLine("usage: Quickstart [prompt] [--seed N] [--out DIR]");
            return 0;
        default:
            if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"unknown option {args[i]} (usage: Quickstart [prompt] [--seed N] [--out DIR])");
                return 2;
            }

            prompt = args[i];
            break;
    }
}

Console.WriteLine($"Prompt: \"{prompt}\"  seed: {seed}");
Console.WriteLine("NOTE: no trained model ships yet, so the prompt is not used. This writes a preview of the seeded");
Console.WriteLine("      initial latent noise a LaVie generation starts from (PyTorch-exact for the seed).");

var clock = Stopwatch.StartNew();
Video video;
using (var scope = NewDisposeScope())
{
    using var generator = new RandomGenerator(seed);
    var latents = generator.Randn([1, 4, 16, 40, 64]);                       // (B, C, F, h, w), as LaVie draws it
    // Stable Diffusion v1's approximate latent→RGB map (a linear preview, not the VAE).
    var factors = tensor(new float[,]
    {
        { 0.3512f, 0.2297f, 0.3227f },
        { 0.3250f, 0.4974f, 0.2350f },
        { -0.2829f, 0.1762f, 0.2721f },
        { -0.2120f, -0.2616f, -0.7177f },
    });
    var rgb = einsum("bcfhw,cr->bfhwr", latents, factors)[0];               // (F, h, w, 3)
    rgb = ((rgb + 1) / 2).clamp(0, 1);
    rgb = rgb.repeat_interleave(8, 1).repeat_interleave(8, 2);               // nearest ×8 → (16, 320, 512, 3)
    video = Video.FromTensor(rgb, fps: 8, seed: seed);
}

Directory.CreateDirectory(outDir);
string gif = Path.GetFullPath(Path.Combine(outDir, "quickstart.gif"));
video.SaveGif(gif);
Console.WriteLine($"Wrote {gif} ({video.FrameCount} frames, {video.Width}x{video.Height}, {video.Fps} fps)");
try
{
    string mp4 = Path.GetFullPath(Path.Combine(outDir, "quickstart.mp4"));
    video.SaveMp4(mp4);
    Console.WriteLine($"Wrote {mp4}");
}
catch (FfmpegNotFoundException e)
{
    Console.WriteLine($"MP4 skipped: {e.Message}");
}

Console.WriteLine($"Done in {clock.Elapsed.TotalSeconds:F1} s.");
return 0;
