using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.Tokenizers;
using static TorchSharp.torch;

namespace Vchitect.Models.TextEncoders;

/// <summary>
/// Token ids of a batch of prompts, each padded (or truncated) to the same length: row-major (B, L).
/// </summary>
/// <param name="InputIds">BOS, the prompt's BPE ids, EOS, then the pad id; one array of length L per prompt.</param>
/// <param name="AttentionMask">1 for BOS, prompt and EOS, 0 for padding; same shape as <paramref name="InputIds"/>.</param>
public sealed record CLIPTokenizerOutput(IReadOnlyList<long[]> InputIds, IReadOnlyList<long[]> AttentionMask)
{
    /// <summary>The ids as an int64 tensor (B, L), which the caller owns.</summary>
    /// <param name="device">Where to place it; null for CPU.</param>
    public Tensor InputIdsTensor(Device? device = null) => ToTensor(InputIds, device);

    /// <summary>The attention mask as an int64 tensor (B, L), which the caller owns.</summary>
    /// <param name="device">Where to place it; null for CPU.</param>
    public Tensor AttentionMaskTensor(Device? device = null) => ToTensor(AttentionMask, device);

    private static Tensor ToTensor(IReadOnlyList<long[]> rows, Device? device)
    {
        long length = rows.Count == 0 ? 0 : rows[0].Length;
        long[] flat = rows.SelectMany(r => r).ToArray();
        // tensor(long[]) wraps the pinned managed array; the pin ends with `cpu`, so copy before returning. (cpu.to(CPU) would
        // alias the array and leave the caller reading unpinned, possibly moved memory.)
        using Tensor cpu = tensor(flat, [rows.Count, length]);
        Tensor owned = cpu.clone();
        if (device is null)
        {
            return owned;
        }

        using (owned)
        {
            return owned.to(device);
        }
    }
}

/// <summary>
/// The CLIP BPE tokenizer (OpenAI <c>simple_tokenizer.py</c>, transformers <c>CLIPTokenizer</c>) on
/// Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>: reads a folder's <c>vocab.json</c> and <c>merges.txt</c>
/// (and <c>tokenizer_config.json</c> / <c>special_tokens_map.json</c> when present).
/// </summary>
/// <remarks>
/// <para>
/// Text is cleaned as CLIP does without ftfy: runs of whitespace become one space, the ends are trimmed, and the text is
/// lower-cased (invariant culture). It is then split with CLIP's regex (<c>'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+</c>,
/// special tokens kept whole), each piece is mapped to byte-level unicode and merged by BPE with the <c>&lt;/w&gt;</c>
/// end-of-word suffix. <see cref="BpeTokenizer"/> does the byte mapping, the suffix and the merges; the cleanup and
/// the pre-tokenizer regex are this class's (BpeTokenizer has no CLIP normaliser), and so are padding and truncation.
/// ftfy's mojibake repair and the double HTML unescape of OpenAI's code are not applied.
/// </para>
/// <para>
/// <see cref="Encode(IReadOnlyList{string})"/> gives BOS (<c>&lt;|startoftext|&gt;</c>, 49406 in CLIP's vocab), at most
/// <see cref="MaxLength"/> − 2 prompt tokens, EOS (<c>&lt;|endoftext|&gt;</c>, 49407), then the pad token up to
/// <see cref="MaxLength"/> (77); longer prompts are truncated with one logged warning. Settings are immutable after loading; use one instance per thread
/// (the BPE word cache is shared state).
/// </para>
/// </remarks>
public sealed class CLIPTokenizer
{
    /// <summary>CLIP's pre-tokenizer pattern (case-insensitive), special tokens first.</summary>
    public const string Pattern = @"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

    /// <summary>CLIP's context length, the default <see cref="MaxLength"/>.</summary>
    public const int DefaultMaxLength = 77;

    private static readonly Regex Whitespace = new(@"\s+", RegexOptions.Compiled | RegexOptions.CultureInvariant);

    private readonly BpeTokenizer _bpe;
    private readonly ILogger _logger;
    private readonly string _source;

