package org.florence2j.image;

import java.io.IOException;
import java.util.function.BooleanSupplier;
import javax.imageio.IIOException;
import javax.imageio.stream.ImageInputStream;

/**
 * An animated WebP file (an extended one, {@code VP8X}, with the animation flag; RFC 9649 section 2.7) and its first
 * frame as Pillow 12.3's {@code Image.open(file).convert("RGB")} gives it. Pillow decodes every WebP through
 * libwebp's {@code WebPAnimDecoder} ({@code src/demux/anim_decode.c}), in non-premultiplied RGBA: the first frame is
 * a key frame, so the canvas is zero-filled and the frame decoded into its rectangle, unblended. The pixels around
 * the frame are therefore black, whatever the background colour of the {@code ANIM} chunk, and neither the frame's
 * alpha nor its blend and dispose flags change any RGB. A lossy frame is decoded by {@link LossyWebp}, a lossless one
 * by {@link LosslessWebp} (its RGB kept where its alpha is 0, as libwebp keeps it), and put on the canvas.
 *
 * <p>The container is checked as libwebp's demuxer checks an animated file ({@code src/demux/demux.c},
 * {@code ParseVP8XChunks}, {@code ParseAnimationFrame}, {@code StoreFrame}, {@code IsValidExtendedFormat}), so that a
 * file Pillow refuses is refused here: an {@code ANIM} chunk before the first {@code ANMF}, no image chunk outside an
 * {@code ANMF}, each frame's chunks an optional {@code ALPH} then a {@code VP8 } (or a {@code VP8L}, without
 * {@code ALPH}) whose header libwebp can read, lying inside their {@code ANMF}, and each frame inside the canvas at
 * the size its bitstream declares (the {@code ANMF} chunk's own size fields are only checked against libwebp's area
 * limit). Only the first frame's pixels are decoded, as Pillow decodes only those; as for a still file
 * ({@link LossyWebp}), its lossless-compressed alpha is decoded too, and dropped, so that a corrupt one is refused.
 */
final class AnimatedWebp {
    private static final int ANIM_PAYLOAD_BYTES = 6;
    private static final int ANMF_HEADER_BYTES = 16;
    private static final int VP8L_HEADER_BYTES = 5;
    private static final int VP8_HEADER_BYTES = 10;
    /** libwebp's {@code MAX_IMAGE_AREA}: a canvas or frame of this many pixels or more is refused. */
    private static final long MAX_IMAGE_AREA = 1L << 32;

    private final int canvasWidth;
    private final int canvasHeight;
    private final int frameLeft;
    private final int frameTop;
    private final LossyWebp lossyFrame;
    private final LosslessWebp losslessFrame;

    private AnimatedWebp(int canvasWidth, int canvasHeight, Frame first, LossyWebp lossyFrame,
            LosslessWebp losslessFrame) {
        this.canvasWidth = canvasWidth;
        this.canvasHeight = canvasHeight;
        this.frameLeft = first.left;
        this.frameTop = first.top;
        this.lossyFrame = lossyFrame;
        this.losslessFrame = losslessFrame;
    }

    /**
     * Reads the container of the WebP file that {@code in} holds in whole, and the data of its first frame: null
     * when the file is not an animated WebP. The stream's position is kept.
     *
     * @throws IIOException when the file is an animated WebP that libwebp would refuse
     */
    static AnimatedWebp read(ImageInputStream in) throws IOException {
        in.mark();
        try {
            return readContainer(in);
        } finally {
            in.reset();
        }
    }

    /** The canvas's width in pixels: the width of the image Pillow gives. */
    int canvasWidth() {
        return canvasWidth;
    }

    /** The canvas's height in pixels. */
    int canvasHeight() {
        return canvasHeight;
    }

    /**
     * Decodes the first frame onto the canvas, asking {@code stopRequested} at least every 16 rows of pixels whether
     * to give up.
     *
     * @throws IIOException when the frame's data is corrupt or truncated, or when asked to stop
     */
    RgbImage decode(BooleanSupplier stopRequested) throws IIOException {
        return onCanvas(lossyFrame != null ? lossyFrame.decode(stopRequested) : losslessFrame.decode(stopRequested));
    }

    /**
     * The canvas with the decoded first frame {@code frame} at its offset and the rest black, as libwebp's
     * {@code WebPAnimDecoder} leaves it ({@code ZeroFillCanvas}, then the frame decoded into its rectangle).
     *
     * @throws IIOException when {@code frame} does not fit the canvas at its offset
     */
    private RgbImage onCanvas(RgbImage frame) throws IIOException {
        if (frameLeft + frame.width() > canvasWidth || frameTop + frame.height() > canvasHeight) {
            throw new IIOException("the " + frame.width() + "x" + frame.height() + " first frame at (" + frameLeft
                    + ", " + frameTop + ") does not fit its " + canvasWidth + "x" + canvasHeight + " canvas");
        }
        if (frame.width() == canvasWidth && frame.height() == canvasHeight) {
            return frame;
        }
        byte[] canvas = new byte[canvasWidth * canvasHeight * 3]; // [canvasHeight, canvasWidth, 3], zero: black
        byte[] pixels = frame.toByteArray(); // [height, width, 3]
        int rowBytes = frame.width() * 3;
        for (int y = 0; y < frame.height(); y++) {
            System.arraycopy(pixels, y * rowBytes, canvas, ((frameTop + y) * canvasWidth + frameLeft) * 3, rowBytes);
        }
        return new RgbImage(canvasWidth, canvasHeight, canvas);
    }

