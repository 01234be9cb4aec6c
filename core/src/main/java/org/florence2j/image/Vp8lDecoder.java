package org.florence2j.image;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BooleanSupplier;
import javax.imageio.IIOException;

/**
 * A WebP lossless bitstream (the payload of a {@code VP8L} chunk, RFC 9649 section 3) decoded to the ARGB pixels that
 * libwebp 1.6's {@code src/dec/vp8l_dec.c} decodes, and refused where it refuses: the transforms (each type at most
 * once), the colour cache (1 to 11 bits), the meta prefix codes, the five prefix codes of each group (see
 * {@link Vp8lHuffman}), then the entropy-coded pixels, literals, backward references (a distance reaching before the
 * first pixel or a copy running past the last is refused, an overlapping copy repeats) and colour cache hits, and
 * last the transforms undone in reverse order (see {@link Vp8lTransform}).
 *
 * <p>The bits are read as libwebp's {@code VP8LBitReader} reads them: past the end of the data they read as zeros,
 * and reading more than the data's bits (or more than 64 when it has fewer than 8 bytes) makes the file invalid.
 */
final class Vp8lDecoder {
    private static final int SIGNATURE = 0x2F;
    private static final int NUM_LITERAL_CODES = 256;
    private static final int NUM_LENGTH_CODES = 24;
    private static final int NUM_DISTANCE_CODES = 40;
    private static final int MAX_CACHE_BITS = 11;
    private static final int NUM_CODE_LENGTH_CODES = 19;
    private static final int[] CODE_LENGTH_ORDER = {17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14,
        15};
    private static final int[] REPEAT_EXTRA_BITS = {2, 3, 7};
    private static final int[] REPEAT_OFFSETS = {3, 3, 11};
    private static final int GREEN = 0;
    private static final int RED = 1;
    private static final int BLUE = 2;
    private static final int ALPHA = 3;
    private static final int DISTANCE = 4;
    private static final int ROWS_PER_STOP_CHECK = 16;
    /** The 120 short distances (RFC 9649 section 3.6.2.2): the row offset times 16 plus 8 minus the column offset. */
    private static final int[] PLANE_CODES = {
        0x18, 0x07, 0x17, 0x19, 0x28, 0x06, 0x27, 0x29, 0x16, 0x1a, 0x26, 0x2a, 0x38, 0x05, 0x37, 0x39, 0x15, 0x1b,
        0x36, 0x3a, 0x25, 0x2b, 0x48, 0x04, 0x47, 0x49, 0x14, 0x1c, 0x35, 0x3b, 0x46, 0x4a, 0x24, 0x2c, 0x58, 0x45,
        0x4b, 0x34, 0x3c, 0x03, 0x57, 0x59, 0x13, 0x1d, 0x56, 0x5a, 0x23, 0x2d, 0x44, 0x4c, 0x55, 0x5b, 0x33, 0x3d,
        0x68, 0x02, 0x67, 0x69, 0x12, 0x1e, 0x66, 0x6a, 0x22, 0x2e, 0x54, 0x5c, 0x43, 0x4d, 0x65, 0x6b, 0x32, 0x3e,
        0x78, 0x01, 0x77, 0x79, 0x53, 0x5d, 0x11, 0x1f, 0x64, 0x6c, 0x42, 0x4e, 0x76, 0x7a, 0x21, 0x2f, 0x75, 0x7b,
        0x31, 0x3f, 0x63, 0x6d, 0x52, 0x5e, 0x00, 0x74, 0x7c, 0x41, 0x4f, 0x10, 0x20, 0x62, 0x6e, 0x30, 0x73, 0x7d,
        0x51, 0x5f, 0x40, 0x72, 0x7e, 0x61, 0x6f, 0x50, 0x71, 0x7f, 0x60, 0x70};
    private static final VarHandle LONG_LE =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** The data, then eight zero bytes, so that a 64-bit load never runs off the array. */
    private final byte[] padded;
    /** The bits that may be read: libwebp's end-of-stream test. */
    private final long bitLimit;
    private long bitPosition;
    private final BooleanSupplier stopRequested;
    /** Whether a read past the end only marks {@link #overran}: see {@link #checkAlpha}. */
    private boolean overrunAllowed;
    private boolean overran;

