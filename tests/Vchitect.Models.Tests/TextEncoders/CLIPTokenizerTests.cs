using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Vchitect.Models.TextEncoders;
using Xunit;
using static TorchSharp.torch;

namespace Vchitect.Models.Tests.TextEncoders;

/// <summary>
/// A tiny vocabulary in CLIP's exact file format: the 256 byte-level characters (ids 0–255), the same with <c>&lt;/w&gt;</c>
/// (256–511), one token per merge (512…), then <c>&lt;|startoftext|&gt;</c> and <c>&lt;|endoftext|&gt;</c>.
/// </summary>
public sealed class TinyClipVocab : IDisposable
{
    public static readonly string[] Merges = ["h e", "l l", "ll o</w>", "he llo</w>", "o r", "w or", "l d</w>", "wor ld</w>", "' s</w>"];

    public TinyClipVocab()
    {
        Folder = Path.Combine(Path.GetTempPath(), "clip-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
        var vocab = new List<string>(ByteChars);
        vocab.AddRange(ByteChars.Select(c => c + "</w>"));
        vocab.AddRange(Merges.Select(m => m.Replace(" ", string.Empty, StringComparison.Ordinal)));
        vocab.Add("<|startoftext|>");
        vocab.Add("<|endoftext|>");
        Vocab = vocab.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i);
        File.WriteAllText(VocabPath, JsonSerializer.Serialize(Vocab), new UTF8Encoding(false));
        File.WriteAllText(MergesPath, "#version: 0.2\n" + string.Join("\n", Merges) + "\n", new UTF8Encoding(false));
    }

    public string Folder { get; }

    public string VocabPath => Path.Combine(Folder, "vocab.json");

    public string MergesPath => Path.Combine(Folder, "merges.txt");

    public Dictionary<string, int> Vocab { get; }

    public int Bos => Vocab["<|startoftext|>"];

    public int Eos => Vocab["<|endoftext|>"];

    /// <summary>CLIP's bytes_to_unicode values, in byte-table order.</summary>
    public static IReadOnlyList<string> ByteChars { get; } = BuildByteChars();

    /// <summary>The id of a single printable ASCII character (optionally ending a word).</summary>
    public static int AsciiId(char c, bool endOfWord = false) => c - '!' + (endOfWord ? 256 : 0);

    public void Dispose() => Directory.Delete(Folder, recursive: true);

    private static List<string> BuildByteChars()
    {
        var bs = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range('¡', '¬' - '¡' + 1)).Concat(Enumerable.Range('®', 'ÿ' - '®' + 1)).ToList();
        var cs = new List<int>(bs);
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            if (!bs.Contains(b))
            {
                bs.Add(b);
                cs.Add(256 + n++);
            }
        }

        return cs.Select(c => ((char)c).ToString()).ToList();
    }
}

public sealed class CLIPTokenizerTests : IDisposable
{
    private readonly TinyClipVocab _v = new();

    public void Dispose() => _v.Dispose();

    [Fact]
    public void Hand_computed_ids()
    {
        var tok = CLIPTokenizer.FromFolder(_v.Folder);
        int hello = _v.Vocab["hello</w>"], world = _v.Vocab["world</w>"];
        Assert.Equal([hello], tok.Tokenize("hello"));
        // "hell": h e → he; "l l</w>" is no merge.
        Assert.Equal([_v.Vocab["he"], TinyClipVocab.AsciiId('l'), TinyClipVocab.AsciiId('l', true)], tok.Tokenize("hell"));
        Assert.Equal([hello, world, TinyClipVocab.AsciiId('!'), TinyClipVocab.AsciiId('!', true)], tok.Tokenize("hello world!!"));
        // Regex: contractions, single digits, punctuation runs.
        Assert.Equal(
            [TinyClipVocab.AsciiId('i'), TinyClipVocab.AsciiId('t', true), _v.Vocab["'s</w>"], TinyClipVocab.AsciiId('a', true), TinyClipVocab.AsciiId('1', true), TinyClipVocab.AsciiId('2', true)],
            tok.Tokenize("it's a12"));
    }

