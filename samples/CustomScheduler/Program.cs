using CustomScheduler;
using Vchitect.Schedulers;
using static TorchSharp.torch;

// 1. Make the scheduler loadable from a scheduler_config.json by its _class_name.
LinearFlowAdamsScheduler.Register(SchedulerRegistry.Default);
IScheduler scheduler = SchedulerRegistry.Default.FromJson("""{"_class_name": "LinearFlowAdamsScheduler", "shift": 3.0}""");

// 2. A stand-in "model": it knows the clean video x0 and returns the flow u = ε − x0 implied by the current sample.
//    A real pipeline calls its denoiser here; pipelines accept any IScheduler, so nothing else changes.
using var generator = new Generator(7);
var x0 = (rand([1, 4, 8, 16, 16], generator: generator) * 2) - 1;
Tensor Model(Tensor x, Tensor t)
{
    float sigma = t.item<float>() / 1000f;
    return (x - x0) / sigma;
}

// 3. The plain denoising loop every pipeline runs.
scheduler.SetTimesteps(20);
var latents = randn([1, 4, 8, 16, 16], generator: generator) * scheduler.InitNoiseSigma;
for (int i = 0; i < scheduler.Timesteps.shape[0]; i++)
{
    using var step = NewDisposeScope();
    var t = scheduler.Timesteps[i];
    var modelInput = scheduler.ScaleModelInput(latents, t);
    var output = Model(modelInput, t);
    latents = scheduler.Step(output, t, latents, generator).PrevSample.MoveToOuterDisposeScope();
}

Console.WriteLine($"{scheduler.GetType().Name}: {scheduler.NumInferenceSteps} steps, max |x − x0| = {(latents - x0).abs().max().item<float>():G3}");

// 4. Swap in a built-in scheduler from the same config (diffusers' from_config): "shift" carries over.
var flow = (FlowMatchEulerDiscreteScheduler)SchedulerRegistry.Default.Create(scheduler.Config, FlowMatchEulerDiscreteScheduler.ClassName);
Console.WriteLine($"swapped in: {flow.GetType().Name} with shift {flow.TypedConfig.Shift}");