    private Vp8lDecoder(byte[] data, BooleanSupplier stopRequested) {
        this.padded = new byte[data.length + 8];
        System.arraycopy(data, 0, padded, 0, data.length);
        this.bitLimit = Math.max(64L, 8L * data.length);
        this.stopRequested = stopRequested;
    }

    /**
     * The {width, height} in the header of the bitstream {@code data}: null when libwebp's {@code VP8LGetInfo} would
     * refuse it (fewer than 5 bytes, no signature, a version other than 0).
     */
    static int[] size(byte[] data) {
        if (data.length < 5 || (data[0] & 0xFF) != SIGNATURE || (data[4] & 0xFF) >> 5 != 0) {
            return null;
        }
        long bits = RiffChunk.uint32(data, 1);
        return new int[] {1 + (int) (bits & 0x3FFF), 1 + (int) (bits >> 14 & 0x3FFF)};
    }

    /**
     * Decodes the bitstream {@code data} (a {@code VP8L} chunk's payload with its padding byte, as libwebp's demuxer
     * hands it over) to RGB, asking {@code stopRequested} every 16 rows whether to give up.
     *
     * @throws IIOException when libwebp would refuse the data, or when asked to stop
     */
    static RgbImage decode(byte[] data, BooleanSupplier stopRequested) throws IIOException {
        int[] size = size(data);
        if (size == null) {
            throw new IIOException("the VP8L chunk has no valid header");
        }
        Vp8lDecoder decoder = new Vp8lDecoder(data, stopRequested);
        decoder.readBits(8 + 14 + 14 + 1 + 3);
        int[] argb = decoder.decodeImageStream(size[0], size[1], false);
        return toRgb(argb, size[0], size[1], stopRequested);
    }

    /**
     * Decodes a WebP alpha chunk's lossless stream (a VP8L image stream without the bitstream's header, of the
     * picture's size) and drops it, as florence2j keeps no alpha: libwebp fails the whole picture where it cannot
     * decode it. libwebp decodes a stream of only a colour-indexing transform, no colour cache and red, blue and
     * alpha codes of one symbol by a path of its own ({@code DecodeAlphaData}), which reads past the data's end
     * without failing as long as that comes with the last pixel; so does this where the last pixel is a literal. (A
     * backward reference read past the end is refused: libwebp reads its rest from a stale bit window.)
     *
     * @throws IIOException when libwebp would refuse the stream, or when asked to stop
     */
    static void checkAlpha(byte[] data, int width, int height, BooleanSupplier stopRequested) throws IIOException {
        new Vp8lDecoder(data, stopRequested).decodeImageStream(width, height, true);
    }

    private static RgbImage toRgb(int[] argb, int width, int height, BooleanSupplier stopRequested)
            throws IIOException {
        byte[] rgb = new byte[width * height * 3]; // [height, width, 3]
        for (int y = 0; y < height; y++) {
            if (y % ROWS_PER_STOP_CHECK == 0) {
                checkStop(stopRequested);
            }
            for (int x = 0, i = y * width, o = i * 3; x < width; x++, i++, o += 3) {
                int pixel = argb[i];
                rgb[o] = (byte) (pixel >> 16);
                rgb[o + 1] = (byte) (pixel >> 8);
                rgb[o + 2] = (byte) pixel;
            }
        }
        return new RgbImage(width, height, rgb);
    }

    static void checkStop(BooleanSupplier stopRequested) throws IIOException {
        if (stopRequested.getAsBoolean()) {
            throw new IIOException("decoding stopped on request");
        }
    }

    /** At least 56 bits from the read position on, the next one in the lowest bit. */
    private long peek() {
        if (overrunAllowed && bitPosition >= bitLimit) {
            // libwebp's reader, its data all read, shifts its last 64 bits by its position modulo 64: a read from the
            // end on starts over at their first bit.
            return lastWindow() >>> ((bitPosition - bitLimit) & 63);
        }
        long byteAt = bitPosition >>> 3;
        if (byteAt > padded.length - 8) {
            return 0; // past the data and its padding of zeros: reading there is an error
        }
        return (long) LONG_LE.get(padded, (int) byteAt) >>> (bitPosition & 7);
    }

    /** The last 8 bytes of the data (all of it, zero-extended, when shorter), little-endian: libwebp's last window. */
    private long lastWindow() {
        int dataBytes = padded.length - 8;
        return (long) LONG_LE.get(padded, Math.max(0, dataBytes - 8));
    }

