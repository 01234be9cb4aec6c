package org.florence2j.image;

import java.io.IOException;
import java.util.function.BooleanSupplier;
import javax.imageio.IIOException;
import javax.imageio.stream.ImageInputStream;

/**
 * A still, lossless WebP file (RIFF container, RFC 9649): a {@code VP8L} chunk alone, or in an extended file
 * ({@code VP8X}) without animation. It decodes to the RGB that Pillow's {@code Image.open(file).convert("RGB")} gives,
 * byte for byte: Pillow decodes it with libwebp into non-premultiplied RGBA, whose colour is the decoded ARGB's as it
 * is, even where the alpha is 0, and {@link Vp8lDecoder} decodes what libwebp decodes. The container is checked as
 * {@link StillWebp} says.
 *
 * <p>An animated file is left to {@link AnimatedWebp}, which decodes a lossless first frame through
 * {@link #ofImageChunk}.
 */
final class LosslessWebp {
    private final byte[] vp8l;
    private final int width;
    private final int height;

    private LosslessWebp(byte[] vp8l, int width, int height) {
        this.vp8l = vp8l;
        this.width = width;
        this.height = height;
    }

    /**
     * Reads the container of the WebP file that {@code in} holds in whole, and the VP8L data of its image: null when
     * the file is not a still lossless WebP. The stream's position is kept.
     *
     * @throws IIOException when the file is a lossless WebP whose container or header libwebp would refuse
     */
    static LosslessWebp read(ImageInputStream in) throws IOException {
        in.mark();
        try {
            StillWebp still = StillWebp.read(in);
            if (still == null || !still.image().fourcc().equals("VP8L")) {
                return null;
            }
            LosslessWebp lossless = ofImageChunk(in, still.image());
            still.requireCanvas(lossless.width, lossless.height);
            return lossless;
        } finally {
            in.reset();
        }
    }

    /**
     * The picture in the {@code VP8L} chunk {@code image}, its header checked as libwebp's {@code VP8LGetInfo} checks
     * it.
     *
     * @throws IIOException when libwebp would refuse the header
     */
    static LosslessWebp ofImageChunk(ImageInputStream in, RiffChunk image) throws IOException {
        if (image.paddedSize() > Integer.MAX_VALUE - 16) {
            throw new IIOException("the VP8L chunk of " + image.size() + " bytes is too large");
        }
        // libwebp's demuxer hands the decoder the chunk's padding byte too, and the decoder may read it.
        byte[] vp8l = RiffChunk.read(in, image.payloadAt(), (int) image.paddedSize());
        int[] size = Vp8lDecoder.size(vp8l);
        if (size == null) {
            throw new IIOException("the VP8L chunk has no valid VP8L header");
        }
        return new LosslessWebp(vp8l, size[0], size[1]);
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
     * Decodes the picture, asking {@code stopRequested} every 16 rows of pixels whether to give up.
     *
     * @throws IIOException when the VP8L data is corrupt or truncated, or when asked to stop
     */
    RgbImage decode(BooleanSupplier stopRequested) throws IIOException {
        return Vp8lDecoder.decode(vp8l, stopRequested);
    }
}