    private CLIPTokenizer(BpeTokenizer bpe, string source, int bos, int eos, int pad, int maxLength, bool lowerCase, ILogger? logger)
    {
        _bpe = bpe;
        _source = source;
        BosTokenId = bos;
        EosTokenId = eos;
        PadTokenId = pad;
        MaxLength = maxLength;
        LowerCase = lowerCase;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The id of <c>&lt;|startoftext|&gt;</c> (49406 in CLIP's vocab).</summary>
    public int BosTokenId { get; }

    /// <summary>The id of <c>&lt;|endoftext|&gt;</c> (49407 in CLIP's vocab).</summary>
    public int EosTokenId { get; }

    /// <summary>The padding id: the folder's <c>pad_token</c> (EOS for SD v1.4, <c>!</c> = 0 for SD 2.x), else EOS.</summary>
    public int PadTokenId { get; }

    /// <summary>The padded length of every sequence, BOS and EOS included (<c>model_max_length</c>, 77).</summary>
    public int MaxLength { get; }

    /// <summary>Whether text is lower-cased before tokenising (<c>do_lower_case</c>, default true).</summary>
    public bool LowerCase { get; }

    /// <summary>The underlying Microsoft.ML.Tokenizers BPE model (byte-level, <c>&lt;/w&gt;</c> suffix).</summary>
    public Tokenizer Bpe => _bpe;

    /// <summary>
    /// Loads the tokenizer of a folder: a tokenizer folder holding <c>vocab.json</c> and <c>merges.txt</c>, or a pipeline
    /// folder whose <c>tokenizer/</c> subfolder does.
    /// </summary>
    /// <param name="path">The folder.</param>
    /// <param name="maxLength">Overrides <c>model_max_length</c>; null uses the folder's value, else 77.</param>
    /// <param name="padToken">Overrides the pad token (a vocab token, e.g. <c>&lt;|endoftext|&gt;</c> or <c>!</c>); null uses the folder's, else EOS.</param>
    /// <param name="logger">Receives truncation warnings; null for none.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException"><c>vocab.json</c> or <c>merges.txt</c> is missing (the path is named).</exception>
    /// <exception cref="TokenizerFileException">A file is malformed; the file (and line) is named.</exception>
    public static CLIPTokenizer FromFolder(string path, int? maxLength = null, string? padToken = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string folder = Path.GetFullPath(path);
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Tokenizer folder not found: {folder}");
        }

        string sub = Path.Combine(folder, "tokenizer");
        if (!File.Exists(Path.Combine(folder, "vocab.json")) && Directory.Exists(sub))
        {
            folder = sub;
        }

        var settings = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (string name in new[] { "tokenizer_config.json", "special_tokens_map.json" })
        {
            string file = Path.Combine(folder, name);
            if (File.Exists(file))
            {
                foreach (var (key, value) in ReadJsonObject(file))
                {
                    settings[key] = value;
                }
            }
        }

        string bos = TokenSetting(settings, "bos_token") ?? "<|startoftext|>";
        string eos = TokenSetting(settings, "eos_token") ?? "<|endoftext|>";
        string? unk = TokenSetting(settings, "unk_token");
        string pad = padToken ?? TokenSetting(settings, "pad_token") ?? eos;
        int length = maxLength ?? ModelMaxLength(settings) ?? DefaultMaxLength;
        bool lower = !settings.TryGetValue("do_lower_case", out JsonElement lc) || lc.ValueKind != JsonValueKind.False;
        return FromFiles(Path.Combine(folder, "vocab.json"), Path.Combine(folder, "merges.txt"), length, bos, eos, pad, unk, lower, logger);
    }

    /// <summary>Loads the tokenizer from a <c>vocab.json</c> and a <c>merges.txt</c> in CLIP's format.</summary>
    /// <param name="vocabPath">The vocabulary: a JSON object of byte-level token → id.</param>
    /// <param name="mergesPath">The merges, one <c>"a b"</c> pair per line, best first; a <c>#version</c> line and blank lines are skipped.</param>
    /// <param name="maxLength">The padded length, BOS and EOS included (≥ 2). Default 77.</param>
    /// <param name="bosToken">The beginning-of-text token. Default <c>&lt;|startoftext|&gt;</c>.</param>
    /// <param name="eosToken">The end-of-text token. Default <c>&lt;|endoftext|&gt;</c>.</param>
    /// <param name="padToken">The padding token; null for the EOS token.</param>
    /// <param name="unknownToken">The token for characters outside the vocab; null for <paramref name="eosToken"/> when in the vocab.</param>
    /// <param name="lowerCase">Lower-case the text. Default true.</param>
    /// <param name="logger">Receives truncation warnings; null for none.</param>
    /// <exception cref="FileNotFoundException">A file is missing (named).</exception>
    /// <exception cref="TokenizerFileException">A file is malformed, or a special token is not in the vocab; the file (and line) is named.</exception>
    public static CLIPTokenizer FromFiles(
        string vocabPath,
        string mergesPath,
        int maxLength = DefaultMaxLength,
        string bosToken = "<|startoftext|>",
        string eosToken = "<|endoftext|>",
        string? padToken = null,
        string? unknownToken = null,
        bool lowerCase = true,
        ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(vocabPath);
        ArgumentException.ThrowIfNullOrEmpty(mergesPath);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 2);
        Dictionary<string, int> vocab = ReadVocab(vocabPath);
        List<string> merges = ReadMerges(mergesPath, vocab);

        int Id(string token, string role) => vocab.TryGetValue(token, out int id)
            ? id
            : throw new TokenizerFileException(vocabPath, null, $"the {role} token '{token}' is not in the vocabulary.");
        int bos = Id(bosToken, "beginning-of-text");
        int eos = Id(eosToken, "end-of-text");
        int pad = Id(padToken ?? eosToken, "padding");
        string? unk = unknownToken ?? eosToken;
        if (!vocab.ContainsKey(unk))
        {
            unk = null;
        }

        var special = new Dictionary<string, int>(StringComparer.Ordinal) { [bosToken] = bos, [eosToken] = eos };
        var options = new BpeOptions(vocab)
        {
            Merges = merges,
            SpecialTokens = special,
            PreTokenizer = new RegexPreTokenizer(new Regex(Pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled), special),
            ByteLevel = true,
            EndOfWordSuffix = "</w>",
            UnknownToken = unk,
        };
        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(options);
        }
        catch (InvalidOperationException e)
        {
            throw new TokenizerFileException(mergesPath, null, $"the BPE model cannot be built from it and {vocabPath}: {e.Message}", e);
        }