    private static AnimatedWebp readContainer(ImageInputStream in) throws IOException {
        byte[] head = RiffChunk.read(in, 0, 12 + 4);
        if (!RiffChunk.fourcc(head, 0).equals("RIFF") || !RiffChunk.fourcc(head, 8).equals("WEBP")
                || !RiffChunk.fourcc(head, 12).equals("VP8X")) {
            return null;
        }
        long riffSize = RiffChunk.uint32(head, 4);
        if (riffSize < RiffChunk.HEADER_BYTES || riffSize > RiffChunk.MAX_PAYLOAD) {
            throw new IIOException("the RIFF size " + riffSize + " is not one a WebP may have");
        }
        long riffEnd = RiffChunk.HEADER_BYTES + riffSize;
        RiffChunk vp8x = RiffChunk.at(in, 12, riffEnd);
        if (vp8x.size() != LossyWebp.VP8X_PAYLOAD_BYTES) { // libwebp's decoder takes no other size
            throw new IIOException("the VP8X chunk has " + vp8x.size() + " bytes, not " + LossyWebp.VP8X_PAYLOAD_BYTES);
        }
        byte[] header = RiffChunk.read(in, vp8x.payloadAt(), LossyWebp.VP8X_PAYLOAD_BYTES);
        int flags = header[0] & 0xFF;
        if ((flags & LossyWebp.VP8X_ANIMATION) == 0) {
            return null;
        }
        if ((flags & ~LossyWebp.VP8X_KNOWN_FLAGS) != 0) {
            throw new IIOException("the VP8X chunk has unknown flags 0x" + Integer.toHexString(flags));
        }
        int canvasWidth = 1 + RiffChunk.uint24(header, 4);
        int canvasHeight = 1 + RiffChunk.uint24(header, 7);
        requireArea(canvasWidth, canvasHeight, "canvas");

        Frame first = null;
        boolean animSeen = false;
        long at = vp8x.end();
        do {
            RiffChunk chunk = RiffChunk.at(in, at, riffEnd);
            switch (chunk.fourcc()) {
                case "VP8X" -> throw new IIOException("a second VP8X chunk");
                case "ALPH", "VP8 ", "VP8L" -> throw new IIOException("a " + chunk.fourcc().trim()
                        + " chunk outside any ANMF chunk in an animated WebP");
                case "ANIM" -> {
                    if (chunk.paddedSize() < ANIM_PAYLOAD_BYTES) {
                        throw new IIOException("the ANIM chunk has " + chunk.size() + " bytes, not "
                                + ANIM_PAYLOAD_BYTES);
                    }
                    animSeen = true;
                    at = chunk.end();
                }
                case "ANMF" -> {
                    if (!animSeen) {
                        throw new IIOException("an ANMF chunk before the ANIM chunk");
                    }
                    Frame frame = Frame.read(in, chunk, riffEnd);
                    frame.requireInside(canvasWidth, canvasHeight);
                    if (first == null && frame.image != null) {
                        first = frame;
                    }
                    // The demuxer goes on where the frame's image chunks end, inside the ANMF chunk or not.
                    at = frame.end;
                }
                default -> at = chunk.end();
            }
            if (at != riffEnd && riffEnd - at < RiffChunk.HEADER_BYTES) {
                throw new IIOException("a chunk header at byte " + at + " runs past the end of the RIFF data (byte "
                        + riffEnd + ")");
            }
        } while (at != riffEnd);
        if (first == null) {
            throw new IIOException("the animated WebP has no frame");
        }
        if (first.image.fourcc().equals("VP8L")) {
            return new AnimatedWebp(canvasWidth, canvasHeight, first, null,
                    LosslessWebp.ofImageChunk(in, first.image));
        }
        return new AnimatedWebp(canvasWidth, canvasHeight, first, LossyWebp.ofImageChunk(in, first.image, first.alpha),
                null);
    }

    private static void requireArea(long width, long height, String what) throws IIOException {
        if (width * height >= MAX_IMAGE_AREA) {
            throw new IIOException("the " + width + "x" + height + " " + what + " is over libwebp's area limit");
        }
    }

