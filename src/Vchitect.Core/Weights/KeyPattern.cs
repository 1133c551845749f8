namespace Vchitect.Core.Weights;

/// <summary>Glob matching of tensor keys: <c>*</c> matches any run of characters (dots included), <c>?</c> one character.</summary>
internal static class KeyPattern
{
    /// <summary>Whether <paramref name="key"/> matches <paramref name="pattern"/> as a whole (ordinal, case-sensitive).</summary>
    public static bool IsMatch(string pattern, string key)
    {
        // Greedy matching with one backtrack point: linear in practice, never exponential.
        int p = 0, k = 0, star = -1, resume = 0;
        while (k < key.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == key[k]))
            {
                p++;
                k++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = k;
            }
            else if (star >= 0)
            {
                p = star + 1;
                k = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>Whether any of the patterns matches any of the keys.</summary>
    public static bool AnyMatch(IReadOnlyList<string> patterns, string key, string? alternativeKey = null)
    {
        foreach (string pattern in patterns)
        {
            if (IsMatch(pattern, key) || (alternativeKey is not null && IsMatch(pattern, alternativeKey)))
            {
                return true;
            }
        }

        return false;
    }
}
