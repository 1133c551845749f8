using System.Globalization;
using Vchitect.Core.Configuration;

namespace Vchitect.Schedulers;

/// <summary>Validation helpers shared by the scheduler configs; each throws naming the field, the value and what is allowed.</summary>
internal static class ConfigChecks
{
    public static void OneOf(string field, string? value, IReadOnlyList<string> allowed)
    {
        if (value is null || !allowed.Contains(value, StringComparer.Ordinal))
        {
            throw new ConfigException(null, field, $"'{value ?? "null"}' is not allowed; allowed: {string.Join(", ", allowed)}.");
        }
    }

    public static void NotImplemented(string field, string value, string why) =>
        throw new NotSupportedException($"config field '{field}' = {value} is not supported by Vchitect.Schedulers: {why}");

    public static void Common(int numTrainTimesteps, double betaStart, double betaEnd, string betaSchedule, IReadOnlyList<float>? trainedBetas, int stepsOffset, IReadOnlyList<string>? schedules = null)
    {
        ConfigException.ThrowIfNot(numTrainTimesteps >= 1, "num_train_timesteps", $"{numTrainTimesteps} must be at least 1.");
        ConfigException.ThrowIfNot(stepsOffset >= 0, "steps_offset", $"{stepsOffset} must be ≥ 0.");
        if (trainedBetas is not null)
        {
            ConfigException.ThrowIfNot(trainedBetas.Count == numTrainTimesteps, "trained_betas", $"has {trainedBetas.Count} values; num_train_timesteps is {numTrainTimesteps}.");
            ConfigException.ThrowIfNot(trainedBetas.All(b => b > 0 && b < 1), "trained_betas", "every β must lie in (0, 1).");
            return;
        }

        OneOf("beta_schedule", betaSchedule, schedules ?? SchedulerOptions.BetaSchedules);
        if (betaSchedule is "linear" or "scaled_linear" or "sigmoid")
        {
            ConfigException.ThrowIfNot(betaStart > 0 && betaStart < 1, "beta_start", $"{F(betaStart)} must lie in (0, 1).");
            ConfigException.ThrowIfNot(betaEnd > 0 && betaEnd < 1, "beta_end", $"{F(betaEnd)} must lie in (0, 1).");
        }
    }

    public static void Thresholding(bool thresholding, double ratio, double sampleMaxValue, double clipSampleRange)
    {
        ConfigException.ThrowIfNot(ratio > 0 && ratio <= 1, "dynamic_thresholding_ratio", $"{F(ratio)} must lie in (0, 1].");
        ConfigException.ThrowIfNot(sampleMaxValue >= 1, "sample_max_value", $"{F(sampleMaxValue)} must be ≥ 1.");
        ConfigException.ThrowIfNot(clipSampleRange > 0, "clip_sample_range", $"{F(clipSampleRange)} must be > 0.");
        _ = thresholding;
    }

    public static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
