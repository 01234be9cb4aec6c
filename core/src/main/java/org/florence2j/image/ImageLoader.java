package org.florence2j.image;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.IIOException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.event.IIOReadProgressListener;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import org.florence2j.InvalidInputException;
import org.florence2j.error.IoErrors;

/**
 * Decodes image files and in-memory images into {@link RgbImage}, refusing anything that is not a whole, readable
 * image of a sane size with an {@link InvalidInputException} that names the input.
 *
 * <p>Formats: whatever {@link ImageIO} has a reader for, which with florence2j's dependencies is PNG, JPEG
 * (including CMYK/YCCK, through TwelveMonkeys, converted as PIL converts them: {@link CmykJpeg}), BMP, GIF, WBMP,
 * WebP and TIFF, and PBM, PGM and PPM ({@link PnmImage}). Multi-frame files (GIF, TIFF,
 * animated WebP) give their first frame, as PIL's {@code Image.open} does (a GIF's on its logical screen, as PIL
 * places it: see {@link GifScreen}; an animated WebP's on its canvas, the rest black, as libwebp's animation decoder
 * leaves it: see {@link AnimatedWebp}). EXIF orientation is not applied and an embedded ICC profile
 * is ignored, as PIL does neither. Pixels are converted to RGB as described in {@link RgbConversion}: alpha is
 * dropped, not composited. JPEGs decode byte for byte as PIL's libjpeg-turbo decodes them, and WebPs, lossy and
 * lossless, still ones and an animated one's first frame, as PIL's libwebp decodes them: those go to
 * {@link LossyWebp}, {@link LosslessWebp} and {@link AnimatedWebp}, not to TwelveMonkeys, whose VP8 decoder is not
 * libwebp's and whose VP8L decoder gives some pixels of alpha 0 other colours than libwebp's.
 *
 * <p>The pixel limit is checked from the header, before any pixel is decoded, so an image claiming to be huge
 * costs neither memory nor time; for a GIF or an animated WebP it is the screen's or the canvas's size that
 * counts. Truncated files are refused, as PIL refuses them: most decoders throw, but the JPEG decoder only warns
 * (and fills the missing part with grey), so its truncation warnings are treated as errors; a WebP file shorter
 * than its RIFF header declares is refused up front, and one whose image data ends early inside its chunk is refused
 * as libwebp refuses it. A decode that reads past the end of the data more often than its pixels could need is
 * refused, so that it always ends.
 */
public final class ImageLoader {
    /** Images above this many pixels are refused unless the caller sets another limit: 64 megapixels. */
    public static final long DEFAULT_MAX_PIXELS = 64L * 1000 * 1000;

    /**
     * Decoder warnings that mean pixels are missing. Other warnings (a CMYK JPEG without ICC profile, extraneous
     * bytes between JPEG markers) leave a whole image, which PIL would also return, so they are let through.
     */
    private static final List<String> TRUNCATION_WARNINGS = List.of("truncated", "premature end");

    private static final Runnable NEVER_STOPPED = () -> {};

    /** The most pixels an {@link RgbImage} holds, three bytes each in one Java array, whatever the loader's limit. */
    static final long MAX_RGB_PIXELS = (Integer.MAX_VALUE - 8) / 3;

    private final long maxPixels;

    /** A loader with the {@linkplain #DEFAULT_MAX_PIXELS default pixel limit}. */
    public ImageLoader() {
        this(DEFAULT_MAX_PIXELS);
    }

    /**
     * A loader that refuses images of more than {@code maxPixels} pixels (width × height). Whatever the limit, an
     * image of more than 715,827,879 pixels is refused too: its RGB bytes would not fit in one Java array.
     */
    public ImageLoader(long maxPixels) {
        if (maxPixels <= 0) {
            throw new IllegalArgumentException("maxPixels must be positive, got " + maxPixels);
        }
        this.maxPixels = maxPixels;
    }

    /** The largest width × height this loader accepts. */
    public long maxPixels() {
        return maxPixels;
    }

    /**
     * Decodes the image file {@code file}.
     *
     * @throws InvalidInputException naming the file when it is missing, unreadable, not an image, corrupt, empty
     *                               or over the pixel limit
     */
    public RgbImage load(Path file) {
        return load(file, NEVER_STOPPED);
    }

