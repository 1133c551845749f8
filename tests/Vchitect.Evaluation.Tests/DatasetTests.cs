using Vchitect.Evaluation.TinyWorld;
using Xunit;

namespace Vchitect.Evaluation.Tests;

public sealed class DatasetTests
{
    [Fact]
    public void An_epoch_visits_every_training_caption_once_and_never_a_held_out_one()
    {
        var dataset = new TinyWorldDataset(seed: 11);
        Assert.Equal(132, dataset.EpochLength);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var captions = Enumerable.Range(epoch * 132, 132).Select(i => dataset.Describe(i).Caption).ToList();
            Assert.Equal(TinyWorldCaption.Training.OrderBy(c => c.Index), captions.OrderBy(c => c.Index));
            Assert.DoesNotContain(captions, c => c.IsHeldOut);
        }

        // Epochs are shuffled differently.
        Assert.NotEqual(
            Enumerable.Range(0, 132).Select(i => dataset.Describe(i).Caption),
            Enumerable.Range(132, 132).Select(i => dataset.Describe(i).Caption));
    }

    [Fact]
    public void Samples_are_reproducible_by_index_and_the_stream_can_resume_anywhere()
    {
        var a = new TinyWorldDataset(seed: 5);
        var b = new TinyWorldDataset(seed: 5);
        var c = new TinyWorldDataset(seed: 6);
        List<TinyWorldSample> first = a.Clips().Take(4).ToList();
        TinyWorldSample resumed = b.Clips(start: 3).First();
        Assert.Equal(first[3].Caption, resumed.Caption);
        Assert.Equal(first[3].Seed, resumed.Seed);
        Assert.Equal(first[3].Video.Pixels.ToArray(), resumed.Video.Pixels.ToArray());
        Assert.Equal(first[3].Video.Pixels.ToArray(), b.Clip(3).Video.Pixels.ToArray());
        Assert.Equal(first[3].Text, first[3].Caption.ToString());
        Assert.NotEqual(first.Select(s => s.Seed), c.Clips().Take(4).Select(s => s.Seed));
        Assert.Equal(4, first.Select(s => s.Seed).Distinct().Count());
        Assert.Equal(first[2].Video.Pixels.ToArray(), new TinyWorldRenderer().Render(first[2].Caption, first[2].Seed).Pixels.ToArray());
    }

    [Fact]
    public void A_given_caption_list_is_used_as_is()
    {
        var dataset = new TinyWorldDataset(seed: 1, TinyWorldCaption.HeldOut);
        Assert.Equal(12, dataset.EpochLength);
        Assert.All(dataset.Clips().Take(24), s => Assert.True(s.Caption.IsHeldOut));
        Assert.Throws<ArgumentException>(() => new TinyWorldDataset(1, []));
        Assert.Throws<ArgumentException>(() => new TinyWorldDataset(1, [TinyWorldCaption.All[0], null!]));
        Assert.Throws<ArgumentOutOfRangeException>(() => dataset.Clip(-1));
    }

    [Fact]
    public void Image_samples_are_single_frames_of_their_clip()
    {
        var dataset = new TinyWorldDataset(seed: 2);
        var renderer = new TinyWorldRenderer();
        var frameIndices = new HashSet<int>();
        foreach (TinyWorldSample image in dataset.Images().Take(12))
        {
            Assert.Equal(1, image.Video.FrameCount);
            var clip = renderer.Render(image.Caption, image.Seed);
            int match = Enumerable.Range(0, clip.FrameCount).First(f => clip.GetFramePixels(f).Span.SequenceEqual(image.Video.Pixels.Span));
            frameIndices.Add(match);
        }

        Assert.True(frameIndices.Count > 3, "image samples should come from various frames");
        Assert.NotEqual(dataset.Clip(0).Seed, dataset.Image(0).Seed);
    }
}
