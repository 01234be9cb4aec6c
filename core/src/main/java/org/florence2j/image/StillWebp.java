package org.florence2j.image;

import java.io.IOException;
import javax.imageio.IIOException;
import javax.imageio.stream.ImageInputStream;

/**
 * The container of a still WebP file (RFC 9649 section 2): its one image chunk, {@code VP8 } or {@code VP8L}, alone
 * or in an extended file ({@code VP8X}) without animation, checked as libwebp's demuxer checks it
 * ({@code src/demux/demux.c}): chunks must lie whole inside the RIFF data, an extended file's flags must be known ones,
 * it must hold one image chunk, an alpha chunk must come right before a {@code VP8 } one and none before a
 * {@code VP8L} one, and the image must be the canvas size (checked by {@link #requireCanvas} once the image's size is
 * read).
 *
 * @param image        the {@code VP8 } or {@code VP8L} chunk
 * @param alpha        the alpha chunk libwebp decodes with a {@code VP8 } image (when the VP8X alpha flag is set);
 *                     null when none
 * @param canvasWidth  the VP8X canvas's width; -1 in a simple file
 * @param canvasHeight the VP8X canvas's height; -1 in a simple file
 */
record StillWebp(RiffChunk image, RiffChunk alpha, int canvasWidth, int canvasHeight) {
    private static final int VP8X_ALPHA = 0x10;

    /**
     * The image chunk of the WebP file that {@code in} holds in whole: null when the file is not a still WebP (an
     * animated one, or not a WebP).
     *
     * @throws IIOException when the file is a still WebP whose container libwebp would refuse
     */
    static StillWebp read(ImageInputStream in) throws IOException {
        byte[] head = RiffChunk.read(in, 0, 12 + 4);
        if (!RiffChunk.fourcc(head, 0).equals("RIFF") || !RiffChunk.fourcc(head, 8).equals("WEBP")) {
            return null;
        }
        String first = RiffChunk.fourcc(head, 12);
        if (!first.equals("VP8 ") && !first.equals("VP8L") && !first.equals("VP8X")) {
            return null;
        }
        long riffSize = RiffChunk.uint32(head, 4);
        if (riffSize > RiffChunk.MAX_PAYLOAD) {
            throw new IIOException("the RIFF size " + riffSize + " is over the largest a WebP may have");
        }
        long riffEnd = RiffChunk.HEADER_BYTES + riffSize;
        RiffChunk chunk = RiffChunk.at(in, 12, riffEnd);
        if (!chunk.fourcc().equals("VP8X")) {
            if (chunk.end() < riffEnd) {
                RiffChunk.at(in, chunk.end(), riffEnd); // libwebp's demuxer reads one chunk header past the image
            }
            return new StillWebp(chunk, null, -1, -1);
        }
        if (chunk.size() != LossyWebp.VP8X_PAYLOAD_BYTES) { // libwebp's decoder takes no other size
            throw new IIOException("the VP8X chunk has " + chunk.size() + " bytes, not " + LossyWebp.VP8X_PAYLOAD_BYTES);
        }
        byte[] vp8x = RiffChunk.read(in, chunk.payloadAt(), LossyWebp.VP8X_PAYLOAD_BYTES);
        int flags = vp8x[0] & 0xFF;
        if ((flags & ~LossyWebp.VP8X_KNOWN_FLAGS) != 0) {
            throw new IIOException("the VP8X chunk has unknown flags 0x" + Integer.toHexString(flags));
        }
        if ((flags & LossyWebp.VP8X_ANIMATION) != 0) {
            return null;
        }
        RiffChunk image = null;
        RiffChunk alpha = null;
        for (long at = chunk.end(); at < riffEnd; at = chunk.end()) {
            chunk = RiffChunk.at(in, at, riffEnd);
            boolean alphaWaiting = alpha != null && image == null;
            switch (chunk.fourcc()) {
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
                    image = chunk;
                }
                case "ALPH" -> {
                    if (image != null || alphaWaiting) {
                        throw new IIOException("an ALPH chunk that does not come right before the image");
                    }
                    alpha = chunk;
                }
                case "VP8X", "ANIM", "ANMF" -> throw new IIOException("a " + chunk.fourcc().trim()
                        + " chunk inside a still extended WebP");
                default -> {
                    if (alphaWaiting) {
                        throw new IIOException("the ALPH chunk is followed by " + chunk.fourcc() + ", not the image");
                    }
                }
            }
        }
        if (image == null) {
            throw new IIOException("the extended WebP has no image chunk");
        }
        return new StillWebp(image, (flags & VP8X_ALPHA) != 0 ? alpha : null, 1 + RiffChunk.uint24(vp8x, 4),
                1 + RiffChunk.uint24(vp8x, 7));
    }

    /**
     * Refuses an image of {@code width × height} pixels that does not fill the VP8X canvas.
     *
     * @throws IIOException when it does not
     */
    void requireCanvas(int width, int height) throws IIOException {
        if (canvasWidth >= 0 && (canvasWidth != width || canvasHeight != height)) {
            throw new IIOException("the " + width + "x" + height + " image does not fill its " + canvasWidth + "x"
                    + canvasHeight + " canvas");
        }
    }
}
