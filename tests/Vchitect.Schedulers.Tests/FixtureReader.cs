using System.Text.Json;
using Vchitect.Core.Weights;
using static TorchSharp.torch;

namespace Vchitect.Schedulers.Tests;

/// <summary>A fixture file read through <see cref="SafetensorsFile"/>, with its JSON metadata parsed on demand. Not thread-safe (one per test class).</summary>
internal sealed class FixtureReader(string path)
{
    private readonly SafetensorsFile _file = SafetensorsFile.Open(path);

    public bool Contains(string key) => _file.Contains(key);

    public JsonElement MetaJson(string name) => JsonDocument.Parse(_file.Metadata[name]).RootElement;

    public Tensor Read(string key) => _file.ReadTensor(key);
}