    /**
     * One {@code ANMF} chunk's frame: its offset on the canvas, its optional alpha chunk and its image chunk (null
     * when the {@code ANMF} chunk holds none, which the demuxer skips), the image's size as its bitstream declares
     * it, and where the demuxer goes on reading.
     */
    private record Frame(int left, int top, RiffChunk alpha, RiffChunk image, int width, int height, long end) {
        /** The frame of {@code anmf}, read as libwebp's {@code ParseAnimationFrame} and {@code StoreFrame} read it. */
        static Frame read(ImageInputStream in, RiffChunk anmf, long riffEnd) throws IOException {
            if (anmf.paddedSize() < ANMF_HEADER_BYTES) {
                throw new IIOException("the ANMF chunk has " + anmf.size() + " bytes, too few for its header");
            }
            byte[] header = RiffChunk.read(in, anmf.payloadAt(), ANMF_HEADER_BYTES);
            int left = 2 * RiffChunk.uint24(header, 0);
            int top = 2 * RiffChunk.uint24(header, 3);
            requireArea(1 + RiffChunk.uint24(header, 6), 1 + RiffChunk.uint24(header, 9), "ANMF frame");
            long start = anmf.payloadAt() + ANMF_HEADER_BYTES;
            if (riffEnd - start < RiffChunk.HEADER_BYTES) {
                throw new IIOException("the ANMF chunk at byte " + anmf.headerAt() + " is followed by no chunk");
            }
            RiffChunk alpha = null;
            RiffChunk image = null;
            int[] size = null;
            long at = start;
            while (true) {
                RiffChunk chunk = RiffChunk.at(in, at, riffEnd);
                String fourcc = chunk.fourcc();
                boolean alphaChunk = fourcc.equals("ALPH") && alpha == null;
                boolean imageChunk = (fourcc.equals("VP8 ") || fourcc.equals("VP8L")) && image == null;
                if (!alphaChunk && !imageChunk) {
                    break;
                }
                if (alphaChunk) {
                    alpha = chunk;
                } else {
                    if (fourcc.equals("VP8L") && alpha != null) {
                        throw new IIOException("a VP8L chunk after an ALPH chunk: VP8L has its own alpha");
                    }
                    image = chunk;
                    size = imageSize(in, chunk);
                }
                at = chunk.end();
                if (at == riffEnd) {
                    break;
                }
                if (riffEnd - at < RiffChunk.HEADER_BYTES) {
                    throw new IIOException("a chunk header at byte " + at + " runs past the end of the RIFF data");
                }
            }
            if (at - start > anmf.paddedSize() - ANMF_HEADER_BYTES) {
                throw new IIOException("the image chunks of the ANMF chunk at byte " + anmf.headerAt()
                        + " run past its end");
            }
            if (alpha != null && image == null) {
                throw new IIOException("the ANMF chunk at byte " + anmf.headerAt() + " has an ALPH chunk but no image");
            }
            if (alpha != null && alpha.payloadAt() > image.payloadAt()) {
                throw new IIOException("an ALPH chunk after its image chunk");
            }
            return image == null ? new Frame(left, top, null, null, 0, 0, at)
                    : new Frame(left, top, alpha, image, size[0], size[1], at);
        }

        void requireInside(int canvasWidth, int canvasHeight) throws IIOException {
            if (image != null && ((long) left + width > canvasWidth || (long) top + height > canvasHeight)) {
                throw new IIOException("the " + width + "x" + height + " frame at (" + left + ", " + top
                        + ") does not fit in its " + canvasWidth + "x" + canvasHeight + " canvas");
            }
        }
    }

    /**
     * The {width, height} that libwebp's {@code WebPGetFeatures} reads from an image chunk, with the checks it makes
     * ({@code VP8GetInfo}, {@code VP8LGetInfo} in {@code src/dec/}): the demuxer makes them on every frame.
     */
    private static int[] imageSize(ImageInputStream in, RiffChunk image) throws IOException {
        boolean lossless = image.fourcc().equals("VP8L");
        int headerBytes = lossless ? VP8L_HEADER_BYTES : VP8_HEADER_BYTES;
        if (image.paddedSize() < headerBytes) {
            throw new IIOException("the " + image.fourcc().trim() + " chunk has " + image.size()
                    + " bytes, too few for a frame header");
        }
        byte[] header = RiffChunk.read(in, image.payloadAt(), headerBytes);
        if (lossless) {
            int[] size = Vp8lDecoder.size(header);
            if (size == null) {
                throw new IIOException("the VP8L chunk has no VP8L signature");
            }
            return size;
        }
        int tag = RiffChunk.uint24(header, 0);
        if ((header[3] & 0xFF) != 0x9D || header[4] != 0x01 || header[5] != 0x2A) {
            throw new IIOException("the VP8 frame has no start code");
        }
        if ((tag & 1) != 0 || (tag >> 1 & 7) > 3 || (tag >> 4 & 1) == 0) {
            throw new IIOException("not a displayable VP8 key frame (frame tag 0x" + Integer.toHexString(tag) + ")");
        }
        if (tag >>> 5 >= image.size()) {
            throw new IIOException("the VP8 first partition (" + (tag >>> 5) + " bytes) does not fit in its "
                    + image.size() + "-byte chunk");
        }
        int width = ((header[6] & 0xFF) | (header[7] & 0xFF) << 8) & 0x3FFF;
        int height = ((header[8] & 0xFF) | (header[9] & 0xFF) << 8) & 0x3FFF;
        if (width == 0 || height == 0) {
            throw new IIOException("the VP8 frame has no pixels (" + width + "x" + height + ")");
        }
        return new int[] {width, height};
    }
}
