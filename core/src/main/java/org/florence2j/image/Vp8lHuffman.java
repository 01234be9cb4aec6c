package org.florence2j.image;

/**
 * The prefix codes of a WebP lossless bitstream (RFC 9649 section 3.7.2): canonical codes of code lengths 0 to 15,
 * read least significant bit first, accepted and refused as libwebp's {@code BuildHuffmanTable}
 * ({@code src/utils/huffman_utils.c}) accepts and refuses them: a code of exactly one symbol of non-zero length reads
 * no bits, whatever its length; any other code must be complete (its lengths' Kraft sum exactly 1), neither
 * over-subscribed nor incomplete, and a code of no symbol is refused.
 *
 * <p>A code is a lookup table of {@value #ROOT_BITS} bits, with second-level tables for longer codes. An entry holds
 * {@code bits << 16 | symbol}; a link to a second-level table holds {@code LINK | tableBits << 24 | offset}.
 */
final class Vp8lHuffman {
    static final int ROOT_BITS = 8;
    static final int MAX_CODE_LENGTH = 15;
    private static final int ROOT_MASK = (1 << ROOT_BITS) - 1;
    private static final int LINK = 0x8000_0000;

    private Vp8lHuffman() {}

    /**
     * The lookup table of the code whose length for symbol {@code s} is {@code codeLengths[s]}, for the symbols below
     * {@code alphabetSize}: null when libwebp would refuse the code.
     */
    static int[] build(int[] codeLengths, int alphabetSize) {
        int[] count = new int[MAX_CODE_LENGTH + 1];
        int symbols = 0;
        int onlySymbol = -1;
        for (int symbol = 0; symbol < alphabetSize; symbol++) {
            int length = codeLengths[symbol];
            if (length > 0) {
                count[length]++;
                symbols++;
                onlySymbol = symbol;
            }
        }
        if (symbols == 0) {
            return null;
        }
        if (symbols == 1) {
            return new int[] {onlySymbol}; // no bits read
        }
        int open = 1;
        for (int length = 1; length <= MAX_CODE_LENGTH; length++) {
            open = 2 * open - count[length];
            if (open < 0) {
                return null; // over-subscribed
            }
        }
        if (open != 0) {
            return null; // incomplete
        }
        int maxLength = MAX_CODE_LENGTH;
        while (count[maxLength] == 0) {
            maxLength--;
        }
        if (maxLength < ROOT_BITS) {
            return shortCodeTable(codeLengths, alphabetSize, count, maxLength);
        }
        int[] nextCode = canonicalFirstCodes(count);
        // Canonical codes in symbol order; the first bit read is the code's most significant one.
        int[] reversed = new int[alphabetSize];
        int[] subTableBits = new int[1 << ROOT_BITS];
        for (int symbol = 0; symbol < alphabetSize; symbol++) {
            int length = codeLengths[symbol];
            if (length > 0) {
                reversed[symbol] = Integer.reverse(nextCode[length]++) >>> (32 - length);
                if (length > ROOT_BITS) {
                    int root = reversed[symbol] & ROOT_MASK;
                    subTableBits[root] = Math.max(subTableBits[root], length - ROOT_BITS);
                }
            }
        }
        int size = 1 << ROOT_BITS;
        int[] subTableAt = new int[1 << ROOT_BITS];
        for (int root = 0; root < subTableBits.length; root++) {
            if (subTableBits[root] > 0) {
                subTableAt[root] = size;
                size += 1 << subTableBits[root];
            }
        }
        int[] table = new int[size];
        for (int root = 0; root < subTableBits.length; root++) {
            if (subTableBits[root] > 0) {
                table[root] = LINK | subTableBits[root] << 24 | subTableAt[root];
            }
        }
        for (int symbol = 0; symbol < alphabetSize; symbol++) {
            int length = codeLengths[symbol];
            if (length == 0) {
                continue;
            }
            int code = reversed[symbol];
            if (length <= ROOT_BITS) {
                for (int index = code; index < 1 << ROOT_BITS; index += 1 << length) {
                    table[index] = length << 16 | symbol;
                }
            } else {
                int root = code & ROOT_MASK;
                int at = subTableAt[root];
                int subLength = length - ROOT_BITS;
                for (int index = code >>> ROOT_BITS; index < 1 << subTableBits[root]; index += 1 << subLength) {
                    table[at + index] = subLength << 16 | symbol;
                }
            }
        }
        return table;
    }

    /**
     * The table of a code no longer than {@code maxLength} &lt; {@value #ROOT_BITS} bits: {@code 1 << maxLength}
     * entries, not a whole root table, so that the many small codes a file's meta prefix-code groups may hold cost
     * memory in proportion to their bits.
     */
    private static int[] shortCodeTable(int[] codeLengths, int alphabetSize, int[] count, int maxLength) {
        int[] nextCode = canonicalFirstCodes(count);
        int[] table = new int[1 << maxLength];
        for (int symbol = 0; symbol < alphabetSize; symbol++) {
            int length = codeLengths[symbol];
            if (length > 0) {
                int code = Integer.reverse(nextCode[length]++) >>> (32 - length);
                for (int index = code; index < table.length; index += 1 << length) {
                    table[index] = length << 16 | symbol;
                }
            }
        }
        return table;
    }

    /** The first canonical code of each length, given how many codes each length has. */
    private static int[] canonicalFirstCodes(int[] count) {
        int[] nextCode = new int[MAX_CODE_LENGTH + 1];
        for (int length = 1, code = 0; length <= MAX_CODE_LENGTH; length++) {
            code = (code + count[length - 1]) << 1;
            nextCode[length] = code;
        }
        return nextCode;
    }

    /**
     * The symbol whose code starts {@code bits} (at least {@value #MAX_CODE_LENGTH} of them, the first in the lowest
     * bit), with the number of bits it takes: {@code bitCount << 16 | symbol}.
     */
    static int lookUp(int[] table, int bits) {
        if (table.length < 1 << ROOT_BITS) {
            return table[bits & (table.length - 1)]; // a code shorter than the root bits, or of one symbol
        }
        int entry = table[bits & ROOT_MASK];
        if (entry >= 0) {
            return entry;
        }
        int subBits = entry >>> 24 & 0x7F;
        int sub = table[(entry & 0xFF_FFFF) + (bits >>> ROOT_BITS & ((1 << subBits) - 1))];
        return sub + (ROOT_BITS << 16);
    }
}
