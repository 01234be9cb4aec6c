package org.florence2j.image;

import java.awt.image.BufferedImage;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.util.Arrays;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.metadata.IIOMetadata;
import org.w3c.dom.Node;

/**
 * Where PIL puts a GIF's first frame: on the file's logical screen, grown to hold the frame where the frame reaches
 * past it, at the frame's offset, the rest of the screen filled with the frame's transparent index or else index 0
 * (PIL's {@code GifImagePlugin}). An image reader gives the frame alone, so a GIF whose first frame is smaller than
 * its screen would otherwise come out smaller than PIL makes it. A GIF with no colour table at all is gray to PIL
 * (index i is gray level i), where the reader would give it a palette of its own; so is one whose tables hold gray
 * levels 0, 1, 2... (PIL's mode L, where an index past the table is its gray level, not black), and a frame whose
 * local table does but the global one not takes the global one.
 *
 * @param width     the screen's width, grown to the frame's right edge
 * @param height    the screen's height, grown to the frame's bottom edge
 * @param left      the frame's offset from the screen's left edge
 * @param top       the frame's offset from the screen's top edge
 * @param fillIndex the palette index of the screen around the frame
 * @param palette   the palette PIL gives the frame where it is not the frame's own (gray levels, or the global
 *                  table where the local one is gray levels), else null
 */
record GifScreen(int width, int height, int left, int top, int fillIndex, IndexColorModel palette) {
    private static final String STREAM_FORMAT = "javax_imageio_gif_stream_1.0";
    private static final String IMAGE_FORMAT = "javax_imageio_gif_image_1.0";
    private static final IndexColorModel GRAY_LEVELS = grayLevels();

    /** The screen of the GIF {@code reader} reads (its input set), from the headers before the first frame's data. */
    static GifScreen of(ImageReader reader) throws IOException {
        IIOMetadata stream = reader.getStreamMetadata();
        IIOMetadata image = reader.getImageMetadata(0);
        Node streamTree = stream.getAsTree(STREAM_FORMAT);
        Node screen = MetadataNodes.child(streamTree, "LogicalScreenDescriptor");
        Node imageTree = image.getAsTree(IMAGE_FORMAT);
        Node frame = MetadataNodes.child(imageTree, "ImageDescriptor");
        if (frame == null) {
            throw new IOException("the GIF's first frame has no image descriptor");
        }
        int left = MetadataNodes.intAttribute(frame, "imageLeftPosition");
        int top = MetadataNodes.intAttribute(frame, "imageTopPosition");
        int width = Math.max(screen == null ? 0 : MetadataNodes.intAttribute(screen, "logicalScreenWidth"),
                left + MetadataNodes.intAttribute(frame, "imageWidth"));
        int height = Math.max(screen == null ? 0 : MetadataNodes.intAttribute(screen, "logicalScreenHeight"),
                top + MetadataNodes.intAttribute(frame, "imageHeight"));
        Node control = MetadataNodes.child(imageTree, "GraphicControlExtension");
        boolean transparent = control != null
                && "TRUE".equals(MetadataNodes.attribute(control, "transparentColorFlag"));
        int fillIndex = transparent ? MetadataNodes.intAttribute(control, "transparentColorIndex") : 0;
        // PIL takes a table of gray levels 0, 1, 2... as none (mode L, where an index past the table is that gray
        // level, not black); a frame whose local table is such takes the global table where that is not.
        IndexColorModel palette = null;
        Node local = MetadataNodes.child(imageTree, "LocalColorTable");
        Node global = MetadataNodes.child(streamTree, "GlobalColorTable");
        if (local == null || grayLevels(local)) {
            palette = global == null || grayLevels(global) ? GRAY_LEVELS : local == null ? null : palette(global);
        }
        return new GifScreen(width, height, left, top, fillIndex, palette);
    }

    /**
     * A read of the first frame into eight bits a pixel, so that the indices an LZW code size above the palette's
     * allows survive (PIL shows those past the palette black, {@link RgbConversion}); the reader's own image packs
     * as many bits as its palette has entries for and keeps only those. The default read where the frame has no
     * palette.
     */
    static ImageReadParam eightBitIndices(ImageReader reader) throws IOException {
        ImageReadParam param = reader.getDefaultReadParam();
        ImageTypeSpecifier stored = reader.getRawImageType(0);
        if (stored != null && stored.getColorModel() instanceof IndexColorModel palette) {
            int size = palette.getMapSize();
            byte[] reds = new byte[size];
            byte[] greens = new byte[size];
            byte[] blues = new byte[size];
            palette.getReds(reds);
            palette.getGreens(greens);
            palette.getBlues(blues);
            IndexColorModel eightBits = new IndexColorModel(8, size, reds, greens, blues);
            param.setDestination(new BufferedImage(eightBits,
                    eightBits.createCompatibleWritableRaster(reader.getWidth(0), reader.getHeight(0)), false, null));
        }
        return param;
    }

    /** The screen with {@code frame} on it: {@code frame} itself when it covers the screen and has a palette. */
    BufferedImage place(BufferedImage frame) {
        if (frame.getWidth() == width && frame.getHeight() == height && this.palette == null
                || !(frame.getColorModel() instanceof IndexColorModel framePalette)) {
            return frame;
        }
        IndexColorModel palette = this.palette != null ? this.palette : framePalette;
        // Eight bits a sample hold any index a GIF's palette has, whatever the frame's own raster packs.
        WritableRaster screen = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, width, height, 1, null);
        Arrays.fill(((DataBufferByte) screen.getDataBuffer()).getData(), (byte) fillIndex);
        int[] row = new int[frame.getWidth()];
        Raster pixels = frame.getRaster();
        for (int y = 0; y < frame.getHeight(); y++) {
            pixels.getSamples(0, y, frame.getWidth(), 1, 0, row);
            screen.setSamples(left, top + y, frame.getWidth(), 1, 0, row);
        }
        return new BufferedImage(palette, screen, false, null);
    }

    /** Whether every entry of {@code table} (a GIF metadata colour table) is gray level its index, as PIL checks. */
    private static boolean grayLevels(Node table) throws IOException {
        for (Node entry = table.getFirstChild(); entry != null; entry = entry.getNextSibling()) {
            int index = MetadataNodes.intAttribute(entry, "index");
            if (MetadataNodes.intAttribute(entry, "red") != index || MetadataNodes.intAttribute(entry, "green") != index
                    || MetadataNodes.intAttribute(entry, "blue") != index) {
                return false;
            }
        }
        return true;
    }

    /** The colours of {@code table} (a GIF metadata colour table), 8 bits an index. */
    private static IndexColorModel palette(Node table) throws IOException {
        byte[] reds = new byte[256];
        byte[] greens = new byte[256];
        byte[] blues = new byte[256];
        int size = 0;
        for (Node entry = table.getFirstChild(); entry != null; entry = entry.getNextSibling()) {
            int index = MetadataNodes.intAttribute(entry, "index");
            reds[index] = (byte) MetadataNodes.intAttribute(entry, "red");
            greens[index] = (byte) MetadataNodes.intAttribute(entry, "green");
            blues[index] = (byte) MetadataNodes.intAttribute(entry, "blue");
            size = Math.max(size, index + 1);
        }
        return new IndexColorModel(8, size, reds, greens, blues);
    }

    private static IndexColorModel grayLevels() {
        byte[] levels = new byte[256];
        for (int level = 0; level < levels.length; level++) {
            levels[level] = (byte) level;
        }
        return new IndexColorModel(8, levels.length, levels, levels, levels);
    }
}
