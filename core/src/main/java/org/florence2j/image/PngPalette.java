package org.florence2j.image;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.IOException;
import javax.imageio.ImageReader;
import org.w3c.dom.Node;

/**
 * A palette PNG's colours as PIL reads them: only the entries its {@code PLTE} chunk holds, so that a pixel whose
 * index lies past them is black ({@link RgbConversion}). ImageIO's PNG reader pads a short palette to the bit depth's
 * size with the last entry instead.
 */
final class PngPalette {
    private static final String IMAGE_FORMAT = "javax_imageio_png_1.0";

    private PngPalette() {}

    /**
     * {@code image}, which {@code reader} decoded, with a palette of the file's own entries only; {@code image} itself
     * when it has no palette or the file's fills it.
     */
    static BufferedImage asStored(ImageReader reader, BufferedImage image) throws IOException {
        if (!(image.getColorModel() instanceof IndexColorModel padded)) {
            return image;
        }
        Node plte = MetadataNodes.child(reader.getImageMetadata(0).getAsTree(IMAGE_FORMAT), "PLTE");
        int entries = plte == null ? padded.getMapSize() : plte.getChildNodes().getLength();
        if (entries == 0 || entries >= padded.getMapSize()) {
            return image;
        }
        byte[] red = new byte[entries];
        byte[] green = new byte[entries];
        byte[] blue = new byte[entries];
        for (Node entry = plte.getFirstChild(); entry != null; entry = entry.getNextSibling()) {
            int index = MetadataNodes.intAttribute(entry, "index");
            if (index >= 0 && index < entries) {
                red[index] = (byte) MetadataNodes.intAttribute(entry, "red");
                green[index] = (byte) MetadataNodes.intAttribute(entry, "green");
                blue[index] = (byte) MetadataNodes.intAttribute(entry, "blue");
            }
        }
        IndexColorModel stored = new IndexColorModel(padded.getPixelSize(), entries, red, green, blue);
        return new BufferedImage(stored, image.getRaster(), false, null);
    }
}
