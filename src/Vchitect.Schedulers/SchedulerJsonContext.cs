using System.Text.Json.Serialization;
using Vchitect.Core.Configuration;

namespace Vchitect.Schedulers;

/// <summary>Source-generated JSON metadata for the built-in scheduler configs (pass e.g. <c>SchedulerJsonContext.Default.DDIMSchedulerConfig</c> to <c>ConfigFile</c>).</summary>
/// <remarks>Non-finite numbers are read and written as "Infinity" / "-Infinity" / "NaN" (diffusers writes <c>lambda_min_clipped: -Infinity</c>).</remarks>
[JsonSourceGenerationOptions(
    NumberHandling = ConfigJson.NumberHandling,
    AllowTrailingCommas = ConfigJson.AllowTrailingCommas,
    ReadCommentHandling = ConfigJson.ReadCommentHandling,
    WriteIndented = ConfigJson.WriteIndented,
    IndentSize = ConfigJson.IndentSize)]
[JsonSerializable(typeof(DDPMSchedulerConfig))]
[JsonSerializable(typeof(DDIMSchedulerConfig))]
[JsonSerializable(typeof(PNDMSchedulerConfig))]
[JsonSerializable(typeof(EulerDiscreteSchedulerConfig))]
[JsonSerializable(typeof(EulerAncestralDiscreteSchedulerConfig))]
[JsonSerializable(typeof(DPMSolverMultistepSchedulerConfig))]
[JsonSerializable(typeof(FlowMatchEulerDiscreteSchedulerConfig))]
[JsonSerializable(typeof(GuidedDiffusionSchedulerConfig))]
public sealed partial class SchedulerJsonContext : JsonSerializerContext;
