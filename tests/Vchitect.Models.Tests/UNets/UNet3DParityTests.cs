using TorchSharp;
using Vchitect.Core.Weights;
using Vchitect.Models.UNets;
using Vchitect.TestUtilities;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.UNets;

[Collection(UNetTorchState.Name)]
public sealed class UNet3DParityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("timestep", "sample")]
    [InlineData("timestep_scalar", "sample_scalar_timestep")]
    public void Tiny_unet_matches_reference(string timestepKey, string outputKey)
    {
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel();
        using var file = UNetFixtures.Open(UNetFixtures.UNetFile);
        using var mode = inference_mode();
        var input = new UNet3DConditionInput(file.ReadTensor("in.sample"), file.ReadTensor("in." + timestepKey), file.ReadTensor("in.encoder_hidden_states"));
        var actual = model.forward(input).Sample;
        var expected = file.ReadTensor("out." + outputKey);
        output.WriteLine($"{outputKey}: max abs error {(actual - expected).abs().max().item<float>():G4}");
        TensorAssert.Close(expected, actual, 1e-4, what: outputKey);
    }

    [Fact]
    public void Forward_does_not_dispose_inputs_and_returns_a_fresh_tensor()
    {
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel();
        using var file = UNetFixtures.Open(UNetFixtures.UNetFile);
        using var mode = inference_mode();
        var sample = file.ReadTensor("in.sample");
        var t = file.ReadTensor("in.timestep");
        var ehs = file.ReadTensor("in.encoder_hidden_states");
        var y = model.forward(new UNet3DConditionInput(sample, t, ehs)).Sample;
        Assert.False(sample.IsInvalid);
        Assert.False(t.IsInvalid);
        Assert.False(ehs.IsInvalid);
        Assert.NotEqual(sample.Handle, y.Handle);
    }

    [Fact]
    public void Float_timesteps_give_the_same_result_as_int64()
    {
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel();
        using var file = UNetFixtures.Open(UNetFixtures.UNetFile);
        using var mode = inference_mode();
        var sample = file.ReadTensor("in.sample");
        var ehs = file.ReadTensor("in.encoder_hidden_states");
        var t = file.ReadTensor("in.timestep");
        var a = model.forward(new UNet3DConditionInput(sample, t, ehs)).Sample;
        var b = model.forward(new UNet3DConditionInput(sample, t.to(ScalarType.Float32), ehs)).Sample;
        TensorAssert.Close(a, b, 0);
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void Half_precision_forward_runs(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel(dtype);
        using var file = UNetFixtures.Open(UNetFixtures.UNetFile);
        using var mode = inference_mode();
        var sample = file.ReadTensor("in.sample", dtype);
        var ehs = file.ReadTensor("in.encoder_hidden_states", dtype);
        var y = model.forward(new UNet3DConditionInput(sample, file.ReadTensor("in.timestep"), ehs)).Sample;
        Assert.Equal(dtype, y.dtype);
        Assert.Equal(sample.shape, y.shape);
        Assert.True(y.isfinite().all().item<bool>(), "non-finite values");
        var expected = file.ReadTensor("out.sample");
        output.WriteLine($"{dtype}: max abs error vs float32 reference {(y.to(ScalarType.Float32) - expected).abs().max().item<float>():G4}");
    }

    [Fact]
    public void Two_forwards_leave_no_live_tensors()
    {
        using var model = UNetFixtures.TinyModel();
        using var file = UNetFixtures.Open(UNetFixtures.UNetFile);
        using var sample = file.ReadTensor("in.sample");
        using var t = file.ReadTensor("in.timestep");
        using var ehs = file.ReadTensor("in.encoder_hidden_states");
        using var mode = inference_mode();
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 2; i++)
        {
            using var y = model.forward(new UNet3DConditionInput(sample, t, ehs)).Sample;
        }

        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Strict_load_reports_a_missing_key()
    {
        using var model = new UNet3DConditionModel(UNetFixtures.TinyConfig());
        using var file = UNetFixtures.Open(UNetFixtures.UNetFile);
        var ex = Assert.Throws<StateDictMismatchException>(() => ModuleWeights.Load(
            model,
            file,
            new WeightLoadOptions { StripPrefix = "weights.", KeyMap = k => k.EndsWith("rotary_emb.freqs", StringComparison.Ordinal) ? null : k }));
        Assert.Contains("rotary_emb.freqs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_built_inside_a_dispose_scope_survives_the_scope()
    {
        UNet3DConditionModel model;
        using (var buildScope = NewDisposeScope())
        {
            model = UNetFixtures.TinyModel();
        }

        using (model)
        {
            Assert.All(model.state_dict().Values, t => Assert.False(t.IsInvalid));
            using var scope = NewDisposeScope();
            using var file = UNetFixtures.Open(UNetFixtures.UNetFile);
            using var mode = inference_mode();
            var y = model.forward(new UNet3DConditionInput(file.ReadTensor("in.sample"), file.ReadTensor("in.timestep"), file.ReadTensor("in.encoder_hidden_states"))).Sample;
            TensorAssert.Close(file.ReadTensor("out.sample"), y, 1e-4);
        }
    }

    [Fact]
    public void Sizes_not_divisible_by_the_upsampling_factor_are_restored()
    {
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel();
        using var mode = inference_mode();
        var sample = randn([1, 4, 3, 7, 9]);
        var ehs = randn([1, 7, 32]);
        var y = model.forward(new UNet3DConditionInput(sample, tensor(500L), ehs)).Sample;
        Assert.Equal(sample.shape, y.shape);
        Assert.True(y.isfinite().all().item<bool>());
    }

    [Fact]
    public void Wrong_input_shapes_throw_naming_the_input()
    {
        using var scope = NewDisposeScope();
        using var model = UNetFixtures.TinyModel();
        var ex = Assert.Throws<ArgumentException>(() => model.forward(new UNet3DConditionInput(randn([1, 3, 2, 8, 8]), tensor(1L), randn([1, 7, 32]))));
        Assert.Contains("Sample", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => model.forward(new UNet3DConditionInput(randn([1, 4, 2, 8, 8]), tensor(1L), randn([1, 7, 16]))));
        Assert.Contains("EncoderHiddenStates", ex.Message, StringComparison.Ordinal);
    }
}
