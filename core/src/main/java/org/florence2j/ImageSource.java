package org.florence2j;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import org.florence2j.image.ImageLoader;
import org.florence2j.image.RgbImage;

/**
 * Where a request's image comes from: a file, encoded bytes, a {@link BufferedImage}, or already-decoded RGB.
 * Every source carries a name used in results and error messages.
 */
public sealed interface ImageSource {
    /** The name results and errors use for this image (a file path, or a caller-given label). */
    String name();

    /** Decodes the image to RGB with {@code loader}'s limits. */
    default RgbImage decode(ImageLoader loader) {
        return decode(loader, () -> {});
    }

    /**
     * Decodes the image to RGB with {@code loader}'s limits, running {@code stopCheck} as the decoder reports
     * progress: an unchecked exception it throws stops the decoding and is rethrown as it is
     * ({@link ImageLoader#load(Path, Runnable)}). Sources already decoded never run it.
     */
    RgbImage decode(ImageLoader loader, Runnable stopCheck);

    /** Refuses a missing argument when the source is made, not when a request decodes it. */
    private static void requirePresent(Object value, String what) {
        if (value == null) {
            throw new IllegalArgumentException("ImageSource: the " + what + " is required");
        }
    }

    /** The image file {@code file}, named by its path. */
    static ImageSource of(Path file) {
        return new FromFile(file);
    }

    /** An encoded image (the bytes of a PNG, JPEG, ... file) called {@code name}. */
    static ImageSource of(byte[] encoded, String name) {
        return new FromBytes(encoded, name);
    }

    /** A decoded AWT image called {@code name}. */
    static ImageSource of(BufferedImage image, String name) {
        return new FromBufferedImage(image, name);
    }

    /** Already-decoded RGB called {@code name}. */
    static ImageSource of(RgbImage image, String name) {
        return new FromRgb(image, name);
    }

    /** An image file (PNG, JPEG, BMP, GIF, WebP, TIFF, PBM/PGM/PPM). */
    record FromFile(Path file) implements ImageSource {
        /**
         * Checks the arguments.
         *
         * @throws IllegalArgumentException when an argument is missing
         */
        public FromFile {
            requirePresent(file, "file");
        }

        @Override
        public String name() {
            return file.toString();
        }

        @Override
        public RgbImage decode(ImageLoader loader, Runnable stopCheck) {
            return loader.load(file, stopCheck);
        }
    }

    /** An encoded image held in memory. */
    record FromBytes(byte[] encoded, String name) implements ImageSource {
        /**
         * Checks the arguments.
         *
         * @throws IllegalArgumentException when an argument is missing
         */
        public FromBytes {
            requirePresent(encoded, "encoded image");
            requirePresent(name, "name");
        }

        @Override
        public RgbImage decode(ImageLoader loader, Runnable stopCheck) {
            return loader.load(encoded, name, stopCheck);
        }
    }

    /** A decoded AWT image, converted to RGB. */
    record FromBufferedImage(BufferedImage image, String name) implements ImageSource {
        /**
         * Checks the arguments.
         *
         * @throws IllegalArgumentException when an argument is missing
         */
        public FromBufferedImage {
            requirePresent(image, "image");
            requirePresent(name, "name");
        }

        @Override
        public RgbImage decode(ImageLoader loader, Runnable stopCheck) {
            return loader.load(image, name);
        }
    }

    /** Packed RGB pixels, used as they are. */
    record FromRgb(RgbImage image, String name) implements ImageSource {
        /**
         * Checks the arguments.
         *
         * @throws IllegalArgumentException when an argument is missing
         */
        public FromRgb {
            requirePresent(image, "image");
            requirePresent(name, "name");
        }

        @Override
        public RgbImage decode(ImageLoader loader, Runnable stopCheck) {
            long pixels = (long) image.width() * image.height();
            if (pixels > loader.maxPixels()) {
                throw new InvalidInputException(name + ": " + image.width() + "x" + image.height()
                        + " is over the limit of " + loader.maxPixels() + " pixels");
            }
            return image;
        }
    }
}
