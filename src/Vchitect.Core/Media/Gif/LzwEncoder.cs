namespace Vchitect.Core.Media.Gif;

/// <summary>
/// The variable-length-code LZW compressor of the GIF89a specification (appendix F), writing the image data sub-blocks.
/// Codes start at <c>minCodeSize + 1</c> bits, grow by one bit each time the next free code needs it, stop growing at
/// 12 bits, and the table is reset with a clear code when all 4096 codes are used. Bits are packed least-significant first
/// into data sub-blocks of at most 255 bytes, followed by the block terminator.
/// </summary>
internal sealed class LzwEncoder
{
    private const int MaxCode = 4096;

    // Open-addressing table from (prefix code << 8 | next index) to code. 8192 slots keep the load factor at most one half.
    private const int HashBits = 13;
    private const int HashSize = 1 << HashBits;
    private readonly int[] _keys = new int[HashSize];
    private readonly short[] _codes = new short[HashSize];

    private readonly byte[] _block = new byte[256];
    private int _blockLength;
    private uint _bitBuffer;
    private int _bitCount;
    private Stream _output = Stream.Null;

    /// <summary>Compresses colour indices (each less than 2^<paramref name="minCodeSize"/>) and writes them as GIF image data.</summary>
    /// <param name="indices">The frame's colour indices in raster order; at least one.</param>
    /// <param name="minCodeSize">The LZW minimum code size, 2..8, written before the data.</param>
    /// <param name="output">The stream to write to.</param>
    public void Encode(ReadOnlySpan<byte> indices, int minCodeSize, Stream output)
    {
        if (minCodeSize is < 2 or > 8)
        {
            throw new ArgumentOutOfRangeException(nameof(minCodeSize), minCodeSize, "The LZW minimum code size must be 2..8.");
        }

        if (indices.IsEmpty)
        {
            throw new ArgumentException("There must be at least one index.", nameof(indices));
        }

        _output = output;
        _blockLength = 0;
        _bitBuffer = 0;
        _bitCount = 0;
        output.WriteByte((byte)minCodeSize);

        int clear = 1 << minCodeSize;
        int endOfInformation = clear + 1;
        int codeSize = minCodeSize + 1;
        int next = clear + 2;
        ResetTable();
        Emit(clear, codeSize);

        int prefix = indices[0];
        for (int i = 1; i < indices.Length; i++)
        {
            int k = indices[i];
            int key = (prefix << 8) | k;
            int slot = Find(key);
            if (_keys[slot] == key + 1)
            {
                prefix = _codes[slot];
                continue;
            }

            Emit(prefix, codeSize);

            // The decoder adds its table entry one code later than the encoder, so the width grows once the next free
            // code no longer fits, checked after emitting and before adding (GIF89a appendix F).
            if (next == (1 << codeSize) && codeSize < 12)
            {
                codeSize++;
            }

            if (next < MaxCode)
            {
                _keys[slot] = key + 1;
                _codes[slot] = (short)next;
                next++;
            }
            else
            {
                // Table full: the decoder has just added code 4095 and reads the clear code at 12 bits.
                Emit(clear, codeSize);
                ResetTable();
                codeSize = minCodeSize + 1;
                next = clear + 2;
            }

            prefix = k;
        }

        Emit(prefix, codeSize);
        if (next == (1 << codeSize) && codeSize < 12)
        {
            codeSize++;
        }

        Emit(endOfInformation, codeSize);
        if (_bitCount > 0)
        {
            PutByte((byte)_bitBuffer);
            _bitBuffer = 0;
            _bitCount = 0;
        }

        FlushBlock();
        output.WriteByte(0); // block terminator
        _output = Stream.Null;
    }

    private void ResetTable() => Array.Clear(_keys);

    private int Find(int key)
    {
        int slot = (int)((uint)(key * -1640531535) >> (32 - HashBits));
        while (_keys[slot] != 0 && _keys[slot] != key + 1)
        {
            slot = (slot + 1) & (HashSize - 1);
        }

        return slot;
    }

    private void Emit(int code, int size)
    {
        _bitBuffer |= (uint)code << _bitCount;
        _bitCount += size;
        while (_bitCount >= 8)
        {
            PutByte((byte)_bitBuffer);
            _bitBuffer >>= 8;
            _bitCount -= 8;
        }
    }

    private void PutByte(byte value)
    {
        _block[1 + _blockLength++] = value;
        if (_blockLength == 255)
        {
            FlushBlock();
        }
    }

    private void FlushBlock()
    {
        if (_blockLength == 0)
        {
            return;
        }

        _block[0] = (byte)_blockLength;
        _output.Write(_block, 0, 1 + _blockLength);
        _blockLength = 0;
    }
}
