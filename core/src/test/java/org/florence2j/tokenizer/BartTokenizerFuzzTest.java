package org.florence2j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import org.florence2j.InvalidInputException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random text and random ids (seeded, so a failure reproduces): nothing but the typed exceptions escapes, and text
 * round-trips through encode/decode wherever the reference's does.
 */
class BartTokenizerFuzzTest {
    private static final int ROUNDS = 3000;
    /** Chars that stress the split regex: Unicode whitespace (incl. no-break), ZWSP, combining marks, digits. */
    private static final String TRICKY = " \t\n\r\u000B\f\u0085\u00A0\u1680\u2000\u2007\u200A\u200B\u2028\u202F"
            + "\u3000\u0301\u0308'’-.,?!<>_/0123456789٣";
    private static final List<String> WORDS = List.of("a", "the", "car", "don't", "I'm", "we're", "it's", "n't",
            " .", " ,", " ?", " !", " ' ", "'s", "'ll", "'d", "'ve", "'re", "'m", "<", ">", "<loc_", "</", "loc",
            "<loc_1000>", "<OD>", "<s", "s>", "mask>", "naïve", "日本語", "😀", "👍🏽", "🇫🇷", "❤️");

    private static BartTokenizer tokenizer;
    /** The same files with clean_up_tokenization_spaces off, so that decode(encode(s)) must give s back. */
    private static BartTokenizer noCleanUp;
    private static List<String> specialTokens;

    @BeforeAll
    static void load(@TempDir Path dir) throws IOException {
        tokenizer = BartTokenizerGoldenTest.Shared.TOKENIZER;
        Files.copy(BartTokenizerGoldenTest.MODEL.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"clean_up_tokenization_spaces\": false}");
        noCleanUp = BartTokenizer.load(dir);
        specialTokens = new ArrayList<>(List.of("<s>", "</s>", "<pad>", "<unk>", "<mask>"));
        specialTokens.addAll(BartTokenizer.FLORENCE2_ADDED_TOKENS);
    }

    @Test
    void randomTextRoundTrips() {
        Random random = new Random(20240601);
        for (int round = 0; round < ROUNDS; round++) {
            String text = randomText(random);
            int[] ids = noCleanUp.encode(text, false);
            // <mask> has lstrip: it swallows the whitespace before it, so that whitespace cannot come back.
            String expected = text.replaceAll("\\p{IsWhite_Space}+<mask>", "<mask>");
            assertEquals(expected, noCleanUp.decode(ids, false), () -> BartTokenizerGoldenTest.quoted(text));
            assertArrayEquals(ids, tokenizer.encode(text, false), "clean-up does not change encoding");
            assertEquals(BartTokenizer.cleanUpTokenization(expected), tokenizer.decode(ids, false));
            for (int id : ids) {
                assertTrue(id >= 0 && id < tokenizer.vocabSize(), () -> "id " + id);
            }
        }
    }

    @Test
    void everySpecialTokenEncodesToItsOwnId() {
        StringBuilder all = new StringBuilder();
        List<Integer> expected = new ArrayList<>();
        for (String token : specialTokens) {
            int id = tokenizer.idOf(token).orElseThrow();
            assertArrayEquals(new int[] {id}, tokenizer.encode(token, false), token);
            assertEquals("", tokenizer.decode(new int[] {id}, true), token);
            all.append(token);
            expected.add(id);
        }
        assertArrayEquals(expected.stream().mapToInt(Integer::intValue).toArray(),
                tokenizer.encode(all.toString(), false));
        assertEquals(all.toString(), tokenizer.decode(tokenizer.encode(all.toString(), false), false));
    }

    @Test
    void randomIdsDecodeDroppingIdsWithoutATokenAndANegativeIdIsNamed() {
        Random random = new Random(7);
        int size = tokenizer.vocabSize();
        for (int round = 0; round < ROUNDS; round++) {
            int[] ids = random.ints(random.nextInt(40), 0, size).toArray();
            for (boolean skip : new boolean[] {false, true}) {
                String text = tokenizer.decode(ids, skip);
                // Invalid UTF-8 became U+FFFD: the result is always well-formed text.
                assertTrue(text.codePoints().noneMatch(cp -> cp >= 0xD800 && cp <= 0xDFFF), text);
            }
            if (ids.length > 0) {
                int bad = switch (random.nextInt(4)) {
                    case 0 -> -1 - random.nextInt(1000);
                    case 1 -> size + random.nextInt(1000);
                    case 2 -> Integer.MIN_VALUE;
                    default -> Integer.MAX_VALUE;
                };
                int position = random.nextInt(ids.length);
                int[] withBad = ids.clone();
                withBad[position] = bad;
                assertThrows(InvalidInputException.class, () -> tokenizer.tokenOf(bad));
                if (bad >= 0) {
                    // The fast tokenizer's decode drops an id it has no token for.
                    int[] without = IntStream.range(0, ids.length).filter(i -> i != position).map(i -> ids[i])
                            .toArray();
                    assertEquals(tokenizer.decode(without, false), tokenizer.decode(withBad, false));
                    assertEquals("", tokenizer.piece(bad));
                    continue;
                }
                InvalidInputException e = assertThrows(InvalidInputException.class,
                        () -> tokenizer.decode(withBad, true));
                assertTrue(e.getMessage().contains("token id " + bad + " at position " + position), e.getMessage());
            }
        }
    }

    @Test
    void unpairedSurrogateIsRefusedWithItsIndex() {
        for (String text : List.of("ab\uD83D", "\uDE00x", "a\uD83Db\uDE00")) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> tokenizer.encode(text));
            assertTrue(e.getMessage().contains("unpaired surrogate"), e.getMessage());
        }
    }

    @Test
    void oneTokenizerServesManyThreads() throws Exception {
        Random random = new Random(99);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            texts.add(randomText(random));
        }
        BartTokenizer fresh = BartTokenizer.load(BartTokenizerGoldenTest.MODEL);
        List<int[]> expected = texts.stream().map(tokenizer::encode).toList();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < texts.size(); i++) {
                        assertArrayEquals(expected.get(i), fresh.encode(texts.get(i)));
                    }
                }));
            }
            for (Future<?> future : futures) {
                future.get();
            }
        } finally {
            pool.shutdown();
        }
    }

    private static String randomText(Random random) {
        StringBuilder text = new StringBuilder();
        int pieces = random.nextInt(12);
        for (int i = 0; i < pieces; i++) {
            switch (random.nextInt(6)) {
                case 0 -> text.append(specialTokens.get(random.nextInt(specialTokens.size())));
                case 1 -> text.append(TRICKY.charAt(random.nextInt(TRICKY.length())));
                case 2 -> text.append(WORDS.get(random.nextInt(WORDS.size())));
                case 3 -> text.append(" ".repeat(random.nextInt(4)));
                default -> {
                    int length = 1 + random.nextInt(6);
                    for (int k = 0; k < length; k++) {
                        text.appendCodePoint(randomCodePoint(random));
                    }
                }
            }
        }
        return text.toString();
    }

    /** Any assigned-or-not scalar value: ASCII, BMP or supplementary, never a surrogate. */
    private static int randomCodePoint(Random random) {
        while (true) {
            int cp = switch (random.nextInt(3)) {
                case 0 -> 0x20 + random.nextInt(0x5F);
                case 1 -> random.nextInt(0x10000);
                default -> 0x10000 + random.nextInt(0x100000);
            };
            if (!Character.isSurrogate((char) cp) || cp >= 0x10000) {
                return cp;
            }
        }
    }
}
