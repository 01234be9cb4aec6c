package org.florence2j.task;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses polygons of location tokens: the reference's {@code parse_description_with_polygons_from_text_and_spans}
 * ({@code Florence2PostProcesser}, {@code processing_florence2.py}) for referring expression and region
 * segmentation and the polygon half of open-vocabulary detection.
 *
 * <p>A phrase's tokens split into instances at {@code <poly>…</poly>} (when both occur), and each instance into
 * polygons at {@code <sep>}; a polygon with an odd number of coordinates drops the last one, as the reference does.
 */
final class PolygonParser {
    private static final String LOC = "<loc_" + PyText.DIGITS + ">";
    private static final String POLYGON_TOKEN = "(?:" + LOC + "|<sep>|<poly>|</poly>)";
    private static final Pattern PHRASE_WITH_POLYGONS = PyText.compile("[^<]+" + POLYGON_TOKEN + "{4,}");
    private static final Pattern POLYGONS_ONLY = PyText.compile(POLYGON_TOKEN + "{4,}");
    private static final Pattern LEADING_LOC_TAIL = PyText.compile("^loc_" + PyText.DIGITS + ">");
    private static final Pattern PHRASE = PyText.compile(
            "^" + PyText.SPACE_CLASS + "*(.*?)(?=<od>|</od>|<box>|</box>|<bbox>|</bbox>|<loc_|<poly>)");
    private static final Pattern POLYGON = PyText.compile("((?:" + LOC + ")+)(?:<sep>|$)");
    private static final Pattern INSTANCE = PyText.compile("<poly>(.*?)</poly>");
    private static final Pattern BIN = PyText.compile("<loc_(" + PyText.DIGITS + ")>");

    private PolygonParser() {
    }

    /**
     * Labelled polygon instances ({@code polygons} when {@code allowEmptyPhrase}, else
     * {@code description_with_polygons}).
     *
     * @param text the generated text, special tokens kept
     */
    static PolygonsResult parse(String text, boolean allowEmptyPhrase, int width, int height) {
        List<List<Polygon>> instances = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        Matcher phrases = (allowEmptyPhrase ? POLYGONS_ONLY : PHRASE_WITH_POLYGONS)
                .matcher(BoxParser.withoutSequenceMarkers(text));
        while (phrases.find()) {
            String phraseText = phrases.group();
            String stripped = LEADING_LOC_TAIL.matcher(phraseText).replaceFirst("");
            if (stripped.isEmpty() && !allowEmptyPhrase) {
                continue;
            }
            Matcher phrase = PHRASE.matcher(stripped);
            if (!phrase.find()) {
                continue;
            }
            String label = PyText.strip(phrase.group());
            for (String instanceText : instanceTexts(phraseText)) {
                List<Polygon> polygons = new ArrayList<>();
                Matcher polygon = POLYGON.matcher(instanceText);
                while (polygon.find()) {
                    polygons.add(dequantize(polygon.group(1), width, height));
                }
                if (!polygons.isEmpty()) {
                    instances.add(polygons);
                    labels.add(label);
                }
            }
        }
        return new PolygonsResult(instances, labels);
    }

    /** The instances of a phrase's tokens: each {@code <poly>…</poly>} when both markers occur, else all of it. */
    private static List<String> instanceTexts(String phraseText) {
        if (!phraseText.contains("<poly>") || !phraseText.contains("</poly>")) {
            return List.of(phraseText);
        }
        List<String> instanceTexts = new ArrayList<>();
        Matcher instance = INSTANCE.matcher(phraseText);
        while (instance.find()) {
            instanceTexts.add(instance.group(1));
        }
        return instanceTexts;
    }

    /** A run of location tokens as x, y pairs in pixels, an unpaired last coordinate dropped. */
    private static Polygon dequantize(String locationTokens, int width, int height) {
        List<Long> bins = new ArrayList<>();
        Matcher bin = BIN.matcher(locationTokens);
        while (bin.find()) {
            bins.add(PyText.parseBin(bin.group(1)));
        }
        int coordinateCount = bins.size() - bins.size() % 2;
        List<Float> coordinates = new ArrayList<>(coordinateCount);
        for (int i = 0; i < coordinateCount; i++) {
            coordinates.add(LocationTokens.dequantize(bins.get(i), i % 2 == 0 ? width : height));
        }
        return new Polygon(coordinates);
    }
}
