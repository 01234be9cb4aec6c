package org.florence2j.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.BooleanSupplier;
import javax.imageio.IIOException;
import javax.imageio.stream.ImageInputStream;

/**
 * A Netpbm image, PBM, PGM or PPM, plain (P1, P2, P3) or raw (P4, P5, P6), decoded as Pillow 12's
 * {@code PpmImagePlugin} decodes it, then converted to RGB as its {@code convert("RGB")} converts the mode it gives:
 * <ul>
 *   <li>the header's tokens as Pillow reads them: whitespace-separated, a {@code #} skipping to the end of its line
 *       without ending the token, at most 10 characters, Python integers; the raster starts after the one whitespace
 *       byte that ends the last token;</li>
 *   <li>samples scaled to 8 bits as {@code round(value / maxval · 255)}, half to even, except that raw samples of
 *       maxval 255 are taken as they are; a PGM of a maxval over 255 becomes a 32-bit image scaled to 65,535
 *       (16-bit samples of maxval 65,535 as they are) whose conversion to RGB clips at 255, as Pillow's does;</li>
 *   <li>a plain file's data in 1 MiB blocks, as Pillow reads it, with its quirks: a comment is removed with the line
 *       break that ends it (so it joins the tokens around it), a plain PBM's every byte in a block must be {@code 0},
 *       {@code 1} or whitespace, even past the last pixel, and a plain PGM's or PPM's sample must not exceed maxval;
 *       a bit or sample of 1 in a PBM is black.</li>
 * </ul>
 * Data that ends before the last pixel is refused, as Pillow refuses it. Pillow's own extensions ({@code P0CMYK},
 * {@code Pf}, {@code PyP}, {@code PyRGBA}, {@code PyCMYK}) are not read.
 */
final class PnmImage {
    /** Pillow's {@code ImageFile.SAFEBLOCK}: how much of a plain file's data it reads at a time. */
    private static final int BLOCK = 1 << 20;
    private static final int MAX_TOKEN = 10;
    /** What {@link #pythonInt} gives for a token that is not an integer: no 10 characters make it. */
    private static final long NOT_AN_INT = Long.MIN_VALUE;
    /** Rows decoded between two runs of the stop check. */
    private static final int ROWS_PER_STOP_CHECK = 64;

    private final int format; // 1 to 6, the digit after P
    private final int width;
    private final int height;
    private final int maxval; // 1 for a PBM
    private final ImageInputStream in; // at the first byte of the raster

    private PnmImage(int format, int width, int height, int maxval, ImageInputStream in) {
        this.format = format;
        this.width = width;
        this.height = height;
        this.maxval = maxval;
        this.in = in;
    }

    /**
     * The image {@code in} holds, its header read and the stream left at its raster, or null (the stream where it
     * was) when {@code in} does not start as a Netpbm file does: {@code P} and a digit or one of Pillow's extensions.
     *
     * @throws IIOException when it does but its header is not one Pillow reads, or is one florence2j does not
     */
    static PnmImage read(ImageInputStream in) throws IOException {
        in.mark();
        int first = in.read();
        int second = in.read();
        in.reset();
        if (first != 'P' || second < 0 || "0123456fy".indexOf(second) < 0) {
            return null;
        }
        String magic = magic(in);
        if (magic.length() != 2 || magic.charAt(1) < '1' || magic.charAt(1) > '6') {
            throw new IIOException("its magic number '" + magic + "' is not one of P1 to P6 (Pillow's own PPM "
                    + "extensions are not read)");
        }
        int format = magic.charAt(1) - '0';
        int width = headerInt(in, "width");
        int height = headerInt(in, "height");
        int maxval = 1;
        if (format != 1 && format != 4) {
            maxval = headerInt(in, "maxval");
            if (maxval <= 0 || maxval >= 65536) {
                throw new IIOException("its maxval " + maxval + " is not between 1 and 65,535");
            }
        }
        long rowBytes = (long) width * (format == 6 ? 3 : 1) * (maxval < 256 ? 1 : 2);
        if (rowBytes > Integer.MAX_VALUE - 16) {
            throw new IIOException("its rows of " + rowBytes + " bytes are too long for florence2j to read");
        }
        return new PnmImage(format, width, height, maxval, in);
    }

    int width() {
        return width;
    }

    int height() {
        return height;
    }