    /**
     * Decodes the image file {@code file}, running {@code stopCheck} as the decoder reports progress (every few rows
     * for PNG, JPEG, BMP and GIF, every 16 rows for WebP, lossy or lossless, still or animated): an unchecked exception it throws
     * stops the decoding and is rethrown as it is, so that a caller's timeout or interrupt need not wait for a large
     * photo to be decoded (an 8000 × 8000 JPEG takes one to two seconds).
     *
     * @throws InvalidInputException naming the file when it is missing, unreadable, not an image, corrupt, empty
     *                               or over the pixel limit
     */
    public RgbImage load(Path file, Runnable stopCheck) {
        String name = "image file '" + file + "'";
        requireRegularFile(file, name);
        // Opened here, not by ImageIO, whose file streams turn every failure to open into "Can't create cache
        // file!" and whose file channel fails on a caller's pending interrupt, which made a valid file "not an
        // image" (the stream of Files.newInputStream ignores interrupts). The memory cache stands in for ImageIO's
        // temporary-file cache, as for any other stream.
        try (InputStream in = Files.newInputStream(file)) {
            return decode(new MemoryCacheImageInputStream(in), name, stopCheck);
        } catch (IOException e) {
            throw new InvalidInputException(name + " cannot be read: " + IoErrors.reason(e), e);
        }
    }

