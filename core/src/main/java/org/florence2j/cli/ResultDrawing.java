package org.florence2j.cli;

import java.awt.AlphaComposite;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import javax.imageio.ImageIO;
import javax.imageio.stream.ImageOutputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import org.florence2j.Caption;
import org.florence2j.Detections;
import org.florence2j.Florence2Result;
import org.florence2j.InvalidInputException;
import org.florence2j.OcrRegions;
import org.florence2j.Polygons;
import org.florence2j.error.IoErrors;
import org.florence2j.image.ImageLoader;
import org.florence2j.image.RgbImage;
import org.florence2j.task.Box;
import org.florence2j.task.Polygon;

/**
 * {@code run --draw}: the original image with the result drawn on it in Java2D: boxes, filled polygons and OCR
 * quadrilaterals in a colour per object, each labelled; a text answer written in a band across the top.
 */
final class ResultDrawing {
    /** What {@link #format} takes, for messages. */
    static final String FORMATS = "the drawing is PNG or JPEG: name the file .png, .jpg or .jpeg";

    private static final Color[] PALETTE = {new Color(0xE6194B), new Color(0x3CB44B), new Color(0x4363D8),
        new Color(0xF58231), new Color(0x911EB4), new Color(0x42D4F4), new Color(0xF032E6), new Color(0x9A6324)};

    private final Graphics2D graphics;
    private final float stroke;

    private ResultDrawing(Graphics2D graphics, int width, int height) {
        this.graphics = graphics;
        int shortSide = Math.min(width, height);
        this.stroke = Math.max(1.5f, shortSide / 250f);
        graphics.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        graphics.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        graphics.setFont(new Font(Font.SANS_SERIF, Font.BOLD, Math.max(10, shortSide / 30)));
    }