    /**
     * Decodes the raster, asking {@code stopRequested} every {@value #ROWS_PER_STOP_CHECK} rows (a plain file: every
     * block) whether to give up.
     *
     * @throws IIOException when the data ends early or holds what Pillow refuses, or when asked to stop
     */
    RgbImage decode(BooleanSupplier stopRequested) throws IOException {
        byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(width, height), 3)];
        switch (format) {
            case 1 -> plainBitmap(rgb, stopRequested);
            case 2, 3 -> plainSamples(rgb, stopRequested);
            case 4 -> rawBitmap(rgb, stopRequested);
            default -> rawSamples(rgb, stopRequested);
        }
        return new RgbImage(width, height, rgb);
    }

    private int bands() {
        return format == 3 || format == 6 ? 3 : 1;
    }

    /** A PGM of a maxval over 255 is Pillow's mode {@code I}: samples scaled to 65,535, clipped at 255 in RGB. */
    private int scaledMax() {
        return bands() == 1 && maxval > 255 ? 65535 : 255;
    }

    private void rawBitmap(byte[] rgb, BooleanSupplier stopRequested) throws IOException {
        byte[] row = new byte[(width + 7) / 8];
        for (int y = 0; y < height; y++) {
            checkStop(y, stopRequested);
            readRow(row);
            for (int x = 0; x < width; x++) {
                boolean black = (row[x >> 3] >> (7 - (x & 7)) & 1) != 0;
                Arrays.fill(rgb, (y * width + x) * 3, (y * width + x) * 3 + 3, black ? 0 : (byte) 255);
            }
        }
    }

    private void rawSamples(byte[] rgb, BooleanSupplier stopRequested) throws IOException {
        int bands = bands();
        int bytesPerSample = maxval < 256 ? 1 : 2;
        byte[] row = new byte[width * bands * bytesPerSample]; // under 2^31: read() checked it
        int scaledMax = scaledMax();
        for (int y = 0; y < height; y++) {
            checkStop(y, stopRequested);
            readRow(row);
            for (int i = 0; i < width * bands; i++) {
                int value = bytesPerSample == 1 ? row[i] & 0xFF
                        : (row[2 * i] & 0xFF) << 8 | (row[2 * i + 1] & 0xFF);
                // Pillow reads maxval 255, and a PGM's 65,535, raw; any other maxval through its PpmDecoder.
                int scaled = maxval == 255 || maxval == 65535 && bands == 1 ? value
                        : (int) Math.min(scaledMax, Math.rint((double) value / maxval * scaledMax));
                put(rgb, y * width * bands + i, bands, scaled);
            }
        }
    }

    /** Puts sample {@code index} ({@code bands} a pixel) in the RGB bytes, clipped at 255 as Pillow's I→RGB. */
    private static void put(byte[] rgb, int index, int bands, int value) {
        byte clipped = (byte) Math.min(255, value);
        if (bands == 3) {
            rgb[index] = clipped;
        } else {
            Arrays.fill(rgb, index * 3, index * 3 + 3, clipped);
        }
    }

    private void readRow(byte[] row) throws IOException {
        int read = 0;
        while (read < row.length) {
            int count = in.read(row, read, row.length - read);
            if (count < 0) {
                throw new IIOException("its data ends before the last pixel");
            }
            read += count;
        }
    }

    private static void checkStop(int row, BooleanSupplier stopRequested) throws IIOException {
        if (row % ROWS_PER_STOP_CHECK == 0 && stopRequested.getAsBoolean()) {
            throw new IIOException("decoding stopped");
        }
    }

    /** Pillow's {@code _decode_bitonal}: every non-whitespace byte of a block is a pixel, 0 or 1. */
    private void plainBitmap(byte[] rgb, BooleanSupplier stopRequested) throws IOException {
        PlainData data = new PlainData(in);
        long total = (long) width * height;
        int pixel = 0;
        while (pixel < total) {
            if (stopRequested.getAsBoolean()) {
                throw new IIOException("decoding stopped");
            }
            byte[] block = data.nextBlock();
            if (block.length == 0) {
                break;
            }
            block = data.withoutComments(block);
            for (byte b : block) {
                if (isWhitespace(b)) {
                    continue;
                }
                if (b != '0' && b != '1') {
                    throw new IIOException("its plain bitmap holds '" + (char) (b & 0xFF) + "', not 0 or 1");
                }
                if (pixel < total) {
                    Arrays.fill(rgb, pixel * 3, pixel * 3 + 3, b == '1' ? 0 : (byte) 255);
                    pixel++;
                }
            }
        }
        if (pixel < total) {
            throw new IIOException("its data ends before the last pixel");
        }
    }

    /** Pillow's {@code _decode_blocks}: whitespace-separated decimal samples, a token split by a block stitched. */
    private void plainSamples(byte[] rgb, BooleanSupplier stopRequested) throws IOException {
        PlainData data = new PlainData(in);
        int bands = bands();
        int scaledMax = scaledMax();
        long total = (long) width * height * bands;
        int sample = 0;
        byte[] halfToken = new byte[0];
        while (sample < total) {
            if (stopRequested.getAsBoolean()) {
                throw new IIOException("decoding stopped");
            }
            byte[] block = data.nextBlock();
            if (block.length == 0) {
                if (halfToken.length == 0) {
                    break;
                }
                block = new byte[] {' '}; // ends the half token
            }
            block = data.withoutComments(block);
            if (halfToken.length > 0) {
                block = concat(halfToken, block);
                halfToken = new byte[0];
            }
            int end = block.length;
            if (end > 0 && !isWhitespace(block[end - 1])) {
                int start = end;
                while (start > 0 && !isWhitespace(block[start - 1])) {
                    start--;
                }
                halfToken = Arrays.copyOfRange(block, start, end);
                if (halfToken.length > MAX_TOKEN) {
                    throw new IIOException("its data holds a token of over " + MAX_TOKEN + " characters");
                }
                end = start;
            }
            for (int at = 0; at < end && sample < total; ) {
                if (isWhitespace(block[at])) {
                    at++;
                    continue;
                }
                int tokenEnd = at;
                while (tokenEnd < end && !isWhitespace(block[tokenEnd])) {
                    tokenEnd++;
                }
                long value = sampleValue(block, at, tokenEnd);
                put(rgb, sample++, bands, (int) Math.rint((double) value / maxval * scaledMax));
                at = tokenEnd;
            }
        }
        if (sample < total) {
            throw new IIOException("its data ends before the last pixel");
        }
    }

    private long sampleValue(byte[] block, int from, int to) throws IIOException {
        if (to - from > MAX_TOKEN) {
            throw new IIOException("its data holds a token of over " + MAX_TOKEN + " characters");
        }
        long value = pythonInt(block, from, to);
        if (value == NOT_AN_INT) {
            throw new IIOException("its sample '" + new String(block, from, to - from, StandardCharsets.ISO_8859_1)
                    + "' is not an integer");
        }
        if (value < 0 || value > maxval) {
            throw new IIOException("its sample " + value + " is outside 0 to its maxval " + maxval);
        }
        return value;
    }

    /** {@code _read_magic}: up to 6 bytes, ended by whitespace (consumed) or the end of the data. */
    private static String magic(ImageInputStream in) throws IOException {
        StringBuilder magic = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            int c = in.read();
            if (c < 0 || isWhitespace((byte) c)) {
                break;
            }
            magic.append((char) c);
        }
        return magic.toString();
    }

    /** {@code _read_token}, then Python's {@code int()} of it, which Pillow takes the header's numbers with. */
    private static int headerInt(ImageInputStream in, String what) throws IOException {
        StringBuilder token = new StringBuilder();
        while (token.length() <= MAX_TOKEN) {
            int c = in.read();
            if (c < 0) {
                break;
            }
            if (isWhitespace((byte) c)) {
                if (token.isEmpty()) {
                    continue;
                }
                break;
            }
            if (c == '#') {
                // The rest of the line goes; the token goes on after it.
                int skipped;
                do {
                    skipped = in.read();
                } while (skipped >= 0 && skipped != '\r' && skipped != '\n');
                continue;
            }
            token.append((char) c);
        }
        if (token.isEmpty()) {
            throw new IIOException("its header ends before its " + what);
        }
        if (token.length() > MAX_TOKEN) {
            throw new IIOException("its header's " + what + " token '" + token + "' is over " + MAX_TOKEN
                    + " characters");
        }
        byte[] bytes = token.toString().getBytes(StandardCharsets.ISO_8859_1);
        long value = pythonInt(bytes, 0, bytes.length);
        if (value == NOT_AN_INT) {
            throw new IIOException("its " + what + " '" + token + "' is not an integer");
        }
        if (value > Integer.MAX_VALUE) {
            throw new IIOException("its " + what + " " + value + " is too large");
        }
        return (int) value;
    }

    /**
     * Python's {@code int()} of {@code token[from, to)}, at most 10 ASCII characters: an optional sign, then digits,
     * single underscores allowed between them; {@link #NOT_AN_INT} for anything else.
     */
    private static long pythonInt(byte[] token, int from, int to) {
        int at = from;
        boolean negative = at < to && token[at] == '-';
        if (at < to && (token[at] == '-' || token[at] == '+')) {
            at++;
        }
        if (at == to) {
            return NOT_AN_INT;
        }
        long value = 0;
        boolean afterDigit = false;
        for (; at < to; at++) {
            byte c = token[at];
            if (c >= '0' && c <= '9') {
                value = value * 10 + (c - '0');
                afterDigit = true;
            } else if (c == '_' && afterDigit && at + 1 < to) {
                afterDigit = false;
            } else {
                return NOT_AN_INT;
            }
        }
        return afterDigit ? (negative ? -value : value) : NOT_AN_INT;
    }

    private static boolean isWhitespace(byte b) {
        return b == ' ' || b == '\t' || b == '\n' || b == 0x0B || b == '\f' || b == '\r';
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] joined = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, joined, a.length, b.length);
        return joined;
    }

    /** A plain file's data as Pillow's {@code PpmPlainDecoder} reads it: blocks, and comments across them. */
    private static final class PlainData {
        private final ImageInputStream in;
        private boolean commentSpans; // a comment began in an earlier block and has not ended

        PlainData(ImageInputStream in) {
            this.in = in;
        }

        /** The next block of up to {@link #BLOCK} bytes; empty at the end of the data. */
        byte[] nextBlock() throws IOException {
            ByteArrayOutputStream block = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            while (block.size() < BLOCK) {
                int count = in.read(buffer, 0, Math.min(buffer.length, BLOCK - block.size()));
                if (count < 0) {
                    break;
                }
                block.write(buffer, 0, count);
            }
            return block.toByteArray();
        }

        /** {@code _ignore_comments}: each comment goes with the line break that ends it. */
        byte[] withoutComments(byte[] block) throws IOException {
            if (commentSpans) {
                while (block.length > 0) {
                    int end = commentEnd(block, 0);
                    if (end >= 0) {
                        block = Arrays.copyOfRange(block, end + 1, block.length);
                        break;
                    }
                    block = nextBlock();
                }
            }
            commentSpans = false;
            // Pillow deletes one comment at a time and searches the block again from its start, which is quadratic in
            // the comments of a block (a megabyte of "#\n" took minutes here, with no stop check between); one pass
            // gives the same bytes: no '#' precedes the comment it removes, and one that begins past 0 ends at its
            // first line break.
            int start = indexOf(block, '#', 0);
            if (start < 0) {
                return block;
            }
            ByteArrayOutputStream kept = new ByteArrayOutputStream(block.length);
            int from = 0;
            while (start >= 0) {
                kept.write(block, from, start - from);
                int end = lineBreak(block, start);
                if (end < 0) {
                    commentSpans = true;
                    return kept.toByteArray();
                }
                from = end + 1;
                start = indexOf(block, '#', from);
            }
            kept.write(block, from, block.length - from);
            return kept.toByteArray();
        }

        /** The first line feed or carriage return at or after {@code from}, or -1. */
        private static int lineBreak(byte[] block, int from) {
            for (int i = from; i < block.length; i++) {
                if (block[i] == '\n' || block[i] == '\r') {
                    return i;
                }
            }
            return -1;
        }

        /**
         * {@code _find_comment_end}: the first line feed or carriage return from {@code from}, as Pillow computes
         * it ({@code min(a, b) if a * b > 0 else max(a, b)}, which takes the later one when the earlier is at 0).
         */
        private static int commentEnd(byte[] block, int from) {
            long lineFeed = indexOf(block, '\n', from);
            long carriageReturn = indexOf(block, '\r', from);
            return (int) (lineFeed * carriageReturn > 0 ? Math.min(lineFeed, carriageReturn)
                    : Math.max(lineFeed, carriageReturn));
        }

        private static int indexOf(byte[] block, char c, int from) {
            for (int i = from; i < block.length; i++) {
                if (block[i] == c) {
                    return i;
                }
            }
            return -1;
        }
    }
}
