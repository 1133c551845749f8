using System.Text.Json;
using Vchitect.Evaluation.TinyWorld;
using Vchitect.Models.TextEncoders;
using Xunit;

namespace Vchitect.Evaluation.Tests;

public sealed class TokenizerTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "vchitect-tinyworld-tok-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public void Files_are_in_CLIP_format()
    {
        TinyWorldTokenizer.WriteFolder(_folder);
        string[] merges = File.ReadAllLines(Path.Combine(_folder, "merges.txt"));
        Assert.Equal("#version: 0.2", merges[0]);
        Assert.Equal(TinyWorldTokenizer.Merges, merges.Skip(1));

        using JsonDocument vocab = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_folder, "vocab.json")));
        var entries = vocab.RootElement.EnumerateObject().ToList();
        Assert.Equal(TinyWorldTokenizer.VocabularySize, entries.Count);
        Assert.Equal(70, TinyWorldTokenizer.Merges.Count);     // docs/tinyworld.md quotes these two numbers
        Assert.Equal(584, TinyWorldTokenizer.VocabularySize);
        Assert.Equal(("!", 0), (entries[0].Name, entries[0].Value.GetInt32()));          // CLIP's first entry
        Assert.Equal(("Ġ", 220), (entries[220].Name, entries[220].Value.GetInt32()));     // the space byte, as in CLIP
        Assert.Equal(("!</w>", 256), (entries[256].Name, entries[256].Value.GetInt32())); // CLIP's 257th entry
        Assert.Equal(("<|startoftext|>", TinyWorldTokenizer.BosTokenId), (entries[^2].Name, entries[^2].Value.GetInt32()));
        Assert.Equal(("<|endoftext|>", TinyWorldTokenizer.EosTokenId), (entries[^1].Name, entries[^1].Value.GetInt32()));
        Assert.Equal(Enumerable.Range(0, entries.Count), entries.Select(e => e.Value.GetInt32()));
        string raw = File.ReadAllText(Path.Combine(_folder, "vocab.json"));
        Assert.Contains("\"<|startoftext|>\"", raw, StringComparison.Ordinal); // written unescaped, like the hub's file
        Assert.All(TinyWorldGrammar.Words, w => Assert.Contains(entries, e => e.Name == w + "</w>"));
        Assert.True(File.Exists(Path.Combine(_folder, "tokenizer_config.json")));
        Assert.True(File.Exists(Path.Combine(_folder, "special_tokens_map.json")));
    }

    [Fact]
    public void CLIPTokenizer_loads_it_and_every_caption_is_one_token_per_word()
    {
        TinyWorldTokenizer.WriteFolder(Path.Combine(_folder, "tokenizer"));
        CLIPTokenizer tokenizer = CLIPTokenizer.FromFolder(_folder); // a pipeline folder: finds tokenizer/
        Assert.Equal(TinyWorldTokenizer.BosTokenId, tokenizer.BosTokenId);
        Assert.Equal(TinyWorldTokenizer.EosTokenId, tokenizer.EosTokenId);
        Assert.Equal(TinyWorldTokenizer.EosTokenId, tokenizer.PadTokenId);
        Assert.Equal(77, tokenizer.MaxLength);

        CLIPTokenizerOutput output = tokenizer.Encode(TinyWorldCaption.All.Select(c => c.ToString()).ToList());
        for (int i = 0; i < TinyWorldCaption.Count; i++)
        {
            string[] words = TinyWorldCaption.All[i].ToString().Split(' ');
            long[] ids = output.InputIds[i];
            long[] expected = [TinyWorldTokenizer.BosTokenId, .. words.Select(w => (long)TinyWorldTokenizer.WordTokenId(w)), TinyWorldTokenizer.EosTokenId];
            Assert.Equal(expected, ids.Take(11));
            Assert.All(ids.Skip(11), id => Assert.Equal(TinyWorldTokenizer.EosTokenId, id));
            Assert.Equal(Enumerable.Repeat(1L, 11).Concat(Enumerable.Repeat(0L, 66)), output.AttentionMask[i]);
        }

        // Every word gets its own id.
        Assert.Equal(TinyWorldGrammar.Words.Count, TinyWorldGrammar.Words.Select(TinyWorldTokenizer.WordTokenId).Distinct().Count());
        Assert.Equal(tokenizer.Encode("a blue square moving right on a black background").InputIds[0],
            tokenizer.Encode("A  BLUE square moving right on a black background").InputIds[0]);
    }

    [Fact]
    public void Unknown_words_fall_back_to_smaller_pieces()
    {
        TinyWorldTokenizer.WriteFolder(_folder, maxLength: 16);
        CLIPTokenizer tokenizer = CLIPTokenizer.FromFolder(_folder);
        Assert.Equal(16, tokenizer.MaxLength);
        IReadOnlyList<int> zebra = tokenizer.Tokenize("zebra");
        Assert.True(zebra.Count >= 2, $"'zebra' should split into pieces; got {zebra.Count}");
        Assert.Equal("zebra", tokenizer.Bpe.Decode(zebra)?.Trim());
        IReadOnlyList<int> mixed = tokenizer.Tokenize("a pink circle, moving é 42!");
        Assert.True(mixed.Count > 6);
        Assert.DoesNotContain(TinyWorldTokenizer.EosTokenId, mixed);
        Assert.Equal(TinyWorldTokenizer.WordTokenId("circle"), tokenizer.Tokenize("circle").Single());
        long[] row = tokenizer.Encode("a zebra moving left").InputIds[0];
        Assert.Equal(TinyWorldTokenizer.BosTokenId, row[0]);
        Assert.Equal(16, row.Length);
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TinyWorldTokenizer.WriteFolder(_folder, maxLength: 10));
        Assert.Throws<ArgumentException>(() => TinyWorldTokenizer.WordTokenId("zebra"));
    }
}