    /** The ImageIO format a drawing named {@code out} is written in, by its extension; empty for another name. */
    static Optional<String> format(Path out) {
        String name = out.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".png")) {
            return Optional.of("png");
        }
        return name.endsWith(".jpg") || name.endsWith(".jpeg") ? Optional.of("jpeg") : Optional.empty();
    }

    /**
     * Draws {@code result} on the image file {@code image} and writes it to {@code out} (PNG, or JPEG for a
     * {@code .jpg}/{@code .jpeg} name: {@link #format}).
     *
     * @throws InvalidInputException when the image cannot be read again or {@code out} cannot be written
     */
    static void write(Florence2Result result, Path image, Path out) {
        RgbImage rgb = new ImageLoader().load(image);
        BufferedImage canvas = toBufferedImage(rgb);
        Graphics2D graphics = canvas.createGraphics();
        try {
            new ResultDrawing(graphics, canvas.getWidth(), canvas.getHeight()).draw(result, canvas.getWidth());
        } finally {
            graphics.dispose();
        }
        String format = format(out).orElseThrow(() -> new InvalidInputException("--draw " + out + ": " + FORMATS));
        // Not ImageIO.write(File), which deletes the file first and, when it cannot open it, prints a stack trace
        // and says only "Can't create an ImageOutputStream!". The memory cache stands in for ImageIO's
        // temporary-file cache.
        try (OutputStream file = Files.newOutputStream(out);
                ImageOutputStream stream = new MemoryCacheImageOutputStream(file)) {
            if (!ImageIO.write(canvas, format, stream)) {
                throw new InvalidInputException("--draw " + out + ": no " + format + " writer available");
            }
        } catch (IOException e) {
            throw new InvalidInputException("--draw " + out + " cannot be written: " + IoErrors.reason(e), e);
        }
    }

    private static BufferedImage toBufferedImage(RgbImage rgb) {
        BufferedImage canvas = new BufferedImage(rgb.width(), rgb.height(), BufferedImage.TYPE_INT_RGB);
        byte[] pixels = rgb.toByteArray(); // packed HWC RGB
        int[] row = new int[rgb.width()];
        for (int y = 0; y < rgb.height(); y++) {
            for (int x = 0; x < rgb.width(); x++) {
                int at = (y * rgb.width() + x) * 3;
                row[x] = (pixels[at] & 0xFF) << 16 | (pixels[at + 1] & 0xFF) << 8 | (pixels[at + 2] & 0xFF);
            }
            canvas.setRGB(0, y, rgb.width(), 1, row, 0, rgb.width());
        }
        return canvas;
    }

    private void draw(Florence2Result result, int width) {
        switch (result) {
            case Caption caption -> banner(caption.text().strip(), width);
            case Detections detections -> {
                for (int i = 0; i < detections.boxes().size(); i++) {
                    box(detections.boxes().get(i), detections.labels().get(i), PALETTE[i % PALETTE.length]);
                }
                int offset = detections.boxes().size();
                for (int i = 0; i < detections.polygons().size(); i++) {
                    polygons(detections.polygons().get(i), detections.polygonLabels().get(i),
                            PALETTE[(offset + i) % PALETTE.length]);
                }
            }
            case Polygons polygons -> {
                for (int i = 0; i < polygons.polygons().size(); i++) {
                    polygons(polygons.polygons().get(i), polygons.labels().get(i), PALETTE[i % PALETTE.length]);
                }
            }
            case OcrRegions ocr -> {
                for (int i = 0; i < ocr.quadBoxes().size(); i++) {
                    Color color = PALETTE[i % PALETTE.length];
                    Path2D outline = outline(ocr.quadBoxes().get(i));
                    graphics.setColor(color);
                    graphics.setStroke(new BasicStroke(stroke));
                    graphics.draw(outline);
                    label(ocr.texts().get(i), color, outline.getBounds().x, outline.getBounds().y);
                }
            }
        }
    }

    private void box(Box box, String label, Color color) {
        graphics.setColor(color);
        graphics.setStroke(new BasicStroke(stroke));
        graphics.draw(new Rectangle2D.Float(box.xMin(), box.yMin(), box.xMax() - box.xMin(),
                box.yMax() - box.yMin()));
        label(label, color, Math.round(box.xMin()), Math.round(box.yMin()));
    }

    private void polygons(List<Polygon> polygons, String label, Color color) {
        int labelX = Integer.MAX_VALUE;
        int labelY = Integer.MAX_VALUE;
        for (Polygon polygon : polygons) {
            Path2D outline = outline(polygon);
            graphics.setColor(color);
            graphics.setComposite(AlphaComposite.getInstance(AlphaComposite.SRC_OVER, 0.35f));
            graphics.fill(outline);
            graphics.setComposite(AlphaComposite.SrcOver);
            graphics.setStroke(new BasicStroke(stroke));
            graphics.draw(outline);
            labelX = Math.min(labelX, outline.getBounds().x);
            labelY = Math.min(labelY, outline.getBounds().y);
        }
        if (!polygons.isEmpty()) {
            label(label, color, labelX, labelY);
        }
    }

    private static Path2D outline(Polygon polygon) {
        List<Float> xy = polygon.coordinates();
        Path2D.Float path = new Path2D.Float();
        for (int i = 0; i + 1 < xy.size(); i += 2) {
            if (i == 0) {
                path.moveTo(xy.get(i), xy.get(i + 1));
            } else {
                path.lineTo(xy.get(i), xy.get(i + 1));
            }
        }
        path.closePath();
        return path;
    }

    /** A label in white on a tag of {@code color}, above the point (below it when the top edge is too near). */
    private void label(String text, Color color, int x, int y) {
        String label = text.strip();
        if (label.isEmpty()) {
            return;
        }
        FontMetrics metrics = graphics.getFontMetrics();
        int tagWidth = metrics.stringWidth(label) + 6;
        int tagHeight = metrics.getHeight();
        int top = y - tagHeight >= 0 ? y - tagHeight : y;
        int left = Math.max(0, x);
        graphics.setColor(color);
        graphics.fillRect(left, top, tagWidth, tagHeight);
        graphics.setColor(Color.WHITE);
        graphics.drawString(label, left + 3, top + metrics.getAscent());
    }

    /** A text answer in a translucent band across the top, cut with an ellipsis when wider than the image. */
    private void banner(String text, int width) {
        FontMetrics metrics = graphics.getFontMetrics();
        String shown = text;
        while (shown.length() > 1 && metrics.stringWidth(shown) > width - 8) {
            shown = shown.substring(0, shown.length() - 2) + "…";
        }
        graphics.setComposite(AlphaComposite.getInstance(AlphaComposite.SRC_OVER, 0.6f));
        graphics.setColor(Color.BLACK);
        graphics.fillRect(0, 0, width, metrics.getHeight() + 4);
        graphics.setComposite(AlphaComposite.SrcOver);
        graphics.setColor(Color.WHITE);
        graphics.drawString(shown, 4, 2 + metrics.getAscent());
    }
}
