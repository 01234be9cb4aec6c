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
 * <p>The container is checked as libwebp's demuxer checks it (see {@link StillWebp}), so that a file Pillow refuses
 * is refused here. The RGB does not depend on the alpha, but libwebp decodes it and fails the image where it cannot:
 * an alpha chunk's header is checked as libwebp checks it, and lossless-compressed alpha is decoded (and dropped) by
 * {@link Vp8lDecoder#checkAlpha}, so that a file whose alpha is corrupt is refused as Pillow refuses it.
 *
 * <p>An animated file is left to {@link AnimatedWebp}, which decodes a lossy first frame through
 * {@link #ofImageChunk} with the same checks.
 */
final class LossyWebp {
    static final int VP8X_PAYLOAD_BYTES = 10;
    static final int VP8X_ANIMATION = 0x02;
    /** The flags libwebp knows (ICC, alpha, EXIF, XMP, animation); any other set bit makes the file invalid. */
    static final int VP8X_KNOWN_FLAGS = 0x3E;
    private static final int VP8_HEADER_BYTES = 10;

    private final byte[] vp8;
    private final int width;
    private final int height;
    private final byte[] losslessAlpha; // the alpha chunk's VP8L image stream, or null: none, or uncompressed

    private LossyWebp(byte[] vp8, int width, int height, byte[] losslessAlpha) {
        this.vp8 = vp8;
        this.width = width;
        this.height = height;
        this.losslessAlpha = losslessAlpha;
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
        RgbImage rgb = YuvToRgb.convert(new Vp8Decoder(header).decode(stopRequested), stopRequested);
        if (losslessAlpha != null) {
            Vp8lDecoder.checkAlpha(losslessAlpha, width, height, stopRequested);
        }
        return rgb;
    }

    private static LossyWebp readContainer(ImageInputStream in) throws IOException {
        StillWebp still = StillWebp.read(in);
        if (still == null || !still.image().fourcc().equals("VP8 ")) {
            return null;
        }
        LossyWebp lossy = ofImageChunk(in, still.image(), still.alpha());
        still.requireCanvas(lossy.width, lossy.height);
        return lossy;
    }

    /**
     * The picture in the {@code VP8 } chunk {@code image}, its frame header checked as far as libwebp checks it before
     * decoding, and the header of {@code alphaOrNull}, the alpha chunk that libwebp would decode with it (none when
     * null).
     *
     * @throws IIOException when libwebp would refuse either
     */
    static LossyWebp ofImageChunk(ImageInputStream in, RiffChunk image, RiffChunk alphaOrNull) throws IOException {
        if (image.size() > Integer.MAX_VALUE - 16) {
            throw new IIOException("the VP8 chunk of " + image.size() + " bytes is too large");
        }
        // libwebp's demuxer hands the decoder the chunk's padding byte too: the last partition may read it.
        byte[] vp8 = RiffChunk.read(in, image.payloadAt(), (int) image.paddedSize());
        if (vp8.length < VP8_HEADER_BYTES) {
            throw new IIOException("the VP8 chunk has " + vp8.length + " bytes, too few for a frame header");
        }
        int firstPartitionBytes = ((vp8[0] & 0xFF) | (vp8[1] & 0xFF) << 8 | (vp8[2] & 0xFF) << 16) >>> 5;
        if (firstPartitionBytes >= image.size()) {
            throw new IIOException("the VP8 first partition (" + firstPartitionBytes + " bytes) does not fit in its "
                    + image.size() + "-byte chunk");
        }
        int width = ((vp8[6] & 0xFF) | (vp8[7] & 0xFF) << 8) & 0x3fff;
        int height = ((vp8[8] & 0xFF) | (vp8[9] & 0xFF) << 8) & 0x3fff;
        byte[] losslessAlpha = alphaOrNull == null ? null : losslessAlpha(in, alphaOrNull, (long) width * height);
        return new LossyWebp(vp8, width, height, losslessAlpha);
    }

    /**
     * The checks libwebp's {@code ALPHInit} makes before decoding an alpha chunk; then the VP8L image stream after the
     * header byte (the chunk's declared size, no padding) where the alpha is compressed, else null.
     */
    private static byte[] losslessAlpha(ImageInputStream in, RiffChunk alpha, long pixels) throws IOException {
        if (alpha.size() <= 1) {
            throw new IIOException("the ALPH chunk has no data");
        }
        int header = RiffChunk.read(in, alpha.payloadAt(), 1)[0] & 0xFF;
        int compression = header & 3;
        int preprocessing = header >> 4 & 3;
        int reserved = header >> 6;
        if (compression > 1 || preprocessing > 1 || reserved != 0) {
            throw new IIOException("the ALPH chunk's header 0x" + Integer.toHexString(header) + " is invalid");
        }
        if (compression == 0 && alpha.size() - 1 < pixels) {
            throw new IIOException("the uncompressed ALPH chunk has " + (alpha.size() - 1) + " bytes for " + pixels
                    + " pixels");
        }
        if (compression == 0) {
            return null;
        }
        if (alpha.size() > Integer.MAX_VALUE - 16) {
            throw new IIOException("the ALPH chunk of " + alpha.size() + " bytes is too large");
        }
        return RiffChunk.read(in, alpha.payloadAt() + 1, (int) alpha.size() - 1);
    }
}
