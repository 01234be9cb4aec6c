package org.florence2j.task;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/**
 * The scanners against the reference's regular expressions, run by {@link java.util.regex} with Python's
 * semantics on short random strings (where recursion depth and quadratic time do not matter).
 */
class TokenRunsTest {
    private static final String LOC = "<loc_" + PyText.DIGITS + ">";
    private static final String POLYGON_TOKEN = "(?:" + LOC + "|<sep>|<poly>|</poly>)";
    private static final Pattern PHRASE_WITH_BOXES = PyText.compile("[^<]+(?:" + LOC + "){4,}");
    private static final Pattern BOXES_ONLY = PyText.compile("(?:" + LOC + "){4,}");
    private static final Pattern PHRASE_WITH_POLYGONS = PyText.compile("[^<]+" + POLYGON_TOKEN + "{4,}");
    private static final Pattern POLYGONS_ONLY = PyText.compile(POLYGON_TOKEN + "{4,}");
    private static final Pattern POLYGON = PyText.compile("((?:" + LOC + ")+)(?:<sep>|$)");
    private static final Pattern TEXT_WITH_QUAD = PyText.compile("(.+?)(?:" + LOC + "){8}");
    private static final Pattern BIN = PyText.compile("<loc_(" + PyText.DIGITS + ")>");
    private static final String[] FRAGMENTS = {"<loc_1>", "<loc_23>", "<loc_\u0663>", "<loc_>", "<loc_", "loc_4>",
        "<sep>", "<poly>", "</poly>", "<s>", "a", " ", "\n", "<", ">", "\ud83d\ude97", "7"};

    @Test
    void scannersFindWhatThePatternsFind() {
        SplittableRandom random = new SplittableRandom(7);
        for (int round = 0; round < 3_000; round++) {
            StringBuilder text = new StringBuilder();
            for (int i = random.nextInt(40); i > 0; i--) {
                text.append(random.nextInt(2) == 0 ? "<loc_" + random.nextInt(1000) + ">"
                        : FRAGMENTS[random.nextInt(FRAGMENTS.length)]);
            }
            String s = text.toString();
            assertEquals(spans(PHRASE_WITH_BOXES, s, 0), TokenRuns.findRuns(s, true), s);
            assertEquals(spans(BOXES_ONLY, s, 0), TokenRuns.findRuns(s, false), s);
            assertEquals(spans(PHRASE_WITH_POLYGONS, s, 0), TokenRuns.findRuns(s, true, "<sep>", "<poly>", "</poly>"));
            assertEquals(spans(POLYGONS_ONLY, s, 0), TokenRuns.findRuns(s, false, "<sep>", "<poly>", "</poly>"));
            assertEquals(spans(POLYGON, s, 1), TokenRuns.findPolygons(s), s);
            assertEquals(spans(TEXT_WITH_QUAD, s, 1), TokenRuns.findTextWithQuads(s), s);
            List<Long> bins = new ArrayList<>();
            for (Matcher bin = BIN.matcher(s); bin.find(); ) {
                bins.add(PyText.parseBin(bin.group(1)));
            }
            assertEquals(bins, TokenRuns.bins(s, 0, s.length()), s);
        }
    }

    private static List<TokenRuns.Span> spans(Pattern pattern, String text, int group) {
        List<TokenRuns.Span> spans = new ArrayList<>();
        for (Matcher m = pattern.matcher(text); m.find(); ) {
            spans.add(new TokenRuns.Span(m.start(group), m.end(group)));
        }
        return spans;
    }
}
