package org.florence2j.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;

import org.florence2j.InvalidInputException;
import org.florence2j.Task;
import org.junit.jupiter.api.Test;

/**
 * Random model outputs for every parser: strings built from every special token, every task token, location tokens
 * with in-range, out-of-range, non-ASCII-digit and 64-bit-overflowing bins, broken markers, whitespace the
 * reference treats specially, and non-ASCII text. Nothing may escape but {@link InvalidInputException}, and every
 * result must render as the reference's JSON.
 */
class PostProcessorFuzzTest {
    private static final String[] FRAGMENTS = {
        "<s>", "</s>", "<pad>", "<unk>", "<mask>", "<od>", "</od>", "<ocr>", "</ocr>", "<cap>", "</cap>", "<ncap>",
        "</ncap>", "<dcap>", "</dcap>", "<grounding>", "</grounding>", "<seg>", "</seg>", "<sep>", "<region_cap>",
        "</region_cap>", "<region_to_desciption>", "</region_to_desciption>", "<proposal>", "</proposal>", "<poly>",
        "</poly>", "<and>", "<obj>", "<ground>", "<box>", "</box>", "<bbox>", "</bbox>", "<loc_", "loc_3>", "<loc_>",
        "<", ">", "car", "a red car", " ", "  ", "\n", "\t", "\u00a0", "\u0085", "\u001c", "\u3000", "caf\u00e9",
        "\ud83d\ude97", "\ud800", "the image", "it", "12", "\u0663", "\ufffd", "{input}", "$1", "\\",
    };
    private static final int[] SIZES = {1, 2, 37, 97, 173, 640, 768, 5000};

    @Test
    void randomOutputsGiveResultsOrTypedErrors() {
        SplittableRandom random = new SplittableRandom(20241208);
        int parsed = 0;
        int refused = 0;
        for (int round = 0; round < 400; round++) {
            List<String> pieces = randomPieces(random, random.nextInt(80));
            String text = String.join("", pieces);
            int width = SIZES[random.nextInt(SIZES.length)];
            int height = SIZES[random.nextInt(SIZES.length)];
            for (ParseType type : ParseType.values()) {
                if (parse(() -> PostProcessor.parse(type, text, null, width, height), text)) {
                    parsed++;
                } else {
                    refused++;
                }
            }
            float[] scores = new float[pieces.size()];
            for (int i = 0; i < scores.length; i++) {
                scores[i] = (float) -random.nextDouble(20);
            }
            ScoredTokens scored = new ScoredTokens(pieces, scores);
            for (Task task : Task.values()) {
                parse(() -> PostProcessor.process(task, scored, width, height), text);
            }
        }
        assertTrue(parsed > 10 * refused, parsed + " parsed, " + refused + " refused");
    }

    @Test
    void longRunsDoNotOverflowTheStack() {
        StringBuilder text = new StringBuilder("<s>car");
        for (int i = 0; i < 20_000; i++) {
            text.append("<loc_").append(i % 1000).append('>');
        }
        text.append(" tail").append("word ".repeat(2_000)).append("</s>");
        for (ParseType type : ParseType.values()) {
            TaskResult result = PostProcessor.parse(type, text.toString(), null, 640, 480);
            Golden.render(result.toReferenceJson(type.referenceName()));
        }
        BoxesResult boxes = (BoxesResult) PostProcessor.parse(ParseType.DESCRIPTION_WITH_BBOXES, text.toString(),
                null, 640, 480);
        assertEquals(5_000, boxes.boxes().size());
    }

    @Test
    void aBinBeyond64BitsIsATypedError() {
        String text = "<s>car<loc_1><loc_2><loc_3><loc_99999999999999999999></s>";
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> PostProcessor.process(Task.OD, text, 640, 480));
        assertTrue(e.getMessage().contains("99999999999999999999"), e.getMessage());
    }

    /**
     * The reference drops a polygon's unpaired last coordinate before converting it (Python's ints take any size),
     * so a bin beyond 64 bits there is no error; everywhere else it is.
     */
    @Test
    void anUnpairedPolygonBinBeyond64BitsIsDropped() {
        String text = "<s><loc_10><loc_20><loc_30><loc_40><loc_99999999999999999999></s>";
        Task task = Task.REFERRING_EXPRESSION_SEGMENTATION;
        assertEquals("{\"<REFERRING_EXPRESSION_SEGMENTATION>\":{\"polygons\":[[[6.71999979019165,9.84000015258789,"
                        + "19.520000457763672,19.439998626708984]]],\"labels\":[\"\"]}}",
                Golden.render(PostProcessor.process(task, text, 640, 480).toReferenceJson(task)));
        String paired = "<s><loc_10><loc_20><loc_30><loc_40><loc_99999999999999999999><loc_50></s>";
        assertThrows(InvalidInputException.class, () -> PostProcessor.process(task, paired, 640, 480));
    }

    /** Runs one parse: true when it gave a renderable result, false when it refused with a typed error. */
    private static boolean parse(Supplier<TaskResult> parser, String text) {
        try {
            TaskResult result = parser.get();
            Map<String, Object> json = result.toReferenceJson("<TASK>");
            Golden.render(json);
            return true;
        } catch (InvalidInputException expected) {
            return false;
        } catch (RuntimeException | StackOverflowError e) {
            fail("untyped " + e + " on " + escape(text), e);
            return false;
        }
    }

    private static List<String> randomPieces(SplittableRandom random, int count) {
        List<String> pieces = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            pieces.add(switch (random.nextInt(12)) {
                case 0, 1, 2, 3 -> randomLocation(random);
                case 4 -> Task.values()[random.nextInt(Task.values().length)].token();
                default -> FRAGMENTS[random.nextInt(FRAGMENTS.length)];
            });
        }
        return pieces;
    }

    private static String randomLocation(SplittableRandom random) {
        return switch (random.nextInt(12)) {
            case 0 -> "<loc_" + (1000 + random.nextInt(1_000_000)) + ">";
            case 1 -> "<loc_" + Long.MAX_VALUE + ">";
            case 2 -> "<loc_" + random.nextLong(Long.MAX_VALUE) + random.nextInt(10) + ">";
            case 3 -> "<loc_\u0661\u0662>";
            case 4 -> "<loc_\ud835\udfd7>";
            case 5 -> "<loc_-" + random.nextInt(1000) + ">";
            default -> LocationTokens.token(random.nextInt(LocationTokens.BINS));
        };
    }

    private static String escape(String text) {
        StringBuilder escaped = new StringBuilder();
        text.codePoints().forEach(c -> escaped.append(c >= 0x20 && c < 0x7f ? Character.toString(c)
                : String.format("\\u%04x", c)));
        return escaped.toString();
    }
}
