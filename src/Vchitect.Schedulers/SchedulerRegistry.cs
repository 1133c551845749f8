using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Vchitect.Core.Configuration;

namespace Vchitect.Schedulers;

/// <summary>
/// Creates schedulers from <c>scheduler_config.json</c> by <c>_class_name</c>, and swaps one scheduler class for another
/// on the same config (diffusers' <c>OtherScheduler.from_config(scheduler.config)</c>). Users register their own
/// classes; there is no closed list.
/// </summary>
/// <remarks>
/// <para>Swapping serialises the source config (all its fields, defaults included) and reads it as the target's config:
/// shared fields carry over, fields the target lacks stay in its <see cref="DiffusersConfig.ExtensionData"/> (and are
/// reported as unknown keys), missing fields take the <b>target's</b> defaults.</para>
/// <para>Thread-safe. <see cref="Default"/> holds the built-in classes.</para>
/// </remarks>
/// <example>
/// <code>
/// IScheduler s = SchedulerRegistry.Default.FromFile("models/lavie/scheduler/scheduler_config.json");
/// IScheduler ddim = SchedulerRegistry.Default.Create(s.Config, "DDIMScheduler");
/// SchedulerRegistry.Default.Register("MyScheduler", MyJsonContext.Default.MyConfig, c => new MyScheduler(c));
/// </code>
/// </example>
public sealed class SchedulerRegistry
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Creates a registry.</summary>
    /// <param name="includeBuiltIns">Register the built-in schedulers (DDPM, DDIM, PNDM, Euler, Euler ancestral, DPM-Solver multistep, flow matching, guided diffusion).</param>
    public SchedulerRegistry(bool includeBuiltIns = true)
    {
        if (!includeBuiltIns)
        {
            return;
        }

        var ctx = SchedulerJsonContext.Default;
        Register(DDPMScheduler.ClassName, ctx.DDPMSchedulerConfig, c => new DDPMScheduler(c));
        Register(DDIMScheduler.ClassName, ctx.DDIMSchedulerConfig, c => new DDIMScheduler(c));
        Register(PNDMScheduler.ClassName, ctx.PNDMSchedulerConfig, c => new PNDMScheduler(c));
        Register(EulerDiscreteScheduler.ClassName, ctx.EulerDiscreteSchedulerConfig, c => new EulerDiscreteScheduler(c));
        Register(EulerAncestralDiscreteScheduler.ClassName, ctx.EulerAncestralDiscreteSchedulerConfig, c => new EulerAncestralDiscreteScheduler(c));
        Register(DPMSolverMultistepScheduler.ClassName, ctx.DPMSolverMultistepSchedulerConfig, c => new DPMSolverMultistepScheduler(c));
        Register(FlowMatchEulerDiscreteScheduler.ClassName, ctx.FlowMatchEulerDiscreteSchedulerConfig, c => new FlowMatchEulerDiscreteScheduler(c));
        Register(GuidedDiffusionScheduler.ClassName, ctx.GuidedDiffusionSchedulerConfig, c => new GuidedDiffusionScheduler(c));
    }

    /// <summary>The shared registry with the built-in schedulers; register your own into it.</summary>
    public static SchedulerRegistry Default { get; } = new();

    /// <summary>The registered class names.</summary>
    public IReadOnlyCollection<string> ClassNames => _entries.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>Registers (or replaces) a scheduler class.</summary>
    /// <typeparam name="TConfig">Its config record.</typeparam>
    /// <param name="className">The <c>_class_name</c> it answers to.</param>
    /// <param name="typeInfo">The config's source-generated JSON metadata.</param>
    /// <param name="factory">Builds the scheduler from a validated config.</param>
    /// <exception cref="ArgumentException">Empty class name.</exception>
    public void Register<TConfig>(string className, JsonTypeInfo<TConfig> typeInfo, Func<TConfig, IScheduler> factory)
        where TConfig : DiffusersConfig, new()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(className);
        ArgumentNullException.ThrowIfNull(typeInfo);
        ArgumentNullException.ThrowIfNull(factory);
        _entries[className] = new Entry(
            className,
            typeof(TConfig),
            c => ConfigFile.ToJson((TConfig)c, typeInfo),
            (json, source, logger) => ConfigFile.Parse(json, typeInfo, source, logger) with { ClassName = className },
            c => factory((TConfig)c));
    }

    /// <summary>Whether a class name is registered.</summary>
    public bool IsRegistered(string className) => _entries.ContainsKey(className);

    /// <summary>Creates a scheduler from config JSON.</summary>
    /// <param name="json">The <c>scheduler_config.json</c> text.</param>
    /// <param name="className">Build this class instead of <c>_class_name</c> (from_config semantics); null to use the file's.</param>
    /// <param name="sourceName">Named in error messages.</param>
    /// <param name="logger">Receives a warning listing keys the class does not know; null for none.</param>
    /// <exception cref="ConfigException">No class name, an unregistered one, malformed JSON or an invalid field.</exception>
    /// <exception cref="NotSupportedException">A valid option this library does not implement.</exception>
    public IScheduler FromJson(string json, string? className = null, string sourceName = "scheduler_config.json", ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(json);
                string name = className ?? ConfigFile.PeekClassName(json, sourceName)
            ?? throw new ConfigException(sourceName, "_class_name", "is missing; pass the scheduler class name explicitly.");
        var entry = Lookup(name, sourceName);
        var config = entry.Parse(json, sourceName, logger);
        return entry.Create(config);
    }

    /// <summary>Creates a scheduler from a <c>scheduler_config.json</c> file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="className">Build this class instead of the file's <c>_class_name</c>; null to use the file's.</param>
    /// <param name="logger">Receives unknown-key warnings.</param>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="ConfigException">See <see cref="FromJson"/>.</exception>
    public IScheduler FromFile(string path, string? className = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Scheduler config not found: {path}", path);
        }

        return FromJson(File.ReadAllText(path, Encoding.UTF8), className, path, logger);
    }

    /// <summary>
    /// A fresh scheduler from an existing config: of the config's own class (null <paramref name="className"/>), or of
    /// another class reading the same fields (diffusers' <c>from_config</c>).
    /// </summary>
    /// <param name="config">A config of a registered class (e.g. <c>scheduler.Config</c>).</param>
    /// <param name="className">Target class; null for the config's <c>_class_name</c> (or, when that is unset, the class registered for the config's type).</param>
    /// <param name="logger">Receives unknown-key warnings.</param>
    /// <exception cref="ConfigException">Unknown class, or the config is invalid for the target.</exception>
    /// <exception cref="ArgumentException">The config's type is not registered here.</exception>
    public IScheduler Create(DiffusersConfig config, string? className = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var source = _entries.Values.FirstOrDefault(e => e.ConfigType == config.GetType())
            ?? throw new ArgumentException($"config type {config.GetType().Name} is not registered; register its scheduler first.", nameof(config));
        string name = className ?? config.ClassName ?? source.Name;
        var target = Lookup(name, "config");
        return target.Create(target.Parse(source.ToJson(config), $"{config.ClassName ?? config.GetType().Name} config", logger));
    }

    private Entry Lookup(string name, string source) =>
        _entries.TryGetValue(name, out var e)
            ? e
            : throw new ConfigException(source, "_class_name", $"'{name}' is not a registered scheduler; registered: {string.Join(", ", ClassNames)}.");

    private sealed record Entry(string Name, Type ConfigType, Func<DiffusersConfig, string> ToJson, Func<string, string, ILogger?, DiffusersConfig> Parse, Func<DiffusersConfig, IScheduler> Create);
}
