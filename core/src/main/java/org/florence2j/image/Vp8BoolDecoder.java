package org.florence2j.image;

/**
 * The boolean entropy decoder of VP8 (RFC 6386 section 7) over one partition of a frame, with libwebp's handling
 * of the end of the data ({@code src/utils/bit_reader_utils.c}, {@code bit_reader_inl_utils.h}): bytes are loaded
 * only when a bit needs them, the first load past the end supplies zero bits and sets {@link #atEnd()}, and the
 * decoder goes on with made-up bits. libwebp refuses a frame once any partition it read has got there, so callers
 * check {@link #atEnd()} where libwebp does (after each macroblock row of modes, after each macroblock of tokens).
 *
 * <p>The state is libwebp's: {@code value} holds the bits loaded and not yet consumed, of which the top 8 (above
 * {@code bits}) are the window compared against the split, and {@code range} is the interval width minus one,
 * 127..254 between bits. A bit's split {@code range × probability / 256} is the spec's {@code 1 + ((range − 1) ×
 * probability) / 256} less one, so the results are the spec's.
 */
final class Vp8BoolDecoder {
    /** Bytes loaded at once while at least 8 remain (libwebp's test): 7, so that the 64-bit window cannot overflow. */
    private static final int BYTES_PER_LOAD = 7;

    private final byte[] data;
    private final int end;
    private int position;
    private long value;
    private int bits = -8;
    private int range = 255 - 1;
    private boolean atEnd;

    /** A decoder over {@code data[offset, offset + byteCount)}, which loads its first bytes at once, as libwebp's. */
    Vp8BoolDecoder(byte[] data, int offset, int byteCount) {
        this.data = data;
        this.position = offset;
        this.end = offset + byteCount;
        loadBytes();
    }

    /** Whether a bit has needed data past the end of the partition: libwebp then refuses the frame. */
    boolean atEnd() {
        return atEnd;
    }

    /** One bit that is 0 with probability {@code probability / 256} (1..255). */
    int readBit(int probability) {
        int currentRange = range;
        if (bits < 0) {
            loadBytes();
        }
        int split = (currentRange * probability) >>> 8;
        long window = window();
        int bit;
        if (window > split) {
            currentRange -= split;
            value -= (long) (split + 1) << bits;
            bit = 1;
        } else {
            currentRange = split + 1;
            bit = 0;
        }
        // Renormalize so that the range is 128..255 again: shift out as many bits as it has leading zeros in a byte.
        int shift = Integer.numberOfLeadingZeros(currentRange) - 24;
        range = (currentRange << shift) - 1;
        bits -= shift;
        return bit;
    }

    /**
     * A bit at even odds as a sign: {@code -magnitude} for 1, {@code magnitude} for 0. The same as {@code readBit(128)}
     * on any stream an encoder writes, but computed as libwebp's {@code VP8GetSigned} computes it, whose sign test
     * goes the other way once corrupt data has driven the window more than 2^31 past the split.
     */
    int readSigned(int magnitude) {
        if (bits < 0) {
            loadBytes();
        }
        int split = range >>> 1;
        int mask = (int) (split - window()) >> 31; // -1 for a 1 bit
        value -= (long) ((split + 1) & mask) << bits;
        range = (range + mask) | 1;
        bits -= 1;
        return (magnitude ^ mask) - mask;
    }

    /**
     * The bits compared against the split: those above {@code bits}, cut to 32 as libwebp's {@code range_t} cuts
     * them. A stream an encoder wrote keeps them below the range, but corrupt data can drive them past it, where
     * they then grow with every bit and the cut changes what is read.
     */
    private long window() {
        return (value >>> bits) & 0xFFFF_FFFFL;
    }

    /** An unsigned {@code bitCount}-bit number, most significant bit first, each bit at even odds (the spec's L(n)). */
    int readLiteral(int bitCount) {
        int result = 0;
        for (int bit = bitCount - 1; bit >= 0; bit--) {
            result |= readBit(128) << bit;
        }
        return result;
    }

    /** A {@code bitCount}-bit magnitude followed by a sign bit (1 = negative). */
    int readSignedLiteral(int bitCount) {
        int magnitude = readLiteral(bitCount);
        return readBit(128) != 0 ? -magnitude : magnitude;
    }

    /** One bit at even odds, as a flag. */
    boolean readFlag() {
        return readBit(128) != 0;
    }

    private void loadBytes() {
        if (end - position >= 8) {
            long loaded = 0;
            for (int i = 0; i < BYTES_PER_LOAD; i++) {
                loaded = loaded << 8 | (data[position + i] & 0xFF);
            }
            position += BYTES_PER_LOAD;
            value = value << (8 * BYTES_PER_LOAD) | loaded;
            bits += 8 * BYTES_PER_LOAD;
        } else if (position < end) {
            value = value << 8 | (data[position++] & 0xFF);
            bits += 8;
        } else if (!atEnd) {
            value <<= 8;
            bits += 8;
            atEnd = true;
        } else {
            // libwebp's guard against shifting by a negative count: the bits read now are garbage, and refused.
            bits = 0;
        }
    }
}
