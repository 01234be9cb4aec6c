package org.florence2j.cli;

import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import org.florence2j.Caption;
import org.florence2j.Detections;
import org.florence2j.Florence2Result;
import org.florence2j.Generation;
import org.florence2j.OcrRegions;
import org.florence2j.Polygons;
import org.florence2j.task.Box;
import org.florence2j.task.Polygon;

/** {@code run} without {@code --json}: a result as a few lines a person reads. */
final class ResultText {
    private ResultText() {}

    /** The image, the task and the answer, without a trailing newline. */
    static String describe(Florence2Result result) {
        Generation generation = result.generation();
        double seconds = generation.timingsMs().values().stream().mapToDouble(Double::doubleValue).sum() / 1000;
        StringBuilder text = new StringBuilder(String.format(Locale.ROOT, "%s (%dx%d) %s, %d tokens in %.2f s",
                generation.image(), generation.imageWidth(), generation.imageHeight(),
                generation.task() == null ? generation.prompt() : generation.task().token(),
                generation.generatedIds().length - 1, seconds));
        switch (result) {
            case Caption caption -> text.append("\n  ").append(caption.text().strip());
            case Detections detections -> {
                for (int i = 0; i < detections.boxes().size(); i++) {
                    String score = i < detections.scores().size()
                            ? String.format(Locale.ROOT, "  score %.3f", detections.scores().get(i)) : "";
                    text.append("\n  ").append(label(detections.labels().get(i))).append(' ')
                            .append(box(detections.boxes().get(i))).append(score);
                }
                for (int i = 0; i < detections.polygons().size(); i++) {
                    text.append("\n  ").append(label(detections.polygonLabels().get(i))).append(' ')
                            .append(polygons(detections.polygons().get(i)));
                }
                if (detections.boxes().isEmpty() && detections.polygons().isEmpty()) {
                    text.append("\n  (nothing found)");
                }
            }
            case Polygons polygons -> {
                for (int i = 0; i < polygons.polygons().size(); i++) {
                    text.append("\n  ").append(label(polygons.labels().get(i))).append(' ')
                            .append(polygons(polygons.polygons().get(i)));
                }
                if (polygons.polygons().isEmpty()) {
                    text.append("\n  (no polygon)");
                }
            }
            case OcrRegions ocr -> {
                for (int i = 0; i < ocr.quadBoxes().size(); i++) {
                    text.append("\n  ").append(label(ocr.texts().get(i))).append(' ')
                            .append(points(ocr.quadBoxes().get(i)));
                }
                if (ocr.quadBoxes().isEmpty()) {
                    text.append("\n  (no text found)");
                }
            }
        }
        return text.toString();
    }

    private static String label(String label) {
        return label.isBlank() ? "(no label)" : "'" + label.strip() + "'";
    }

    private static String box(Box box) {
        return String.format(Locale.ROOT, "[%.1f, %.1f, %.1f, %.1f]", box.xMin(), box.yMin(), box.xMax(),
                box.yMax());
    }

    private static String polygons(List<Polygon> polygons) {
        return polygons.stream().map(ResultText::points).collect(Collectors.joining(" "));
    }

    private static String points(Polygon polygon) {
        List<Float> xy = polygon.coordinates();
        StringBuilder text = new StringBuilder("[");
        for (int i = 0; i + 1 < xy.size(); i += 2) {
            text.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "(%.1f, %.1f)", xy.get(i),
                    xy.get(i + 1)));
        }
        return text.append(']').toString();
    }
}