    private void skip(int bitCount) throws IIOException {
        bitPosition += bitCount;
        if (bitPosition > bitLimit) {
            if (overrunAllowed) {
                overran = true;
                return;
            }
            throw new IIOException("the VP8L data ends too early");
        }
    }

    private int readBits(int bitCount) throws IIOException {
        int value = (int) (peek() & ((1L << bitCount) - 1));
        skip(bitCount);
        return value;
    }

    private int readSymbol(int[] table) throws IIOException {
        int entry = Vp8lHuffman.lookUp(table, (int) peek());
        skip(entry >>> 16);
        return entry & 0xFFFF;
    }

    /** The main image stream: transforms, then pixels; {@code alpha} for an alpha chunk's (see {@link #checkAlpha}). */
    private int[] decodeImageStream(int width, int height, boolean alpha) throws IIOException {
        List<Vp8lTransform> transforms = new ArrayList<>();
        int seen = 0;
        int codedWidth = width;
        while (readBits(1) == 1) {
            int type = readBits(2);
            if ((seen & 1 << type) != 0) {
                throw new IIOException("the VP8L transform " + type + " comes twice");
            }
            seen |= 1 << type;
            Vp8lTransform transform = readTransform(type, codedWidth, height);
            transforms.add(transform);
            codedWidth = transform.codedWidth();
        }
        int cacheBits = readCacheBits();
        Codes codes = readCodes(codedWidth, height, cacheBits, true);
        overrunAllowed = alpha && transforms.size() == 1 && transforms.get(0).type() == Vp8lTransform.COLOR_INDEXING
                && cacheBits == 0 && codes.oneSymbolRedBlueAlpha();
        int[] pixels = decodePixels(codedWidth, height, cacheBits, codes, true);
        overrunAllowed = false;
        for (int i = transforms.size() - 1; i >= 0; i--) {
            pixels = transforms.get(i).undo(pixels, height, stopRequested);
        }
        return pixels;
    }

    private Vp8lTransform readTransform(int type, int width, int height) throws IIOException {
        return switch (type) {
            case Vp8lTransform.PREDICTOR, Vp8lTransform.CROSS_COLOR -> {
                int bits = readBits(3) + 2;
                int[] data = decodeSubImage(subSampleSize(width, bits), subSampleSize(height, bits));
                yield new Vp8lTransform(type, width, bits, data);
            }
            case Vp8lTransform.COLOR_INDEXING -> {
                int colours = readBits(8) + 1;
                int bits = colours > 16 ? 0 : colours > 4 ? 1 : colours > 2 ? 2 : 3;
                int[] data = decodeSubImage(colours, 1);
                yield new Vp8lTransform(type, width, bits, Vp8lTransform.palette(data, bits));
            }
            default -> new Vp8lTransform(type, width, 0, null);
        };
    }

    private int readCacheBits() throws IIOException {
        if (readBits(1) == 0) {
            return 0;
        }
        int bits = readBits(4);
        if (bits < 1 || bits > MAX_CACHE_BITS) {
            throw new IIOException("the VP8L colour cache has " + bits + " bits");
        }
        return bits;
    }

    /** An image that is not the main one (a transform's data, the meta prefix codes): no transform, no meta codes. */
    private int[] decodeSubImage(int width, int height) throws IIOException {
        int cacheBits = readCacheBits();
        Codes codes = readCodes(width, height, cacheBits, false);
        return decodePixels(width, height, cacheBits, codes, false);
    }

    static int subSampleSize(int size, int bits) {
        return (size + (1 << bits) - 1) >> bits;
    }

    /**
     * The prefix code groups and, when there are several, the meta image that says which tile uses which.
     *
     * @param groups    [group][GREEN, RED, BLUE, ALPHA, DISTANCE] lookup tables; null for a group no tile uses
     * @param meta      the group of each tile, [metaHeight, metaWidth]; null when there is one group
     * @param metaBits  log2 of the tiles' side
     * @param metaWidth the tiles in a row
     */
    /**
     * The prefix-code groups (null where no tile uses one) and the meta image choosing among them;
     * {@code oneSymbolRedBlueAlpha}: whether every group libwebp keeps has red, blue and alpha codes of one symbol.
     */
    private record Codes(int[][][] groups, int[] meta, int metaBits, int metaWidth, boolean oneSymbolRedBlueAlpha) {
        int[][] groupAt(int x, int y) {
            return meta == null ? groups[0] : groups[meta[(y >> metaBits) * metaWidth + (x >> metaBits)]];
        }
    }