    [Fact]
    public void Agrees_with_CLIPs_own_bpe_loop_on_random_words()
    {
        // A denser merge table over a few letters, checked against a direct port of simple_tokenizer.bpe().
        string[] merges =
        [
            "a b", "b a", "a a", "ab a", "b b</w>", "a b</w>", "c a", "ab ab", "ca b", "a c</w>", "b c", "bc a</w>",
            "aa b", "c c", "cc a", "ab c</w>", "ba b</w>", "a a</w>", "b a</w>", "c a</w>",
        ];
        File.WriteAllText(_v.MergesPath, "#version: 0.2\n" + string.Join("\n", merges) + "\n");
        var vocab = new List<string>(TinyClipVocab.ByteChars);
        vocab.AddRange(TinyClipVocab.ByteChars.Select(c => c + "</w>"));
        vocab.AddRange(merges.Select(m => m.Replace(" ", string.Empty, StringComparison.Ordinal)).Distinct());
        vocab.Add("<|startoftext|>");
        vocab.Add("<|endoftext|>");
        var ids = vocab.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i);
        File.WriteAllText(_v.VocabPath, JsonSerializer.Serialize(ids));
        var tok = CLIPTokenizer.FromFolder(_v.Folder);
        var ranks = merges.Select((m, i) => (m, i)).ToDictionary(x => x.m, x => x.i);
        var random = new Random(7);
        for (int n = 0; n < 500; n++)
        {
            string word = new(Enumerable.Range(0, random.Next(1, 12)).Select(_ => "abc"[random.Next(3)]).ToArray());
            int[] expected = ReferenceBpe(word, ranks).Select(t => ids[t]).ToArray();
            Assert.Equal(expected, tok.Tokenize(word));
        }
    }

    /// <summary>OpenAI simple_tokenizer.bpe: repeatedly merge every occurrence of the lowest-ranked adjacent pair.</summary>
    private static List<string> ReferenceBpe(string token, Dictionary<string, int> ranks)
    {
        var word = token[..^1].Select(c => c.ToString()).ToList();
        word.Add(token[^1] + "</w>");
        while (word.Count > 1)
        {
            (string A, string B)? best = null;
            int bestRank = int.MaxValue;
            for (int i = 0; i < word.Count - 1; i++)
            {
                if (ranks.TryGetValue(word[i] + " " + word[i + 1], out int r) && r < bestRank)
                {
                    bestRank = r;
                    best = (word[i], word[i + 1]);
                }
            }

            if (best is null)
            {
                break;
            }

            var merged = new List<string>();
            for (int i = 0; i < word.Count; i++)
            {
                if (i < word.Count - 1 && word[i] == best.Value.A && word[i + 1] == best.Value.B)
                {
                    merged.Add(word[i] + word[i + 1]);
                    i++;
                }
                else
                {
                    merged.Add(word[i]);
                }
            }

            word = merged;
        }

        return word;
    }

    [Fact]
    public void Lowercases_and_collapses_whitespace()
    {
        var tok = CLIPTokenizer.FromFolder(_v.Folder);
        Assert.Equal("hello world", tok.Clean("  HeLLo \t\n  WORLD \r\n"));
        Assert.Equal(tok.Tokenize("hello world"), tok.Tokenize("  HeLLo \t\n  WORLD \r\n"));
    }

    [Fact]
    public void Non_ascii_text_goes_through_byte_level_bpe()
    {
        var tok = CLIPTokenizer.FromFolder(_v.Folder);
        // "é" is UTF-8 C3 A9: both bytes are in the printable table ('Ã' and '©'), the last one ends the word.
        Assert.Equal([_v.Vocab["Ã"], _v.Vocab["©</w>"]], tok.Tokenize("É"));
    }

    [Fact]
    public void Special_tokens_padding_and_mask()
    {
        var tok = CLIPTokenizer.FromFolder(_v.Folder);
        Assert.Equal(77, tok.MaxLength);
        Assert.Equal(_v.Bos, tok.BosTokenId);
        Assert.Equal(_v.Eos, tok.EosTokenId);
        Assert.Equal(_v.Eos, tok.PadTokenId);
        var output = tok.Encode(["Hello world", ""]);
        long[] row = output.InputIds[0];
        Assert.Equal(77, row.Length);
        Assert.Equal([_v.Bos, _v.Vocab["hello</w>"], _v.Vocab["world</w>"], _v.Eos, _v.Eos], row[..5]);
        Assert.All(row[3..], id => Assert.Equal(_v.Eos, id));
        Assert.Equal(4, output.AttentionMask[0].Sum());
        Assert.Equal([_v.Bos, _v.Eos, _v.Eos], output.InputIds[1][..3]);
        Assert.Equal(2, output.AttentionMask[1].Sum());
        // Special tokens written in the prompt are kept whole.
        Assert.Equal([_v.Vocab["hello</w>"], _v.Eos], tok.Tokenize("hello<|endoftext|>"));

        using var ids = output.InputIdsTensor();
        Assert.Equal([2L, 77L], ids.shape);
        Assert.Equal(ScalarType.Int64, ids.dtype);
        Assert.Equal(_v.Vocab["world</w>"], ids[0, 2].item<long>());
    }

    [Fact]
    public void Pad_token_and_max_length_come_from_the_folder_or_arguments()
    {
        File.WriteAllText(Path.Combine(_v.Folder, "tokenizer_config.json"), """{"model_max_length": 8, "do_lower_case": true, "pad_token": "<|endoftext|>"}""");
        File.WriteAllText(Path.Combine(_v.Folder, "special_tokens_map.json"), """{"pad_token": {"content": "!", "lstrip": false}}""");
        var tok = CLIPTokenizer.FromFolder(_v.Folder);
        Assert.Equal(8, tok.MaxLength);
        Assert.Equal(TinyClipVocab.AsciiId('!'), tok.PadTokenId);
        Assert.Equal([_v.Bos, _v.Vocab["hello</w>"], _v.Eos, 0, 0, 0, 0, 0], tok.Encode("hello").InputIds[0]);
        var overridden = CLIPTokenizer.FromFolder(_v.Folder, maxLength: 5, padToken: "<|endoftext|>");
        Assert.Equal([_v.Bos, _v.Vocab["hello</w>"], _v.Eos, _v.Eos, _v.Eos], overridden.Encode("hello").InputIds[0]);
    }

    [Fact]
    public void Pipeline_folder_uses_its_tokenizer_subfolder()
    {
        string root = Path.Combine(Path.GetTempPath(), "clip-pipe-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            Directory.Move(_v.Folder, Path.Combine(root, "tokenizer"));
            var tok = CLIPTokenizer.FromFolder(root);
            Assert.Equal(_v.Eos, tok.EosTokenId);
        }
        finally
        {
            if (Directory.Exists(Path.Combine(root, "tokenizer")))
            {
                Directory.Move(Path.Combine(root, "tokenizer"), _v.Folder);
            }

            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Truncation_keeps_max_length_and_warns()
    {
        var logger = new ListLogger();
        var tok = CLIPTokenizer.FromFiles(_v.VocabPath, _v.MergesPath, maxLength: 6, logger: logger);
        var output = tok.Encode("hello world hello world hello");
        int hello = _v.Vocab["hello</w>"], world = _v.Vocab["world</w>"];
        Assert.Equal([_v.Bos, hello, world, hello, world, _v.Eos], output.InputIds[0]);
        Assert.All(output.AttentionMask[0], m => Assert.Equal(1, m));
        var warning = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("truncated", warning.Message, StringComparison.Ordinal);
        Assert.Contains("5 tokens", warning.Message, StringComparison.Ordinal);

        logger.Entries.Clear();
        tok.Encode("hello world");
        Assert.Empty(logger.Entries);
    }

    [Fact]
    public void Missing_files_name_the_path()
    {
        File.Delete(_v.MergesPath);
        var e = Assert.Throws<FileNotFoundException>(() => CLIPTokenizer.FromFolder(_v.Folder));
        Assert.Contains("merges.txt", e.Message, StringComparison.Ordinal);
        File.Delete(_v.VocabPath);
        e = Assert.Throws<FileNotFoundException>(() => CLIPTokenizer.FromFiles(_v.VocabPath, _v.MergesPath));
        Assert.Contains("vocab.json", e.Message, StringComparison.Ordinal);
        Assert.Throws<DirectoryNotFoundException>(() => CLIPTokenizer.FromFolder(Path.Combine(_v.Folder, "nope")));
    }

    [Theory]
    [InlineData("{\"a\": 0,")]
    [InlineData("[1, 2]")]
    [InlineData("{\"a\": \"zero\"}")]
    public void Bad_vocab_json_names_the_file(string text)
    {
        File.WriteAllText(_v.VocabPath, text);
        var e = Assert.Throws<TokenizerFileException>(() => CLIPTokenizer.FromFolder(_v.Folder));
        Assert.Equal(_v.VocabPath, e.FilePath);
        Assert.Contains("vocab.json", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("h e\nthree parts here\n", 3)]
    [InlineData("h e\nlonely\n", 3)]
    [InlineData("h e\nq z\n", 3)]
    public void Bad_merges_name_the_file_and_line(string body, int line)
    {
        File.WriteAllText(_v.MergesPath, "#version: 0.2\n" + body);
        var e = Assert.Throws<TokenizerFileException>(() => CLIPTokenizer.FromFolder(_v.Folder));
        Assert.Equal(_v.MergesPath, e.FilePath);
        Assert.Equal(line, e.Line);
        Assert.Contains("merges.txt, line " + line, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_tokenizer_config_and_missing_special_tokens_are_reported()
    {
        File.WriteAllText(Path.Combine(_v.Folder, "tokenizer_config.json"), "{not json");
        var e = Assert.Throws<TokenizerFileException>(() => CLIPTokenizer.FromFolder(_v.Folder));
        Assert.Contains("tokenizer_config.json", e.Message, StringComparison.Ordinal);
        File.Delete(Path.Combine(_v.Folder, "tokenizer_config.json"));
        e = Assert.Throws<TokenizerFileException>(() => CLIPTokenizer.FromFolder(_v.Folder, padToken: "<pad>"));
        Assert.Contains("<pad>", e.Message, StringComparison.Ordinal);
    }
}

/// <summary>An <see cref="ILogger"/> that records what it is told.</summary>
public sealed class ListLogger : ILogger
{
    public List<(LogLevel Level, string Message)> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Add((logLevel, formatter(state, exception)));
}
