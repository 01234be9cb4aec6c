package org.florence2j.task;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.florence2j.bindings.Libm;

/**
 * Parses phrases followed by boxes of four location tokens: the reference's
 * {@code parse_description_with_bboxes_from_text_and_spans} (object detection, dense region captions, region
 * proposals, the box half of open-vocabulary detection) and {@code parse_phrase_grounding_from_text_and_spans}
 * ({@code Florence2PostProcesser}, {@code processing_florence2.py}).
 *
 * <p>Quirks kept on purpose, since results must equal the reference's: a box with fewer than four location tokens
 * is not a box, and its tokens' text stays in front of the next phrase ({@code "loc_3>tree"}); labels are stripped,
 * then stripped of non-ASCII characters; the score path's offsets skip whatever text lies between matched phrases.
 */
final class BoxParser {
    /** The phrase: everything up to the first box or detection marker. */
    private static final Pattern PHRASE = PyText.compile(
            "^" + PyText.SPACE_CLASS + "*(.*?)(?=<od>|</od>|<box>|</box>|<bbox>|</bbox>|<loc_)");
    private static final String LOC = "<loc_(" + PyText.DIGITS + ")>";
    private static final Pattern BOX = PyText.compile(LOC + LOC + LOC + LOC);

    /** Generic phrases that phrase grounding drops: the reference's {@code black_list_of_phrase_grounding}. */
    private static final Set<String> GROUNDING_BLACKLIST = Set.of(
            "it", "I", "me", "mine", "you", "your", "yours", "he", "him", "his", "she", "her", "hers",
            "they", "them", "their", "theirs", "one", "oneself", "we", "us", "our", "ours", "its",
            "myself", "yourself", "himself", "herself", "itself", "ourselves", "yourselves", "themselves",
            "this", "that", "these", "those", "who", "whom", "whose", "which", "what",
            "all", "another", "any", "anybody", "anyone", "anything", "each", "everybody", "everyone", "everything",
            "few", "many", "nobody", "none", "several", "some", "somebody", "someone", "something",
            "each other", "one another", "the image", "image", "images", "the", "a", "an", "a group",
            "other objects", "lots", "a set");

    private BoxParser() {
    }

    /**
     * Phrases with their boxes ({@code description_with_bboxes}, or {@code bboxes} when {@code allowEmptyPhrase}).
     *
     * @param text             the generated text, special tokens kept
     * @param scored           the tokens and scores behind {@code text} for the score path, or null
     * @param allowEmptyPhrase whether boxes need no phrase (region proposals)
     */
    static BoxesResult parseDescriptionWithBoxes(String text, ScoredTokens scored, boolean allowEmptyPhrase,
                                                 int width, int height) {
        int cursor = text.startsWith("<s>") ? 3 : 0;
        String cleaned = withoutSequenceMarkers(text);
        List<Box> boxes = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        List<Double> scores = new ArrayList<>();
        // A phrase and its run of four or more location tokens; for region proposals the phrase is optional.
        for (TokenRuns.Span run : TokenRuns.findRuns(cleaned, !allowEmptyPhrase)) {
            String phraseText = run.of(cleaned);
            Matcher phrase = PHRASE.matcher(PyText.replaceFirst(phraseText, "<obj>", ""));
            List<BoxMatch> found = findBoxes(phraseText);
            if (!phrase.find() || found.isEmpty()) {
                cursor += PyText.length(phraseText);
                continue;
            }
            String label = PyText.asciiOnly(PyText.strip(phrase.group()));
            for (BoxMatch box : found) {
                boxes.add(box.dequantize(width, height));
                labels.add(label);
                if (scored != null) {
                    // The reference's offsets: Python string lengths (code points), its cur_span skipping the text
                    // between phrases.
                    double meanLogProb = scored.meanScoreOverlapping(PyText.length(phraseText, box.start()) + cursor,
                            PyText.length(phraseText, box.end()) + cursor);
                    scores.add(Libm.exp(meanLogProb)); // math.exp: the C library's, bit for bit
                }
            }
            cursor += PyText.length(phraseText);
        }
        return new BoxesResult(boxes, labels, scores);
    }

    /**
     * Phrase grounding ({@code phrase_grounding}): every box of every phrase, the phrase as its label, generic
     * phrases dropped.
     */
    static BoxesResult parsePhraseGrounding(String text, int width, int height) {
        List<Box> boxes = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        String cleaned = withoutSequenceMarkers(text);
        for (TokenRuns.Span run : TokenRuns.findRuns(cleaned, true)) {
            String phraseText = run.of(cleaned);
            Matcher phrase = PHRASE.matcher(PyText.replaceFirst(phraseText, "<obj>", ""));
            List<BoxMatch> found = findBoxes(phraseText);
            if (!phrase.find() || found.isEmpty()) {
                continue;
            }
            String label = PyText.strip(phrase.group());
            if (GROUNDING_BLACKLIST.contains(label)) {
                continue;
            }
            label = PyText.asciiOnly(label);
            for (BoxMatch box : found) {
                boxes.add(box.dequantize(width, height));
                labels.add(label);
            }
        }
        return new BoxesResult(boxes, labels, List.of());
    }

    /** The text without {@code <s>}, {@code </s>} and {@code <pad>}, as every box and polygon parser starts. */
    static String withoutSequenceMarkers(String text) {
        return text.replace("<s>", "").replace("</s>", "").replace("<pad>", "");
    }

    /**
     * Four location tokens found in a phrase's text: their bins' digits and their span there. The digits are read
     * only once the phrase is kept, as the reference reads them.
     */
    private record BoxMatch(String[] binDigits, int start, int end) {
        Box dequantize(int width, int height) {
            return new Box(
                    LocationTokens.dequantize(PyText.parseBin(binDigits[0]), width),
                    LocationTokens.dequantize(PyText.parseBin(binDigits[1]), height),
                    LocationTokens.dequantize(PyText.parseBin(binDigits[2]), width),
                    LocationTokens.dequantize(PyText.parseBin(binDigits[3]), height));
        }
    }

    private static List<BoxMatch> findBoxes(String phraseText) {
        List<BoxMatch> found = new ArrayList<>();
        Matcher box = BOX.matcher(phraseText);
        while (box.find()) {
            String[] binDigits = {box.group(1), box.group(2), box.group(3), box.group(4)};
            found.add(new BoxMatch(binDigits, box.start(), box.end()));
        }
        return found;
    }
}