    private Codes readCodes(int width, int height, int cacheBits, boolean allowMeta) throws IIOException {
        int[] meta = null;
        int metaBits = 0;
        int metaWidth = 0;
        int groupCount = 1;
        boolean[] usedGroups = null;
        if (allowMeta && readBits(1) == 1) {
            metaBits = readBits(3) + 2;
            metaWidth = subSampleSize(width, metaBits);
            meta = decodeSubImage(metaWidth, subSampleSize(height, metaBits));
            for (int i = 0; i < meta.length; i++) {
                meta[i] = meta[i] >> 8 & 0xFFFF;
                groupCount = Math.max(groupCount, meta[i] + 1);
            }
            usedGroups = new boolean[groupCount];
            for (int group : meta) {
                usedGroups[group] = true;
            }
        }
        int[] alphabetSizes = {NUM_LITERAL_CODES + NUM_LENGTH_CODES + (cacheBits > 0 ? 1 << cacheBits : 0),
            NUM_LITERAL_CODES, NUM_LITERAL_CODES, NUM_LITERAL_CODES, NUM_DISTANCE_CODES};
        int[] codeLengths = new int[alphabetSizes[GREEN]];
        int[][][] groups = new int[groupCount][][];
        // libwebp keeps the groups no tile uses unless there are over 1,000 or more than pixels (ReadHuffmanCodes).
        boolean keepsUnused = groupCount <= 1000 && groupCount <= (long) width * height;
        boolean oneSymbolRedBlueAlpha = true;
        for (int group = 0; group < groupCount; group++) {
            int[][] tables = new int[5][];
            for (int code = 0; code < 5; code++) {
                tables[code] = readCode(alphabetSizes[code], codeLengths);
            }
            boolean used = usedGroups == null || usedGroups[group];
            if (used || keepsUnused) {
                for (int code : new int[] {RED, BLUE, ALPHA}) {
                    oneSymbolRedBlueAlpha &= Vp8lHuffman.lookUp(tables[code], 0) >>> 16 == 0;
                }
            }
            // Tables of groups no tile uses are checked, as libwebp checks them, but not kept.
            groups[group] = used ? tables : null;
        }
        return new Codes(groups, meta, metaBits, metaWidth, oneSymbolRedBlueAlpha);
    }

    private int[] readCode(int alphabetSize, int[] codeLengths) throws IIOException {
        Arrays.fill(codeLengths, 0, alphabetSize, 0);
        if (readBits(1) == 1) { // simple code: one or two symbols of length 1
            int symbols = readBits(1) + 1;
            int symbol = readBits(readBits(1) == 0 ? 1 : 8);
            if (symbol < alphabetSize) {
                codeLengths[symbol] = 1;
            }
            if (symbols == 2) {
                symbol = readBits(8);
                if (symbol < alphabetSize) {
                    codeLengths[symbol] = 1;
                }
            }
        } else {
            int[] lengthCodeLengths = new int[NUM_CODE_LENGTH_CODES];
            int count = readBits(4) + 4;
            if (count > NUM_CODE_LENGTH_CODES) {
                throw new IIOException("a VP8L prefix code has " + count + " code length codes");
            }
            for (int i = 0; i < count; i++) {
                lengthCodeLengths[CODE_LENGTH_ORDER[i]] = readBits(3);
            }
            readCodeLengths(lengthCodeLengths, alphabetSize, codeLengths);
        }
        int[] table = Vp8lHuffman.build(codeLengths, alphabetSize);
        if (table == null) {
            throw new IIOException("a VP8L prefix code is empty, incomplete or over-subscribed");
        }
        return table;
    }

