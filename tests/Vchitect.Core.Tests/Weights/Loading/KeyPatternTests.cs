using FsCheck;
using FsCheck.Xunit;
using Vchitect.Core.Weights;
using Xunit;

namespace Vchitect.Core.Tests.Weights.Loading;

public sealed class KeyPatternTests
{
    [Theory]
    [InlineData("*.rotary_emb.freqs", "transformer.blocks.0.rotary_emb.freqs", true)]
    [InlineData("*.rotary_emb.freqs", "rotary_emb.freqs", false)]
    [InlineData("*rotary_emb.freqs", "rotary_emb.freqs", true)]
    [InlineData("blocks.?.bias", "blocks.3.bias", true)]
    [InlineData("blocks.?.bias", "blocks.12.bias", false)]
    [InlineData("blocks.*.bias", "blocks.12.bias", true)]
    [InlineData("*", "", true)]
    [InlineData("", "", true)]
    [InlineData("", "a", false)]
    [InlineData("a*b*c", "aXbYbZc", true)]
    [InlineData("a*b*c", "aXbYbZ", false)]
    [InlineData("*.weight", "conv.Weight", false)]
    public void Globs_match_whole_keys(string pattern, string key, bool expected) =>
        Assert.Equal(expected, KeyPattern.IsMatch(pattern, key));

    [Property(MaxTest = 500)]
    public bool A_key_without_wildcards_matches_itself_and_star(NonNull<string> key)
    {
        string k = key.Get.Replace("*", string.Empty, StringComparison.Ordinal).Replace("?", string.Empty, StringComparison.Ordinal);
        return KeyPattern.IsMatch(k, k) && KeyPattern.IsMatch("*", k) && KeyPattern.IsMatch("*" + k, "x" + k);
    }

    [Property(MaxTest = 500)]
    public bool Question_marks_match_exactly_as_many_characters(NonNull<string> key) =>
        KeyPattern.IsMatch(new string('?', key.Get.Length), key.Get) && !KeyPattern.IsMatch(new string('?', key.Get.Length + 1), key.Get);
}