        return new CLIPTokenizer(bpe, vocabPath, bos, eos, pad, maxLength, lowerCase, logger);
    }

    /// <summary>CLIP's text cleanup: whitespace runs to one space, trimmed, lower-cased (when <see cref="LowerCase"/>).</summary>
    /// <param name="text">The raw prompt.</param>
    public string Clean(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string cleaned = Whitespace.Replace(text, " ").Trim();
        return LowerCase ? cleaned.ToLowerInvariant() : cleaned;
    }

    /// <summary>The BPE ids of a prompt after cleanup, without BOS, EOS, padding or truncation.</summary>
    /// <param name="text">The prompt.</param>
    public IReadOnlyList<int> Tokenize(string text) => _bpe.EncodeToIds(Clean(text));

    /// <summary>Encodes one prompt: BOS, ids, EOS, padded to <see cref="MaxLength"/> (truncated with a warning).</summary>
    /// <param name="prompt">The prompt (may be empty).</param>
    public CLIPTokenizerOutput Encode(string prompt) => Encode([prompt]);

    /// <summary>Encodes a batch of prompts, each as BOS, ids, EOS, padded to <see cref="MaxLength"/>; a prompt with more than
    /// <see cref="MaxLength"/> − 2 tokens is truncated to that many, and a warning names how many tokens were dropped.</summary>
    /// <param name="prompts">The prompts.</param>
    /// <exception cref="ArgumentNullException">The list or one of its prompts is null.</exception>
    public CLIPTokenizerOutput Encode(IReadOnlyList<string> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        var ids = new long[prompts.Count][];
        var mask = new long[prompts.Count][];
        int room = MaxLength - 2;
        for (int b = 0; b < prompts.Count; b++)
        {
            string prompt = prompts[b] ?? throw new ArgumentNullException(nameof(prompts), $"prompt {b} is null.");
            IReadOnlyList<int> tokens = Tokenize(prompt);
            int kept = Math.Min(tokens.Count, room);
            if (tokens.Count > room)
            {
                _logger.LogWarning(
                    "{Source}: prompt {Index} has {Count} tokens; truncated to {Kept} (max length {MaxLength} with BOS and EOS), dropping: \"{Dropped}\"",
                    _source, b, tokens.Count, room, MaxLength, _bpe.Decode(tokens.Skip(room)));
            }

            var row = new long[MaxLength];
            var rowMask = new long[MaxLength];
            row[0] = BosTokenId;
            for (int i = 0; i < kept; i++)
            {
                row[i + 1] = tokens[i];
            }

            row[kept + 1] = EosTokenId;
            Array.Fill(row, PadTokenId, kept + 2, MaxLength - kept - 2);
            Array.Fill(rowMask, 1L, 0, kept + 2);
            ids[b] = row;
            mask[b] = rowMask;
        }

        return new CLIPTokenizerOutput(ids, mask);
    }

    private static Dictionary<string, int> ReadVocab(string path)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, value) in ReadJsonObject(path))
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int id) || id < 0)
            {
                throw new TokenizerFileException(path, null, $"token '{token}' has id {value.GetRawText()}; ids must be non-negative integers.");
            }

            vocab[token] = id;
        }

        if (vocab.Count == 0)
        {
            throw new TokenizerFileException(path, null, "the vocabulary is empty.");
        }

        return vocab;
    }

    private static List<string> ReadMerges(string path, Dictionary<string, int> vocab)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Tokenizer merges file not found: {path}", path);
        }

        var merges = new List<string>();
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal)))
            {
                continue;
            }

            string[] parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                throw new TokenizerFileException(path, lineNumber, $"'{line}' is not a merge; expected two tokens separated by one space.");
            }

            foreach (string token in new[] { parts[0], parts[1], parts[0] + parts[1] })
            {
                if (!vocab.ContainsKey(token))
                {
                    throw new TokenizerFileException(path, lineNumber, $"merge '{line}' uses or makes '{token}', which is not in the vocabulary.");
                }
            }

            merges.Add(line);
        }

        return merges;
    }

    private static List<KeyValuePair<string, JsonElement>> ReadJsonObject(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Tokenizer file not found: {path}", path);
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new TokenizerFileException(path, null, $"is a JSON {doc.RootElement.ValueKind}; expected an object.");
            }

            return doc.RootElement.EnumerateObject().Select(p => new KeyValuePair<string, JsonElement>(p.Name, p.Value.Clone())).ToList();
        }
        catch (JsonException e)
        {
            throw new TokenizerFileException(path, e.LineNumber is long l ? (int)l + 1 : null, $"not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>A token setting written as a string or as transformers' AddedToken object (<c>{"content": ...}</c>).</summary>
    private static string? TokenSetting(Dictionary<string, JsonElement> settings, string name)
    {
        if (!settings.TryGetValue(name, out JsonElement value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out JsonElement c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => null,
        };
    }

    /// <summary><c>model_max_length</c>, ignoring transformers' "unlimited" sentinel (1e30) and other absurd values.</summary>
    private static int? ModelMaxLength(Dictionary<string, JsonElement> settings) =>
        settings.TryGetValue("model_max_length", out JsonElement v) && v.ValueKind == JsonValueKind.Number
            && v.TryGetDouble(out double d) && d >= 2 && d <= 1_000_000
            ? (int)d
            : null;

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"CLIPTokenizer({_source}, bos {BosTokenId}, eos {EosTokenId}, pad {PadTokenId}, max {MaxLength})");
}
