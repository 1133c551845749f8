using TorchSharp;
using static TorchSharp.torch;

namespace Vchitect.Core.Weights;

/// <summary>Loads a state dict (any <see cref="IWeightSource"/>) into a TorchSharp module by key.</summary>
public static class ModuleWeights
{
    /// <summary>
    /// Copies the checkpoint's tensors into the module's parameters and persistent buffers, matching keys by name
    /// (as <see cref="nn.Module.state_dict"/> names them), one tensor at a time.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Everything is checked first, from the source's headers only (<see cref="IWeightSource.GetInfo"/>): keys are
    /// mapped as <paramref name="options"/> says, then missing, unexpected and shape-mismatched keys are collected. If the
    /// load must fail (strict mode with missing or unexpected keys, or any shape mismatch unless
    /// <see cref="WeightLoadOptions.SkipShapeMismatches"/>), one <see cref="StateDictMismatchException"/> lists them
    /// all and the module is left unchanged: not converted, not moved, not written.
    /// </para>
    /// <para>
    /// Then the module is converted to <see cref="WeightLoadOptions.DType"/> and moved to <see cref="WeightLoadOptions.Device"/>
    /// when asked, and each tensor is read already in the target's dtype and on its device, copied in place under
    /// <c>torch.no_grad()</c> and disposed at once: the checkpoint is never held in memory a second time, and no tensor
    /// is left behind. Parameter objects keep their identity unless a dtype or device change replaces them.
    /// If reading fails half-way (a truncated file), the module holds a mix of old and new values.
    /// </para>
    /// </remarks>
    /// <param name="module">The module to fill. Must not be on the meta device.</param>
    /// <param name="source">The checkpoint. Not disposed here.</param>
    /// <param name="options">Key mapping, strictness, dtype and device; null for <see cref="WeightLoadOptions.Default"/>.</param>
    /// <returns>Which keys were loaded, missing, unexpected, mismatched, skipped and ignored.</returns>
    /// <exception cref="StateDictMismatchException">The checkpoint does not fit the module; nothing was changed.</exception>
    /// <exception cref="ArgumentException">Two checkpoint keys map to one module key, or <see cref="WeightLoadOptions.DType"/> is not floating point.</exception>
    /// <exception cref="NotSupportedException">The module has tensors on the meta device.</exception>
    /// <exception cref="WeightsFormatException">A tensor's data cannot be read, or differs from what the source announced.</exception>
    public static WeightLoadReport Load(nn.Module module, IWeightSource source, WeightLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(source);
        options ??= WeightLoadOptions.Default;
        if (options.DType is { } requested && !IsFloatingPoint(requested))
        {
            throw new ArgumentException($"WeightLoadOptions.DType must be a floating-point type; got {requested}.", nameof(options));
        }

        string moduleName = module.GetType().Name;
        Dictionary<string, Tensor> targets = module.state_dict();
        foreach (var (key, tensor) in targets)
        {
            if (tensor.device_type == DeviceType.META)
            {
                throw new NotSupportedException(
                    $"{moduleName}: '{key}' is on the meta device, which holds no data to copy into; build the module on a real device before loading {source.Description}.");
            }
        }

        // 1. Map the checkpoint's keys to module keys.
        var sourceKeyOf = new Dictionary<string, string>(StringComparer.Ordinal);
        var skipped = new List<string>();
        var unexpected = new List<string>();
        var ignored = new List<string>();
        foreach (string stored in source.Keys)
        {
            string? key = MapKey(stored, options);
            if (key is null)
            {
                skipped.Add(stored);
                continue;
            }

            if (!sourceKeyOf.TryAdd(key, stored))
            {
                throw new ArgumentException(
                    $"{source.Description}: keys '{sourceKeyOf[key]}' and '{stored}' both map to module key '{key}'; fix WeightLoadOptions.KeyMap or the prefixes.",
                    nameof(options));
            }

            if (!targets.ContainsKey(key))
            {
                (KeyPattern.AnyMatch(options.IgnoreUnexpected, stored, key) ? ignored : unexpected).Add(stored);
            }
        }

        // 2. Check every module key against the headers, reading no data.
        var missing = new List<string>();
        var mismatches = new List<ShapeMismatch>();
        var plan = new List<(string Key, string Stored)>();
        foreach (var (key, tensor) in targets)
        {
            if (!sourceKeyOf.TryGetValue(key, out string? stored))
            {
                (KeyPattern.AnyMatch(options.IgnoreMissing, key) ? ignored : missing).Add(key);
                continue;
            }

            TensorInfo info = source.GetInfo(stored);
            if (!info.Shape.SequenceEqual(tensor.shape))
            {
                mismatches.Add(new ShapeMismatch(key, stored, tensor.shape, info.Shape));
                continue;
            }

            plan.Add((key, stored));
        }

        bool fails = (mismatches.Count > 0 && !options.SkipShapeMismatches)
            || (options.Strict && (missing.Count > 0 || unexpected.Count > 0));
        if (fails)
        {
            var failed = new WeightLoadReport([], missing, unexpected, mismatches, skipped, ignored);
            throw new StateDictMismatchException(failed, source.Description, moduleName);
        }

        // 3. Convert and move the module, then copy tensor by tensor.
        if (options.DType is not null || options.Device is not null)
        {
            if (options.DType is { } dtype && options.Device is { } device)
            {
                module.to(device, dtype);
            }
            else if (options.DType is { } dtypeOnly)
            {
                module.to(dtypeOnly);
            }
            else
            {
                module.to(options.Device!);
            }

            targets = module.state_dict();
        }

        var loaded = new List<string>(plan.Count);
        using (torch.no_grad())
        {
            foreach (var (key, stored) in plan)
            {
                Tensor target = targets[key];
                using Tensor value = source.ReadTensor(stored, target.dtype, target.device);
                if (!value.shape.SequenceEqual(target.shape))
                {
                    throw new WeightsFormatException(
                        source.Description, stored, $"read shape [{string.Join(", ", value.shape)}], but the header said [{string.Join(", ", target.shape)}].");
                }

                target.copy_(value);
                loaded.Add(key);
            }
        }

        return new WeightLoadReport(loaded, missing, unexpected, mismatches, skipped, ignored);
    }

    private static string? MapKey(string stored, WeightLoadOptions options)
    {
        string? key = stored;
        if (options.StripPrefix is { Length: > 0 } strip)
        {
            if (!key.StartsWith(strip, StringComparison.Ordinal))
            {
                return null;
            }

            key = key[strip.Length..];
        }

        if (options.KeyMap is { } map)
        {
            key = map(key);
            if (key is null)
            {
                return null;
            }
        }

        return options.AddPrefix is { Length: > 0 } add ? add + key : key;
    }

    private static bool IsFloatingPoint(ScalarType type) =>
        type is ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64;
}
