package org.florence2j.image;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.awt.image.SampleModel;
import java.awt.image.SinglePixelPackedSampleModel;
import java.awt.image.WritableRaster;
import org.junit.jupiter.api.Test;

/** Conversions of caller-made images that no image reader produces. */
class RgbConversionTest {
    private static final ImageLoader LOADER = new ImageLoader();

    /**
     * A ColorModel subclass made with {@code ColorModel(int)} keeps no per-channel sizes; its own getters say what
     * each pixel is. Here a pixel {@code 0xRRGGBB} is stored as {@code 0xBBGGRR}.
     */
    private static final class SwappedColorModel extends ColorModel {
        SwappedColorModel() {
            super(24);
        }

        @Override
        public int getRed(int pixel) {
            return pixel & 0xFF;
        }

        @Override
        public int getGreen(int pixel) {
            return (pixel >> 8) & 0xFF;
        }

        @Override
        public int getBlue(int pixel) {
            return (pixel >> 16) & 0xFF;
        }

        @Override
        public int getAlpha(int pixel) {
            return 255;
        }

        @Override
        public boolean isCompatibleRaster(Raster raster) {
            return raster.getTransferType() == DataBuffer.TYPE_INT && raster.getNumBands() == 1;
        }

        @Override
        public boolean isCompatibleSampleModel(SampleModel sampleModel) {
            return sampleModel.getTransferType() == DataBuffer.TYPE_INT && sampleModel.getNumBands() == 1;
        }
    }

    @Test
    void colorModelWithoutChannelSizesIsAskedForItsColours() {
        int width = 3;
        int height = 2;
        WritableRaster raster = Raster.createWritableRaster(new SinglePixelPackedSampleModel(DataBuffer.TYPE_INT,
                width, height, new int[] {0xFFFFFF}), null);
        byte[] expected = new byte[width * height * 3];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int red = 40 * x + 1;
                int green = 100 * y + 2;
                int blue = 7 * x + 11 * y + 3;
                raster.setSample(x, y, 0, blue << 16 | green << 8 | red);
                int at = (y * width + x) * 3;
                expected[at] = (byte) red;
                expected[at + 1] = (byte) green;
                expected[at + 2] = (byte) blue;
            }
        }
        BufferedImage image = new BufferedImage(new SwappedColorModel(), raster, false, null);
        assertEquals(new RgbImage(width, height, expected), LOADER.load(image, "swapped"));
    }
}