    private void readCodeLengths(int[] lengthCodeLengths, int alphabetSize, int[] codeLengths) throws IIOException {
        int[] lengthCode = Vp8lHuffman.build(lengthCodeLengths, NUM_CODE_LENGTH_CODES);
        if (lengthCode == null) {
            throw new IIOException("a VP8L code length code is empty, incomplete or over-subscribed");
        }
        int maxSymbol = alphabetSize;
        if (readBits(1) == 1) {
            int lengthBits = 2 + 2 * readBits(3);
            maxSymbol = 2 + readBits(lengthBits);
            if (maxSymbol > alphabetSize) {
                throw new IIOException("a VP8L prefix code declares " + maxSymbol + " code lengths for "
                        + alphabetSize + " symbols");
            }
        }
        int previous = 8;
        int symbol = 0;
        while (symbol < alphabetSize) {
            if (maxSymbol-- == 0) {
                break;
            }
            int length = readSymbol(lengthCode);
            if (length < 16) {
                codeLengths[symbol++] = length;
                if (length != 0) {
                    previous = length;
                }
            } else {
                int slot = length - 16;
                int repeat = readBits(REPEAT_EXTRA_BITS[slot]) + REPEAT_OFFSETS[slot];
                if (symbol + repeat > alphabetSize) {
                    throw new IIOException("a VP8L code length repeat runs past the alphabet");
                }
                int repeated = length == 16 ? previous : 0;
                for (int i = 0; i < repeat; i++) {
                    codeLengths[symbol++] = repeated;
                }
            }
        }
    }

    private int[] decodePixels(int width, int height, int cacheBits, Codes codes, boolean mainImage)
            throws IIOException {
        int total = width * height;
        int[] pixels = new int[total];
        int[] cache = cacheBits > 0 ? new int[1 << cacheBits] : null;
        int cacheShift = 32 - cacheBits;
        int cached = 0; // pixels before this one are in the cache
        int tileMask = codes.meta == null ? -1 : (1 << codes.metaBits) - 1;
        int lengthCodesEnd = NUM_LITERAL_CODES + NUM_LENGTH_CODES;
        int x = 0;
        int y = 0;
        int at = 0;
        int nextStopCheck = mainImage ? ROWS_PER_STOP_CHECK : Integer.MAX_VALUE; // sub-images are small
        int[][] group = codes.groupAt(0, 0);
        while (at < total) {
            if ((x & tileMask) == 0) {
                group = codes.groupAt(x, y);
            }
            if (y >= nextStopCheck) {
                checkStop(stopRequested);
                nextStopCheck = y + ROWS_PER_STOP_CHECK;
            }
            int code = readSymbol(group[GREEN]);
            if (code < NUM_LITERAL_CODES || code >= lengthCodesEnd) {
                if (code < NUM_LITERAL_CODES) {
                    int red = readSymbol(group[RED]);
                    int blue = readSymbol(group[BLUE]);
                    int alpha = readSymbol(group[ALPHA]);
                    pixels[at] = alpha << 24 | red << 16 | code << 8 | blue;
                } else {
                    for (; cached < at; cached++) {
                        cache[(pixels[cached] * 0x1E35A7BD) >>> cacheShift] = pixels[cached];
                    }
                    pixels[at] = cache[code - lengthCodesEnd];
                }
                at++;
                if (++x == width) {
                    x = 0;
                    y++;
                }
            } else {
                int length = copyDistance(code - NUM_LITERAL_CODES);
                int distance = planeCodeToDistance(width, copyDistance(readSymbol(group[DISTANCE])));
                if (overran) {
                    // libwebp reads the rest of a reference after the end from a stale bit window (its bit reader
                    // resets its position): refused here whatever libwebp then makes of it.
                    throw new IIOException("the VP8L data ends too early");
                }
                if (at < distance || total - at < length) {
                    throw new IIOException("a VP8L backward reference reaches outside the image");
                }
                for (int i = 0; i < length; i++, at++) {
                    pixels[at] = pixels[at - distance];
                }
                x += length;
                y += x / width;
                x %= width;
                if ((x & tileMask) != 0) {
                    group = codes.groupAt(x, y);
                }
            }
            if (overran && at < total) {
                throw new IIOException("the VP8L data ends too early");
            }
        }
        return pixels;
    }

    private int copyDistance(int symbol) throws IIOException {
        if (symbol < 4) {
            return symbol + 1;
        }
        int extraBits = (symbol - 2) >> 1;
        int offset = (2 + (symbol & 1)) << extraBits;
        return offset + readBits(extraBits) + 1;
    }

    private static int planeCodeToDistance(int width, int planeCode) {
        if (planeCode > PLANE_CODES.length) {
            return planeCode - PLANE_CODES.length;
        }
        int code = PLANE_CODES[planeCode - 1];
        int distance = (code >> 4) * width + 8 - (code & 0xF);
        return Math.max(distance, 1);
    }
}
