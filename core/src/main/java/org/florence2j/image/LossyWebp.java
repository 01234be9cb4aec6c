package org.florence2j.image;

import java.io.IOException;
import java.util.function.BooleanSupplier;
import javax.imageio.IIOException;
import javax.imageio.stream.ImageInputStream;

/**
 * A still, lossy WebP file (RIFF container, RFC 9649): a {@code VP8 } chunk alone, or in an extended file
 * ({@code VP8X}) without animation, with or without an alpha chunk. It decodes to the RGB that Pillow's
 * {@code Image.open(file).convert("RGB")} gives, byte for byte: Pillow decodes it with libwebp (through its
 * demuxer and {@code WebPAnimDecoder}, into non-premultiplied RGBA whose colour the alpha does not change), and
 * {@link Vp8Decoder} and {@link YuvToRgb} compute what libwebp computes.
 *
 * <p>The container is checked as libwebp's demuxer checks it ({@code src/demux/demux.c}), so that a file Pillow
 * refuses is refused here: chunks must lie whole inside the RIFF data, an extended file's flags must be known ones,
 * its one image must be the canvas size, and an alpha chunk must come right before it. The alpha is not decoded,
 * as the RGB does not depend on it; only its header is checked, as libwebp checks it before decoding it, so a file
 * whose compressed alpha is corrupt past its header decodes here where Pillow refuses it.
 */
final class LossyWebp {
    /** libwebp's {@code MAX_CHUNK_PAYLOAD}: a larger chunk size is an error. */
    private static final long MAX_CHUNK_PAYLOAD = 0xFFFF_FFFFL - 8 - 1;
    private static final int CHUNK_HEADER_BYTES = 8;
    private static final int VP8X_PAYLOAD_BYTES = 10;
    private static final int VP8X_ANIMATION = 0x02;
    private static final int VP8X_ALPHA = 0x10;
    /** The flags libwebp knows (ICC, alpha, EXIF, XMP, animation); any other set bit makes the file invalid. */
    private static final int VP8X_KNOWN_FLAGS = 0x3E;
    private static final int VP8_HEADER_BYTES = 10;

    private final byte[] vp8;
    private final int width;
    private final int height;

    private LossyWebp(byte[] vp8, int width, int height) {
        this.vp8 = vp8;
        this.width = width;
        this.height = height;
    }

    /**
     * Reads the container of the WebP file that {@code in} holds in whole, and the VP8 data of its image: null when
     * the file is not a still lossy WebP (a lossless or animated one, left to another decoder). The stream's position
     * is kept.
     *
     * @throws IIOException when the file is a lossy WebP whose container libwebp would refuse
     */
    static LossyWebp read(ImageInputStream in) throws IOException {
        in.mark();
        try {
            return readContainer(in);
        } finally {
            in.reset();
        }
    }

    /** The picture's width in pixels. */
    int width() {
        return width;
    }

    /** The picture's height in pixels. */
    int height() {
        return height;
    }

    /**
     * Decodes the picture, asking {@code stopRequested} at least once per macroblock row (16 pixel rows) whether to
     * give up.
     *
     * @throws IIOException when the VP8 data is corrupt or truncated, or when asked to stop
     */
    RgbImage decode(BooleanSupplier stopRequested) throws IIOException {
        Vp8FrameHeader header = new Vp8FrameHeader(vp8, 0, vp8.length);
        return YuvToRgb.convert(new Vp8Decoder(header).decode(stopRequested), stopRequested);
    }

