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
    private static final Pattern LEADING_LOC_TAIL = PyText.compile("^loc_" + PyText.DIGITS + ">");
    private static final Pattern PHRASE = PyText.compile(
            "^" + PyText.SPACE_CLASS + "*(.*?)(?=<od>|</od>|<box>|</box>|<bbox>|</bbox>|<loc_|<poly>)");
    private static final Pattern INSTANCE = PyText.compile("<poly>(.*?)</poly>");

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
        String cleaned = BoxParser.withoutSequenceMarkers(text);
        // A phrase (optional when allowEmptyPhrase) and its run of 4+ location, <sep>, <poly>, </poly> tokens.
        for (TokenRuns.Span run : TokenRuns.findRuns(cleaned, !allowEmptyPhrase, "<sep>", "<poly>", "</poly>")) {
            String phraseText = run.of(cleaned);
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
                for (TokenRuns.Span polygon : TokenRuns.findPolygons(instanceText)) {
                    List<String> digits = TokenRuns.binDigits(instanceText, polygon.start(), polygon.end());
                    // An unpaired last coordinate is dropped before it is read, as in the reference, whose Python
                    // ints take any size: only the kept ones must fit in 64 bits.
                    List<Long> bins = digits.subList(0, digits.size() - digits.size() % 2).stream()
                            .map(PyText::parseBin).toList();
                    polygons.add(Polygon.dequantize(bins, width, height));
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
}
