using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Vchitect.Evaluation.TinyWorld;

/// <summary>
/// The tiny world's tokenizer files in OpenAI CLIP's BPE format (the <c>tokenizer/</c> folder of
/// <c>openai/clip-vit-large-patch14</c>): <c>vocab.json</c> holds the 256 byte-level characters, the same 256 with the
/// <c>&lt;/w&gt;</c> end-of-word suffix, one token per merge, then <c>&lt;|startoftext|&gt;</c> and <c>&lt;|endoftext|&gt;</c>;
/// <c>merges.txt</c> holds the merges, best first. The merges are built from <see cref="TinyWorldGrammar.Words"/> so that
/// every grammar word is one token; any other text still tokenizes, into smaller pieces down to single bytes.
/// </summary>
/// <remarks>
/// The merges are found by running CLIP's BPE on each word with the merges so far and, while the word is more than one
/// symbol, appending the merge of its first two symbols. An appended merge ranks below every earlier one, so it never
/// changes how an earlier word is split.
/// </remarks>
public static class TinyWorldTokenizer
{
    /// <summary>CLIP's beginning-of-text token.</summary>
    public const string BosToken = "<|startoftext|>";

    /// <summary>CLIP's end-of-text token, also used for padding (as in Stable Diffusion v1 and LaVie).</summary>
    public const string EosToken = "<|endoftext|>";

    private const string EndOfWord = "</w>";

    // bytes_to_unicode: the character standing for each byte, and the 256 characters in CLIP's vocabulary order.
    private static readonly (string[] ByByte, string[] VocabularyOrder) ByteChars = BuildByteChars();
    private static readonly (string[] Tokens, string[] Merges) Built = Build();

    /// <summary>The merges, best first, each as two tokens separated by one space (the lines of <c>merges.txt</c>).</summary>
    public static IReadOnlyList<string> Merges => Built.Merges;

    /// <summary>The vocabulary in id order: token <c>i</c> has id <c>i</c> (the entries of <c>vocab.json</c>).</summary>
    public static IReadOnlyList<string> Tokens => Built.Tokens;

    /// <summary>The number of tokens, the text encoder's <c>vocab_size</c>.</summary>
    public static int VocabularySize => Built.Tokens.Length;

    /// <summary>The id of <see cref="BosToken"/> (the next to last token).</summary>
    public static int BosTokenId => Built.Tokens.Length - 2;

    /// <summary>The id of <see cref="EosToken"/> (the last token), also the padding id.</summary>
    public static int EosTokenId => Built.Tokens.Length - 1;

    /// <summary>The id of a grammar word's single token (<c>word&lt;/w&gt;</c>).</summary>
    /// <param name="word">A word of <see cref="TinyWorldGrammar.Words"/>, lower case.</param>
    /// <exception cref="ArgumentException">The word is not one of the grammar's.</exception>
    public static int WordTokenId(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        if (!TinyWorldGrammar.Words.Contains(word, StringComparer.Ordinal))
        {
            throw new ArgumentException($"\"{word}\" is not a word of the tiny world's grammar ({string.Join(", ", TinyWorldGrammar.Words)}).", nameof(word));
        }

        return Array.IndexOf(Built.Tokens, ToByteLevel(word) + EndOfWord);
    }