    private static LossyWebp readContainer(ImageInputStream in) throws IOException {
        byte[] head = readAt(in, 0, 12 + 4);
        if (!fourcc(head, 0).equals("RIFF") || !fourcc(head, 8).equals("WEBP")) {
            return null;
        }
        String first = fourcc(head, 12);
        if (!first.equals("VP8 ") && !first.equals("VP8X")) {
            return null;
        }
        long riffSize = uint32(head, 4);
        if (riffSize > MAX_CHUNK_PAYLOAD) {
            throw new IIOException("the RIFF size " + riffSize + " is over the largest a WebP may have");
        }
        long riffEnd = CHUNK_HEADER_BYTES + riffSize;
        Chunk chunk = chunkAt(in, 12, riffEnd);
        Chunk image;
        Chunk alpha = null;
        int alphaFlag = 0;
        int canvasWidth = -1;
        int canvasHeight = -1;
        if (chunk.fourcc.equals("VP8 ")) {
            image = chunk;
            if (image.end() < riffEnd) {
                chunkAt(in, image.end(), riffEnd); // libwebp's demuxer reads one chunk header past the image
            }
        } else {
            if (chunk.size < VP8X_PAYLOAD_BYTES) {
                throw new IIOException("the VP8X chunk has " + chunk.size + " bytes, not " + VP8X_PAYLOAD_BYTES);
            }
            byte[] vp8x = readAt(in, chunk.payloadAt, VP8X_PAYLOAD_BYTES);
            int flags = vp8x[0] & 0xFF;
            if ((flags & ~VP8X_KNOWN_FLAGS) != 0) {
                throw new IIOException("the VP8X chunk has unknown flags 0x" + Integer.toHexString(flags));
            }
            if ((flags & VP8X_ANIMATION) != 0) {
                return null;
            }
            alphaFlag = flags & VP8X_ALPHA;
            canvasWidth = 1 + uint24(vp8x, 4);
            canvasHeight = 1 + uint24(vp8x, 7);
            image = null;
            for (long at = chunk.end(); at < riffEnd; at = chunk.end()) {
                chunk = chunkAt(in, at, riffEnd);
                boolean alphaWaiting = alpha != null && image == null;
                switch (chunk.fourcc) {
                    case "VP8 " -> {
                        if (image != null) {
                            throw new IIOException("a second image chunk in a still WebP");
                        }
                        image = chunk;
                    }
                    case "VP8L" -> {
                        if (image != null || alphaWaiting) {
                            throw new IIOException("a VP8L chunk after an image or alpha chunk");
                        }
                        return null;
                    }
                    case "ALPH" -> {
                        if (image != null || alphaWaiting) {
                            throw new IIOException("an ALPH chunk that does not come right before the image");
                        }
                        alpha = chunk;
                    }
                    case "VP8X", "ANIM", "ANMF" -> throw new IIOException("a " + chunk.fourcc.trim()
                            + " chunk inside a still extended WebP");
                    default -> {
                        if (alphaWaiting) {
                            throw new IIOException("the ALPH chunk is followed by " + chunk.fourcc + ", not the image");
                        }
                    }
                }
            }
            if (image == null) {
                throw new IIOException("the extended WebP has no image chunk");
            }
        }

        if (image.size > Integer.MAX_VALUE - 16) {
            throw new IIOException("the VP8 chunk of " + image.size + " bytes is too large");
        }
        // libwebp's demuxer hands the decoder the chunk's padding byte too: the last partition may read it.
        byte[] vp8 = readAt(in, image.payloadAt, (int) (image.end() - image.payloadAt));
        if (vp8.length < VP8_HEADER_BYTES) {
            throw new IIOException("the VP8 chunk has " + vp8.length + " bytes, too few for a frame header");
        }
        int firstPartitionBytes = ((vp8[0] & 0xFF) | (vp8[1] & 0xFF) << 8 | (vp8[2] & 0xFF) << 16) >>> 5;
        if (firstPartitionBytes >= image.size) {
            throw new IIOException("the VP8 first partition (" + firstPartitionBytes + " bytes) does not fit in its "
                    + image.size + "-byte chunk");
        }
        int frameWidth = ((vp8[6] & 0xFF) | (vp8[7] & 0xFF) << 8) & 0x3fff;
        int frameHeight = ((vp8[8] & 0xFF) | (vp8[9] & 0xFF) << 8) & 0x3fff;
        if (canvasWidth >= 0 && (canvasWidth != frameWidth || canvasHeight != frameHeight)) {
            throw new IIOException("the " + frameWidth + "x" + frameHeight + " image does not fill its "
                    + canvasWidth + "x" + canvasHeight + " canvas");
        }
        if (alphaFlag != 0 && alpha != null) {
            checkAlphaHeader(in, alpha, (long) frameWidth * frameHeight);
        }
        return new LossyWebp(vp8, frameWidth, frameHeight);
    }

    /** The checks libwebp's {@code ALPHInit} makes before decoding an alpha chunk. */
    private static void checkAlphaHeader(ImageInputStream in, Chunk alpha, long pixels) throws IOException {
        if (alpha.size <= 1) {
            throw new IIOException("the ALPH chunk has no data");
        }
        int header = readAt(in, alpha.payloadAt, 1)[0] & 0xFF;
        int compression = header & 3;
        int preprocessing = header >> 4 & 3;
        int reserved = header >> 6;
        if (compression > 1 || preprocessing > 1 || reserved != 0) {
            throw new IIOException("the ALPH chunk's header 0x" + Integer.toHexString(header) + " is invalid");
        }
        if (compression == 0 && alpha.size - 1 < pixels) {
            throw new IIOException("the uncompressed ALPH chunk has " + (alpha.size - 1) + " bytes for " + pixels
                    + " pixels");
        }
    }

    /** A chunk: its four-character code, where its payload starts and the payload's declared size in bytes. */
    private record Chunk(String fourcc, long payloadAt, long size) {
        /** Where the next chunk starts: payloads of odd size are padded to even. */
        long end() {
            return payloadAt + size + (size & 1);
        }
    }

    /** The chunk whose header is at {@code at}, which must lie, padded, before {@code riffEnd}. */
    private static Chunk chunkAt(ImageInputStream in, long at, long riffEnd) throws IOException {
        if (riffEnd - at < CHUNK_HEADER_BYTES) {
            throw new IIOException("a chunk header at byte " + at + " runs past the end of the RIFF data (byte "
                    + riffEnd + ")");
        }
        byte[] header = readAt(in, at, CHUNK_HEADER_BYTES);
        Chunk chunk = new Chunk(fourcc(header, 0), at + CHUNK_HEADER_BYTES, uint32(header, 4));
        if (chunk.size > MAX_CHUNK_PAYLOAD || chunk.end() > riffEnd) {
            throw new IIOException("the " + chunk.fourcc + " chunk at byte " + at + " (" + chunk.size
                    + " bytes) runs past the end of the RIFF data (byte " + riffEnd + ")");
        }
        return chunk;
    }

    private static byte[] readAt(ImageInputStream in, long at, int byteCount) throws IOException {
        byte[] bytes = new byte[byteCount];
        in.seek(at);
        in.readFully(bytes);
        return bytes;
    }

    private static String fourcc(byte[] bytes, int at) {
        char[] chars = new char[4];
        for (int i = 0; i < 4; i++) {
            chars[i] = (char) (bytes[at + i] & 0xFF);
        }
        return new String(chars);
    }

    private static long uint32(byte[] bytes, int at) {
        return (bytes[at] & 0xFFL) | (bytes[at + 1] & 0xFFL) << 8 | (bytes[at + 2] & 0xFFL) << 16
                | (bytes[at + 3] & 0xFFL) << 24;
    }

    private static int uint24(byte[] bytes, int at) {
        return (bytes[at] & 0xFF) | (bytes[at + 1] & 0xFF) << 8 | (bytes[at + 2] & 0xFF) << 16;
    }
}
