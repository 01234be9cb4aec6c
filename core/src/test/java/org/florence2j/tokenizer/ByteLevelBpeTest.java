package org.florence2j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The pieces of {@link ByteLevelBpe} whose reference behaviour the golden strings only touch lightly. */
class ByteLevelBpeTest {
    /**
     * The GPT-2 split pattern, verbatim, as the oracle for the hand-written splitter. UNICODE_CHARACTER_CLASS makes
     * {@code \s} Unicode White_Space, as in the reference's Oniguruma (plain Java {@code \s} is ASCII only).
     */
    private static final Pattern GPT2_SPLIT = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);
    /** Chars where the split rules meet: every White_Space char, near-spaces, apostrophes, marks, digits. */
    private static final String TRICKY = " \t\n\r\u000B\f\u001C\u001F\u0085\u00A0\u1680\u2000\u2007\u200A\u200B"
            + "\u2028\u2029\u202F\u205F\u3000\uFEFF\u0301''’sdtmlrevSa1٣²Ⅻ.,-<>";

    private static List<String> regexSplit(String text) {
        List<String> pieces = new ArrayList<>();
        Matcher m = GPT2_SPLIT.matcher(text);
        while (m.find()) {
            pieces.add(m.group());
        }
        return pieces;
    }

    private static List<String> split(String text) {
        List<String> pieces = new ArrayList<>();
        for (int p = 0; p < text.length(); ) {
            int q = ByteLevelBpe.nextSplit(text, p, text.length());
            pieces.add(text.substring(p, q));
            p = q;
        }
        return pieces;
    }

    @Test
    void splitterMatchesTheGpt2Regex() {
        Random random = new Random(11);
        for (int round = 0; round < 20_000; round++) {
            StringBuilder text = new StringBuilder();
            for (int i = random.nextInt(16); i > 0; i--) {
                if (random.nextInt(3) > 0) {
                    text.append(TRICKY.charAt(random.nextInt(TRICKY.length())));
                } else {
                    int cp = random.nextInt(4) == 0 ? random.nextInt(0x110000) : random.nextInt(0x3100);
                    if (cp < 0xD800 || cp > 0xDFFF) {
                        text.appendCodePoint(cp);
                    }
                }
            }
            String s = text.toString();
            assertEquals(regexSplit(s), split(s), () -> BartTokenizerGoldenTest.quoted(s));
        }
    }

    @Test
    void splitTreatsUnicodeWhitespaceAsWhitespace() {
        // A run of whitespace gives all but its last char to the run, the last one prefixes the next word only if it
        // is an ASCII space (the " ?" of the pattern); U+00A0 and U+3000 are whitespace as in Python/Rust regex.
        assertEquals(List.of("a", "\u00A0\u00A0", " b"), split("a\u00A0\u00A0 b"));
        assertEquals(List.of("a", "\u3000", "b"), split("a\u3000b"));
        assertEquals(List.of("x", "\u200B", "y"), split("x\u200By"));
        assertEquals(List.of("don", "'t", " won", "'t"), split("don't won't"));
        assertEquals(List.of("hello", "  ", " world", "  "), split("hello   world  "));
        assertEquals(List.of("😀", " 👍🏽"), split("😀 👍🏽"));
        assertEquals(List.of(" 12", "\u00A0", "34٣"), split(" 12\u00A034٣"));
    }

    @Test
    void splitterMatchesTheGpt2RegexOnEveryCodePointPair() {
        // Every assigned-or-not BMP code point after a space and before a letter, and alone.
        for (int cp = 0; cp < 0x10000; cp++) {
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                continue;
            }
            String c = Character.toString(cp);
            for (String s : List.of(c, " " + c + "a", c + c + " ", "'" + c)) {
                assertEquals(regexSplit(s), split(s), () -> BartTokenizerGoldenTest.quoted(s));
            }
        }
    }

    @Test
    void splitCoversEveryCharOnce() {
        Random random = new Random(3);
        for (int round = 0; round < 2000; round++) {
            StringBuilder text = new StringBuilder();
            for (int i = random.nextInt(30); i > 0; i--) {
                int cp = random.nextInt(0x30000);
                if (cp < 0xD800 || cp > 0xDFFF) {
                    text.appendCodePoint(cp);
                }
            }
            assertEquals(text.toString(), String.join("", split(text.toString())));
        }
    }

    @Test
    void lossyDecodeReplacesEachMaximalIllFormedSubsequence() {
        // Expected strings are Rust's String::from_utf8_lossy results (Unicode's "maximal subpart" practice).
        assertEquals("a\uFFFDb", lossy(0x61, 0xF0, 0x9F, 0x98, 0x62));      // truncated 4-byte sequence: one U+FFFD
        assertEquals("\uFFFD\uFFFD\uFFFD", lossy(0xED, 0xA0, 0x80));        // an encoded surrogate: three
        assertEquals("\uFFFD\uFFFD", lossy(0xC0, 0xAF));                    // overlong lead, then a lone continuation
        assertEquals("\uFFFD", lossy(0xE2, 0x82));                          // truncated at the end
        assertEquals("\uFFFD\uFFFD", lossy(0xF4, 0x90));                    // above U+10FFFF
        assertEquals("€😀", lossy(0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80));
        assertEquals("\uFFFD", lossy(0xFF));
    }

    @Test
    void lossyDecodeAgreesWithTheJdkOnValidText() {
        Random random = new Random(5);
        for (int round = 0; round < 500; round++) {
            StringBuilder text = new StringBuilder();
            for (int i = random.nextInt(20); i > 0; i--) {
                int cp = random.nextInt(0x110000);
                if (cp < 0xD800 || cp > 0xDFFF) {
                    text.appendCodePoint(cp);
                }
            }
            byte[] bytes = text.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            assertEquals(text.toString(), ByteLevelBpe.decodeLossy(bytes, bytes.length));
        }
    }

    @Test
    void everyByteHasExactlyOnePrintableStandIn() {
        Set<Integer> bytes = new HashSet<>();
        for (char c = 0; c < 0x200; c++) {
            byte[] back = ByteLevelBpe.bytesOf(String.valueOf(c));
            if (back != null) {
                assertEquals(1, back.length);
                assertTrue(bytes.add(back[0] & 0xFF), "byte " + (back[0] & 0xFF) + " twice");
                assertTrue(!Character.isWhitespace(c) && !Character.isISOControl(c), "stand-in U+" + (int) c);
            }
        }
        assertEquals(256, bytes.size());
        assertEquals(null, ByteLevelBpe.bytesOf("<loc_5>\u4E00"));
    }

    private static String lossy(int... values) {
        byte[] bytes = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            bytes[i] = (byte) values[i];
        }
        return ByteLevelBpe.decodeLossy(bytes, bytes.length);
    }
}