    /// <summary>
    /// Writes the tokenizer folder: <c>vocab.json</c>, <c>merges.txt</c>, <c>tokenizer_config.json</c> and
    /// <c>special_tokens_map.json</c>, as transformers saves a <c>CLIPTokenizer</c>. The folder is created if needed;
    /// existing files of those names are replaced.
    /// </summary>
    /// <param name="folder">The folder to write into (for a model, its <c>tokenizer/</c> subfolder).</param>
    /// <param name="maxLength">The padded sequence length, <c>model_max_length</c>, BOS and EOS included; 11 (the longest caption) to 77. Default 77.</param>
    /// <exception cref="ArgumentException"><paramref name="folder"/> is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is outside 11..77.</exception>
    /// <exception cref="IOException">A file cannot be written.</exception>
    public static void WriteFolder(string folder, int maxLength = 77)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, TinyWorldCaption.WordCount + 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLength, 77);
        Directory.CreateDirectory(folder);
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        var options = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

        WriteJson(Path.Combine(folder, "vocab.json"), options, w =>
        {
            for (int i = 0; i < Built.Tokens.Length; i++)
            {
                w.WriteNumber(Built.Tokens[i], i);
            }
        });
        File.WriteAllText(Path.Combine(folder, "merges.txt"), "#version: 0.2\n" + string.Join("\n", Built.Merges) + "\n", utf8);
        var indented = options with { Indented = true };
        WriteJson(Path.Combine(folder, "special_tokens_map.json"), indented, w =>
        {
            w.WriteString("bos_token", BosToken);
            w.WriteString("eos_token", EosToken);
            w.WriteString("pad_token", EosToken);
            w.WriteString("unk_token", EosToken);
        });
        WriteJson(Path.Combine(folder, "tokenizer_config.json"), indented, w =>
        {
            w.WriteBoolean("add_prefix_space", false);
            w.WriteString("bos_token", BosToken);
            w.WriteBoolean("do_lower_case", true);
            w.WriteString("eos_token", EosToken);
            w.WriteString("errors", "replace");
            w.WriteNumber("model_max_length", maxLength);
            w.WriteString("pad_token", EosToken);
            w.WriteString("tokenizer_class", "CLIPTokenizer");
            w.WriteString("unk_token", EosToken);
        });
    }

    /// <summary>CLIP's BPE on one word (byte-level symbols, the last with <c>&lt;/w&gt;</c>): the pieces it ends as.</summary>
    internal static List<string> Bpe(string word, Dictionary<(string, string), int> ranks)
    {
        string chars = ToByteLevel(word);
        var symbols = new List<string>(chars.Length);
        for (int i = 0; i < chars.Length; i++)
        {
            symbols.Add(i == chars.Length - 1 ? chars[i] + EndOfWord : chars[i].ToString());
        }

        while (symbols.Count > 1)
        {
            int bestRank = int.MaxValue;
            (string, string) best = default;
            for (int i = 0; i + 1 < symbols.Count; i++)
            {
                if (ranks.TryGetValue((symbols[i], symbols[i + 1]), out int rank) && rank < bestRank)
                {
                    bestRank = rank;
                    best = (symbols[i], symbols[i + 1]);
                }
            }

            if (bestRank == int.MaxValue)
            {
                break;
            }

            var merged = new List<string>(symbols.Count);
            for (int i = 0; i < symbols.Count; i++)
            {
                if (i + 1 < symbols.Count && symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                {
                    merged.Add(best.Item1 + best.Item2);
                    i++;
                }
                else
                {
                    merged.Add(symbols[i]);
                }
            }

            symbols = merged;
        }

        return symbols;
    }

    private static (string[] Tokens, string[] Merges) Build()
    {
        var ranks = new Dictionary<(string, string), int>();
        var merges = new List<string>();
        var tokens = new List<string>(ByteChars.VocabularyOrder);
        tokens.AddRange(ByteChars.VocabularyOrder.Select(c => c + EndOfWord));
        var known = new HashSet<string>(tokens, StringComparer.Ordinal);
        foreach (string word in TinyWorldGrammar.Words)
        {
            for (List<string> pieces = Bpe(word, ranks); pieces.Count > 1; pieces = Bpe(word, ranks))
            {
                ranks[(pieces[0], pieces[1])] = merges.Count;
                merges.Add(pieces[0] + " " + pieces[1]);
                if (known.Add(pieces[0] + pieces[1]))
                {
                    tokens.Add(pieces[0] + pieces[1]);
                }
            }
        }

        tokens.Add(BosToken);
        tokens.Add(EosToken);
        return (tokens.ToArray(), merges.ToArray());
    }

    private static string ToByteLevel(string word)
    {
        var sb = new StringBuilder();
        foreach (byte b in Encoding.UTF8.GetBytes(word))
        {
            sb.Append(ByteChars.ByByte[b]);
        }

        return sb.ToString();
    }

    /// <summary>GPT-2 / CLIP <c>bytes_to_unicode</c>: printable bytes stand for themselves, the others for 256 + n in byte order.</summary>
    private static (string[] ByByte, string[] VocabularyOrder) BuildByteChars()
    {
        var printable = new List<int>();
        printable.AddRange(Enumerable.Range('!', '~' - '!' + 1));
        printable.AddRange(Enumerable.Range('¡', '¬' - '¡' + 1));
        printable.AddRange(Enumerable.Range('®', 'ÿ' - '®' + 1));
        var byByte = new string[256];
        foreach (int b in printable)
        {
            byByte[b] = ((char)b).ToString();
        }

        var order = printable.Select(b => byByte[b]).ToList();
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            if (byByte[b] is null)
            {
                byByte[b] = ((char)(256 + next++)).ToString();
                order.Add(byByte[b]);
            }
        }

        return (byByte, order.ToArray());
    }

    private static void WriteJson(string path, JsonWriterOptions options, Action<Utf8JsonWriter> body)
    {
        using var stream = File.Create(path);
        using var writer = new Utf8JsonWriter(stream, options);
        writer.WriteStartObject();
        body(writer);
        writer.WriteEndObject();
    }
}
