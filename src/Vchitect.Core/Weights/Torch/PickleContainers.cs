using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Vchitect.Core.Weights;

/// <summary>A container built by the unpickler, which tracks how deeply containers nest inside it.</summary>
internal abstract class PickleContainer
{
    /// <summary>1 for a container of scalars; 1 + the deepest child otherwise (as of the time children were added).</summary>
    public int Depth { get; private set; } = 1;

    /// <summary>Records that <paramref name="child"/> now sits inside this container; returns the new depth.</summary>
    public int Include(object? child)
    {
        if (child is PickleContainer c && c.Depth + 1 > Depth)
        {
            Depth = c.Depth + 1;
        }

        return Depth;
    }
}

/// <summary>A Python list, set or frozenset (sets keep the order they were built in).</summary>
internal sealed class PickleList : PickleContainer, IReadOnlyList<object?>
{
    private readonly List<object?> _items = [];
    private readonly HashSet<object?>? _members;

    public PickleList(bool isSet = false)
    {
        IsSet = isSet;
        _members = isSet ? [] : null;
    }

    /// <summary>Whether the pickle built a set or frozenset rather than a list.</summary>
    public bool IsSet { get; }

    public int Count => _items.Count;

    public object? this[int index] => _items[index];

    public void Add(object? item)
    {
        if (_members is not null && !_members.Add(item))
        {
            return;
        }

        _items.Add(item);
    }

    public IEnumerator<object?> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => IsSet ? $"set({_items.Count} items)" : $"list({_items.Count} items)";
}

/// <summary>A Python tuple: immutable once built.</summary>
internal sealed class PickleTuple : PickleContainer, IReadOnlyList<object?>
{
    public static readonly PickleTuple Empty = new([]);

    private readonly object?[] _items;

    public PickleTuple(object?[] items)
    {
        _items = items;
        foreach (object? item in items)
        {
            Include(item);
        }
    }

    public int Count => _items.Length;

    public object? this[int index] => _items[index];

    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"tuple({_items.Length} items)";
}

/// <summary>A Python dict or OrderedDict, in insertion order (keys compare by .NET equality; tuples by reference).</summary>
internal sealed class PickleDict : PickleContainer, IReadOnlyDictionary<object, object?>
{
    private readonly Dictionary<object, int> _index = [];
    private readonly List<KeyValuePair<object, object?>> _entries = [];

    /// <summary>The object state a BUILD opcode gave the dict (an OrderedDict's <c>_metadata</c>, say), or null.</summary>
    public object? State { get; set; }

    public int Count => _entries.Count;

    public IEnumerable<object> Keys => _entries.Select(e => e.Key);

    public IEnumerable<object?> Values => _entries.Select(e => e.Value);

    public object? this[object key] => _entries[_index[key]].Value;

    /// <summary>Sets a key as Python does: a new key goes last, an existing one keeps its place.</summary>
    public void Set(object key, object? value)
    {
        if (_index.TryGetValue(key, out int i))
        {
            _entries[i] = new(key, value);
        }
        else
        {
            _index.Add(key, _entries.Count);
            _entries.Add(new(key, value));
        }
    }

    public bool ContainsKey(object key) => _index.ContainsKey(key);

    public bool TryGetValue(object key, [MaybeNullWhen(false)] out object? value)
    {
        if (_index.TryGetValue(key, out int i))
        {
            value = _entries[i].Value;
            return true;
        }

        value = null;
        return false;
    }

    public IEnumerator<KeyValuePair<object, object?>> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"dict({_entries.Count} items)";
}