    /** Refuses a missing file, and a folder, pipe or device, which is never opened: a pipe would block. */
    private static void requireRegularFile(Path file, String name) {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new InvalidInputException(name + " does not exist", e);
        } catch (IOException e) {
            throw new InvalidInputException(name + " cannot be read: " + IoErrors.reason(e), e);
        }
        if (!attributes.isRegularFile()) {
            throw new InvalidInputException(name + " is not a regular file");
        }
    }

    /**
     * Decodes an encoded image (the bytes of a PNG, JPEG, … file).
     *
     * @param name what to call the input in error messages, e.g. the request field it came from
     * @throws InvalidInputException naming {@code name} when the bytes are not a whole image of a sane size
     */
    public RgbImage load(byte[] encoded, String name) {
        return load(encoded, name, NEVER_STOPPED);
    }

    /**
     * Decodes an encoded image, running {@code stopCheck} as {@link #load(Path, Runnable)} does.
     *
     * @param name what to call the input in error messages, e.g. the request field it came from
     * @throws InvalidInputException naming {@code name} when the bytes are not a whole image of a sane size
     */
    public RgbImage load(byte[] encoded, String name, Runnable stopCheck) {
        return decode(new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded)), "image '" + name + "'",
                stopCheck);
    }

    /**
     * Decodes an encoded image read from {@code in}, which is read as far as the image goes and not closed.
     *
     * @param name what to call the input in error messages
     * @throws InvalidInputException naming {@code name} when the stream is not a whole image of a sane size
     */
    public RgbImage load(InputStream in, String name) {
        // A memory cache, not ImageIO's default temporary file, so that decoding never touches the disk.
        return decode(new MemoryCacheImageInputStream(in), "image '" + name + "'", NEVER_STOPPED);
    }

    /**
     * Converts an already decoded image to RGB.
     *
     * @param name what to call the input in error messages
     * @throws InvalidInputException naming {@code name} when the image is empty, over the pixel limit or has a colour
     *                               channel of no bits
     */
    public RgbImage load(BufferedImage image, String name) {
        String label = "image '" + name + "'";
        checkSize(image.getWidth(), image.getHeight(), label);
        requireColourBits(image, label);
        return RgbConversion.toRgb(image);
    }

    private RgbImage decode(ImageInputStream cache, String name, Runnable stopCheck) {
        return decode(cache, name, new StopWhenAsked(stopCheck));
    }

    private RgbImage decode(ImageInputStream cache, String name, StopWhenAsked stop) {
        try (EndBoundedImageInputStream stream = new EndBoundedImageInputStream(cache, stop::stopRequested)) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(stream);
            if (!readers.hasNext()) {
                return decodePnm(stream, name, stop);
            }
            ImageReader reader = readers.next();
            try {
                return read(reader, stream, name, stop);
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new InvalidInputException(name + " cannot be read: " + IoErrors.reason(e), e);
        }
    }

    private RgbImage read(ImageReader reader, EndBoundedImageInputStream stream, String name, StopWhenAsked stop) {
        String format = formatName(reader);
        List<String> warnings = new ArrayList<>();
        BufferedImage image;
        try {
            if (format.equals("WEBP")) {
                RgbImage webp = decodeWebp(stream, name, stop);
                if (webp != null) {
                    return webp;
                }
            }
            CmykJpeg cmyk = format.equals("JPEG") ? CmykJpeg.read(stream) : null;
            reader.setInput(stream, true, true);
            checkSize(reader.getWidth(0), reader.getHeight(0), name);
            GifScreen screen = format.equals("GIF") ? GifScreen.of(reader) : null;
            if (screen != null) {
                checkSize(screen.width(), screen.height(), name);
            }
            stream.allowFor((long) reader.getWidth(0) * reader.getHeight(0));
            reader.addIIOReadWarningListener(new WarningCollector(warnings));
            reader.addIIOReadProgressListener(stop);
            if (cmyk != null) {
                RgbImage decoded = cmyk.decode(reader);
                refuseIfTruncated(warnings, name, format, stop);
                return decoded;
            }
            image = reader.read(0, screen != null ? GifScreen.eightBitIndices(reader) : storedSamples(reader));
            if (screen != null) {
                image = screen.place(image);
            } else if (format.equals("PNG")) {
                image = PngPalette.asStored(reader, image);
            }
        } catch (InvalidInputException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            stop.rethrowIfStopped();
            // Decoders signal corrupt data with IIOException but also with unchecked exceptions of their own.
            throw new InvalidInputException(name + " is not a valid " + format + " image (corrupt or truncated): "
                    + e, e);
        } catch (OutOfMemoryError e) {
            // A small file may ask for much (a lossless WebP's prefix-code groups, say); the heap stays usable.
            throw new InvalidInputException(name + " needs more memory to decode than is left: " + e.getMessage(), e);
        }
        refuseIfTruncated(warnings, name, format, stop);
        checkSize(image.getWidth(), image.getHeight(), name);
        requireColourBits(image, name);
        return RgbConversion.toRgb(image);
    }

    /** A Netpbm file, which no ImageIO reader here reads ({@link PnmImage}); other data is refused. */
    private RgbImage decodePnm(EndBoundedImageInputStream stream, String name, StopWhenAsked stop)
            throws IOException {
        try {
            PnmImage pnm = PnmImage.read(stream);
            if (pnm == null) {
                throw new InvalidInputException(name + " is not an image in a readable format "
                        + "(PNG, JPEG, BMP, GIF, WebP, TIFF, PBM/PGM/PPM)");
            }
            checkSize(pnm.width(), pnm.height(), name);
            stream.allowFor((long) pnm.width() * pnm.height());
            return pnm.decode(stop::stopRequested);
        } catch (IIOException e) {
            stop.rethrowIfStopped();
            throw new InvalidInputException(name + " is not a valid PNM image (corrupt or truncated): "
                    + e.getMessage(), e);
        } catch (OutOfMemoryError e) {
            throw new InvalidInputException(name + " needs more memory to decode than is left: " + e.getMessage(), e);
        }
    }

    private static void refuseIfTruncated(List<String> warnings, String name, String format, StopWhenAsked stop) {
        stop.rethrowIfStopped();
        for (String warning : warnings) {
            String lowerCase = warning.toLowerCase(Locale.ROOT);
            if (TRUNCATION_WARNINGS.stream().anyMatch(lowerCase::contains)) {
                throw new InvalidInputException(name + " is not a valid " + format + " image (truncated): "
                        + String.join("; ", warnings));
            }
        }
    }

    /**
     * Decodes a WebP the way Pillow's libwebp does, as TwelveMonkeys' reader would not: a still lossy or lossless one,
     * or an animated one (its first frame on the canvas). Null for a file that is none of these.
     */
    private RgbImage decodeWebp(EndBoundedImageInputStream stream, String name, StopWhenAsked stop)
            throws IOException {
        requireWholeRiff(stream, name);
        // TwelveMonkeys' VP8 and VP8L decoders are not libwebp's; ours are.
        LossyWebp lossy = LossyWebp.read(stream);
        if (lossy != null) {
            checkSize(lossy.width(), lossy.height(), name);
            return lossy.decode(stop::stopRequested);
        }
        LosslessWebp lossless = LosslessWebp.read(stream);
        if (lossless != null) {
            checkSize(lossless.width(), lossless.height(), name);
            return lossless.decode(stop::stopRequested);
        }
        AnimatedWebp animated = AnimatedWebp.read(stream);
        if (animated == null) {
            return null;
        }
        checkSize(animated.canvasWidth(), animated.canvasHeight(), name);
        return animated.decode(stop::stopRequested);
    }

    /**
     * Asks for the samples as stored when they are RGB in a colour space of the file's own: PIL ignores an embedded
     * ICC profile, but the JPEG and WebP readers convert to sRGB through it by default (a Display P3 photo's colours
     * would shift). A CMYK JPEG does not come here ({@link CmykJpeg}); the TIFF reader gives CMYK as stored, which
     * {@link RgbConversion} converts as PIL does.
     */
    private static ImageReadParam storedSamples(ImageReader reader) throws IOException {
        ImageReadParam param = reader.getDefaultReadParam();
        ImageTypeSpecifier stored = reader.getRawImageType(0);
        if (stored != null && isUnconvertedRgb(stored.getColorModel().getColorSpace())) {
            for (Iterator<ImageTypeSpecifier> offered = reader.getImageTypes(0); offered.hasNext(); ) {
                if (offered.next().equals(stored)) {
                    param.setDestinationType(stored);
                    break;
                }
            }
        }
        return param;
    }

    private static boolean isUnconvertedRgb(ColorSpace space) {
        return space.getType() == ColorSpace.TYPE_RGB && !space.isCS_sRGB();
    }

    /** A RIFF file (WebP) starts "RIFF", then its length after these 8 bytes (little-endian); all must be there. */
    private static void requireWholeRiff(ImageInputStream stream, String name) throws IOException {
        stream.mark();
        try {
            stream.setByteOrder(ByteOrder.LITTLE_ENDIAN);
            stream.skipBytes(4);
            long declared = 8 + stream.readUnsignedInt();
            stream.seek(declared - 1);
            if (stream.read() < 0) {
                throw new InvalidInputException(name + " is not a valid WEBP image (truncated): its header declares "
                        + declared + " bytes");
            }
        } catch (EOFException e) {
            throw new InvalidInputException(name + " is not a valid WEBP image (truncated header)", e);
        } finally {
            stream.reset();
            stream.setByteOrder(ByteOrder.BIG_ENDIAN);
        }
    }

    private void checkSize(int width, int height, String name) {
        if (width <= 0 || height <= 0) {
            throw new InvalidInputException(name + " has no pixels (" + width + "x" + height + ")");
        }
        long pixels = (long) width * height;
        if (pixels > maxPixels) {
            throw new InvalidInputException(name + " is " + width + "x" + height + " = " + pixels
                    + " pixels, over the limit of " + maxPixels + " pixels");
        }
        if (pixels > MAX_RGB_PIXELS) {
            throw new InvalidInputException(name + " is " + width + "x" + height + " = " + pixels
                    + " pixels, more than the " + MAX_RGB_PIXELS + " whose RGB bytes fit in one Java array");
        }
    }

    /**
     * Refuses a colour channel of no bits, which a BMP gets from a bit mask of 0: it holds no colour, and PIL
     * refuses such a layout too.
     */
    private static void requireColourBits(BufferedImage image, String name) {
        int[] bits = image.getColorModel().getComponentSize();
        if (bits == null) {
            return; // a ColorModel made with ColorModel(int) keeps no per-channel sizes to check
        }
        for (int channel = 0; channel < bits.length; channel++) {
            if (bits[channel] <= 0) {
                throw new InvalidInputException(name + " is not a valid image: its colour channel " + channel
                        + " has no bits (a bit mask of 0)");
            }
        }
    }

    private static String formatName(ImageReader reader) {
        try {
            return reader.getFormatName().toUpperCase(Locale.ROOT);
        } catch (IOException e) {
            return reader.getOriginatingProvider().getFormatNames()[0].toUpperCase(Locale.ROOT);
        }
    }

    /**
     * Runs a caller's stop check as the decoder reports progress, as it reads past the end of the data (where a
     * decoder that reports no progress may be stuck), and as the WebP decoders ({@link LossyWebp},
     * {@link LosslessWebp}, {@link AnimatedWebp}) ask.
     * What the check throws aborts the decoder or ends the read, and is rethrown once the decoder has returned: never
     * thrown through its code.
     */
    private static final class StopWhenAsked implements IIOReadProgressListener {
        private final Runnable stopCheck;
        private RuntimeException stop;

        StopWhenAsked(Runnable stopCheck) {
            this.stopCheck = stopCheck;
        }

        /** Runs the check unless it has already stopped the decode; whether the decode is to stop. */
        boolean stopRequested() {
            if (stop == null) {
                try {
                    stopCheck.run();
                } catch (RuntimeException e) {
                    stop = e;
                }
            }
            return stop != null;
        }

        @Override
        public void imageProgress(ImageReader source, float percentageDone) {
            if (stop == null && stopRequested()) {
                source.abort();
            }
        }

        void rethrowIfStopped() {
            if (stop != null) {
                throw stop;
            }
        }

        @Override
        public void sequenceStarted(ImageReader source, int minIndex) {}

        @Override
        public void sequenceComplete(ImageReader source) {}

        @Override
        public void imageStarted(ImageReader source, int imageIndex) {}

        @Override
        public void imageComplete(ImageReader source) {}

        @Override
        public void thumbnailStarted(ImageReader source, int imageIndex, int thumbnailIndex) {}

        @Override
        public void thumbnailProgress(ImageReader source, float percentageDone) {}

        @Override
        public void thumbnailComplete(ImageReader source) {}

        @Override
        public void readAborted(ImageReader source) {}
    }

    private record WarningCollector(List<String> warnings) implements IIOReadWarningListener {
        @Override
        public void warningOccurred(ImageReader source, String warning) {
            warnings.add(warning);
        }
    }
}
