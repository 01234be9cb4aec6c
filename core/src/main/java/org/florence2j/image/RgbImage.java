package org.florence2j.image;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * An 8-bit RGB image held as packed bytes, row-major, channels last ({@code [height, width, 3]}, HWC): the layout
 * of {@code numpy.asarray(pil_image)} for a mode-"RGB" PIL image, which is what the reference's image processor
 * starts from. Immutable: the constructor copies nothing, so callers hand over an array they no longer touch, and
 * {@link #toByteArray()} returns a copy.
 */
public final class RgbImage {
    private final int width;
    private final int height;
    private final byte[] pixels; // [height, width, 3]

    /**
     * @param pixels {@code height × width × 3} bytes, R G B per pixel, rows top to bottom; taken over, not copied
     * @throws IllegalArgumentException if a dimension is not positive or the array has the wrong length
     */
    public RgbImage(int width, int height, byte[] pixels) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image dimensions must be positive: " + width + "x" + height);
        }
        if (pixels.length != (long) width * height * 3) {
            throw new IllegalArgumentException("a " + width + "x" + height + " RGB image needs "
                    + (long) width * height * 3 + " bytes, got " + pixels.length);
        }
        this.width = width;
        this.height = height;
        this.pixels = pixels;
    }

    /** Width in pixels. */
    public int width() {
        return width;
    }

    /** Height in pixels. */
    public int height() {
        return height;
    }

    /** Channel {@code channel} (0 = R, 1 = G, 2 = B) of pixel ({@code x}, {@code y}), 0..255. */
    public int sample(int x, int y, int channel) {
        return pixels[(y * width + x) * 3 + channel] & 0xFF;
    }

    /** A copy of the packed HWC bytes. */
    public byte[] toByteArray() {
        return pixels.clone();
    }

    /** A host U8 tensor {@code [height, width, 3]} in {@code owner}: the reference's {@code resized_uint8_hwc}. */
    public Tensor toTensor(Arena owner) {
        Tensor tensor = Tensor.allocateHost(DType.U8, Shape.of(height, width, 3), owner);
        MemorySegment.copy(pixels, 0, tensor.memory(), ValueLayout.JAVA_BYTE, 0, pixels.length);
        return tensor;
    }

    /** The packed bytes themselves, for this package's kernels, which only read them. */
    byte[] pixels() {
        return pixels;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof RgbImage that && width == that.width && height == that.height
                && Arrays.equals(pixels, that.pixels);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * width + height) + Arrays.hashCode(pixels);
    }

    @Override
    public String toString() {
        return "RgbImage[" + width + "x" + height + "]";
    }
}
