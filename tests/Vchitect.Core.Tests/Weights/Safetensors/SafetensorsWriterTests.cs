using Vchitect.Core.Weights;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Core.Tests.Weights.Safetensors;

public sealed class SafetensorsWriterTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Duplicate_name_throws_ArgumentException_naming_the_key_and_writes_nothing()
    {
        using var scope = NewDisposeScope();
        string path = _temp.File("t.safetensors");
        var ex = Assert.Throws<ArgumentException>(() =>
            SafetensorsWriter.Write(path, [KeyValuePair.Create("a", ones(1)), KeyValuePair.Create("dup.w", ones(1)), KeyValuePair.Create("dup.w", ones(2))]));
        Assert.Contains("'dup.w'", ex.Message);
        Assert.Empty(_temp.Entries());
    }

    [Theory]
    [InlineData("")]
    [InlineData("__metadata__")]
    [InlineData("lone surrogate")]
    public void Invalid_name_throws_ArgumentException(string name)
    {
        // xunit cannot carry a lone surrogate through theory data: make it here.
        name = name == "lone surrogate" ? "x\ud800" : name;
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(_temp.File("t.safetensors"), [KeyValuePair.Create(name, ones(1))]));
        Assert.Empty(_temp.Entries());
    }

    [Fact]
    public void Complex_tensor_throws_NotSupportedException_naming_tensor_and_dtype_and_leaves_no_file()
    {
        using var scope = NewDisposeScope();
        string path = _temp.File("t.safetensors");
        var ex = Assert.Throws<NotSupportedException>(() => SafetensorsWriter.Write(path,
            [KeyValuePair.Create("ok", ones(3)), KeyValuePair.Create("freq", zeros(2, dtype: ScalarType.ComplexFloat32)), KeyValuePair.Create("later", ones(1))]));
        Assert.Contains("'freq'", ex.Message);
        Assert.Contains("ComplexFloat32", ex.Message);
        Assert.Empty(_temp.Entries());
    }

    [Fact]
    public void Failed_write_keeps_the_previous_file_intact_and_leaves_no_temporary_file()
    {
        using var scope = NewDisposeScope();
        string path = _temp.File("t.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["v"] = arange(4, ScalarType.Float32) });
        byte[] before = File.ReadAllBytes(path);

        Assert.Throws<NotSupportedException>(() => SafetensorsWriter.Write(path,
            [KeyValuePair.Create("v", ones(4)), KeyValuePair.Create("c", zeros(1, dtype: ScalarType.ComplexFloat64))]));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["t.safetensors"], _temp.Entries());
    }

    [Fact]
    public void Failure_after_the_data_is_written_removes_the_temporary_file()
    {
        // The target is a folder, so the final move fails after the temporary file has been written in full.
        using var scope = NewDisposeScope();
        string target = _temp.File("taken");
        Directory.CreateDirectory(target);
        Assert.ThrowsAny<IOException>(() => SafetensorsWriter.Write(target, new Dictionary<string, Tensor> { ["w"] = ones(16) }));
        Assert.Equal(["taken"], _temp.Entries());
        Assert.Empty(Directory.GetFileSystemEntries(target));
    }

    [Fact]
    public void Writing_over_an_existing_file_replaces_it()
    {
        using var scope = NewDisposeScope();
        string path = _temp.File("t.safetensors");
        File.WriteAllText(path, "not safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = full(3, 2.5f) });
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(new float[] { 2.5f, 2.5f, 2.5f }, file.ReadTensor("w").data<float>().ToArray());
        Assert.Equal(["t.safetensors"], _temp.Entries());
    }

    [Fact]
    public void Null_arguments_are_rejected()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentNullException>(() => SafetensorsWriter.Write(_temp.File("t"), (IEnumerable<KeyValuePair<string, Tensor>>)null!));
        Assert.Throws<ArgumentNullException>(() => SafetensorsWriter.Write(_temp.File("t"), [KeyValuePair.Create("x", (Tensor)null!)]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write("", new Dictionary<string, Tensor>()));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(_temp.File("t"), new Dictionary<string, Tensor>(),
            new Dictionary<string, string> { ["k"] = null! }));
        Assert.Empty(_temp.Entries());
    }

    [Fact]
    public void Input_tensors_are_left_untouched()
    {
        using var scope = NewDisposeScope();
        Tensor weight = arange(6, ScalarType.Float32).reshape(2, 3).requires_grad_(true);
        Tensor view = weight.t();
        SafetensorsWriter.Write(_temp.File("t.safetensors"), new Dictionary<string, Tensor> { ["w"] = weight, ["v"] = view });
        Assert.True(weight.requires_grad);
        Assert.False(view.is_contiguous());
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, weight.detach().data<float>().ToArray());
    }
}
