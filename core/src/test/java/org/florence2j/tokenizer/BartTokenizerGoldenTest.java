package org.florence2j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link BartTokenizer} against the reference's ids, tokens and decodes (golden/tiny: BartTokenizerFast as
 * Florence2Processor loads it); everything compared exactly.
 */
class BartTokenizerGoldenTest {
    static final Path GOLDEN = Path.of("src/test/resources/golden/tiny");
    static final Path MODEL = GOLDEN.resolve("model");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Loaded once for all tokenizer test classes (loading parses 1.3 MB of JSON). */
    static final class Shared {
        static final BartTokenizer TOKENIZER = BartTokenizer.load(MODEL);
    }

    private static BartTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = Shared.TOKENIZER;
    }

    static JsonNode read(String name) {
        try {
            return JSON.readTree(GOLDEN.resolve(name).toFile());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static Stream<JsonNode> strings() {
        List<JsonNode> out = new ArrayList<>();
        read("tokenization.json").get("strings").forEach(out::add);
        return out.stream();
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).intValue();
        }
        return out;
    }

    static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(t -> out.add(t.asText()));
        return out;
    }

    @ParameterizedTest
    @MethodSource("strings")
    void encodesAndDecodesLikeTheReference(JsonNode entry) {
        String text = entry.get("text").asText();
        JsonNode fast = entry.get("fast");
        int[] ids = ints(fast.get("input_ids"));
        assertArrayEquals(ids, tokenizer.encode(text), () -> "ids of " + quoted(text));
        assertArrayEquals(ints(fast.get("input_ids_no_special")), tokenizer.encode(text, false),
                () -> "ids without <s></s> of " + quoted(text));
        assertEquals(texts(fast.get("tokens")), tokenizer.tokens(text), () -> "tokens of " + quoted(text));
        assertEquals(fast.get("decode_skip_special_false").asText(), tokenizer.decode(ids, false),
                () -> "decode keeping special tokens of " + quoted(text));
        assertEquals(fast.get("decode_skip_special_true").asText(), tokenizer.decode(ids, true),
                () -> "decode skipping special tokens of " + quoted(text));
    }

    @Test
    void decodesTheReferenceDecodeCases() {
        for (JsonNode c : read("tokenization.json").get("decode_cases")) {
            int[] ids = ints(c.get("ids"));
            assertEquals(c.get("fast_skip_special_false").asText(), tokenizer.decode(ids, false), c::toString);
            assertEquals(c.get("fast_skip_special_true").asText(), tokenizer.decode(ids, true), c::toString);
            List<String> tokens = new ArrayList<>();
            for (int id : ids) {
                tokens.add(tokenizer.tokenOf(id));
            }
            assertEquals(texts(c.get("fast_tokens")), tokens, c::toString);
        }
    }

    @Test
    void specialIdsAndSizeMatchTheReference() {
        JsonNode golden = read("tokenization.json");
        JsonNode specialIds = golden.get("special_ids");
        assertEquals(specialIds.get("bos").intValue(), tokenizer.bosId());
        assertEquals(specialIds.get("eos").intValue(), tokenizer.eosId());
        assertEquals(specialIds.get("pad").intValue(), tokenizer.padId());
        assertEquals(specialIds.get("unk").intValue(), tokenizer.unkId());
        assertEquals(specialIds.get("mask").intValue(), tokenizer.idOf("<mask>").orElseThrow());
        assertEquals(golden.get("len_tokenizer").intValue(), tokenizer.vocabSize());
        golden.get("added_token_ids_sample").properties().forEach(e ->
                assertEquals(e.getValue().intValue(), tokenizer.idOf(e.getKey()).orElseThrow(), e.getKey()));
        List<String> added = texts(golden.get("additional_special_tokens_in_order"));
        assertEquals(added, BartTokenizer.FLORENCE2_ADDED_TOKENS);
        int base = golden.get("vocab_size_base").intValue();
        for (int i = 0; i < added.size(); i++) {
            assertEquals(base + i, tokenizer.idOf(added.get(i)).orElseThrow(), added.get(i));
            assertEquals(true, tokenizer.isSpecial(base + i), added.get(i));
        }
    }

    @Test
    void encodesEveryPromptOfTheIndex() {
        JsonNode index = read("index.json");
        Map<String, int[]> idsByPrompt = new HashMap<>();
        for (JsonNode p : index.get("prompts")) {
            String constructed = p.get("constructed_prompt").asText();
            int[] ids = ints(p.get("input_ids"));
            assertArrayEquals(ids, tokenizer.encode(constructed), constructed);
            assertEquals(texts(p.get("tokens")), tokenizer.tokens(constructed), constructed);
            idsByPrompt.put(p.get("prompt").asText(), ids);
        }
        for (JsonNode c : index.get("cases")) {
            assertArrayEquals(ints(c.get("input_ids")), idsByPrompt.get(c.get("prompt").asText()),
                    c.get("id").asText());
        }
    }

    @Test
    void decodesEveryGeneratedSequenceOfTheIndex() {
        int checked = 0;
        for (JsonNode c : read("index.json").get("cases")) {
            for (String search : List.of("greedy", "beam3")) {
                JsonNode g = c.get("generate").get(search);
                int[] sequence = ints(g.get("sequence"));
                String what = c.get("id").asText() + " " + search;
                assertEquals(g.get("decoded_skip_special_false").asText(), tokenizer.decode(sequence, false), what);
                assertEquals(g.get("decoded_skip_special_true").asText(), tokenizer.decode(sequence, true), what);
                checked++;
            }
        }
        assertEquals(120, checked, "60 cases × 2 searches");
    }

    /** Without tokenizer.json the slow files + Florence-2 tokens must give the same ids and tokens. */
    @Test
    void vocabAndMergesFallbackMatchesTokenizerJson(@TempDir Path dir) throws IOException {
        for (String name : List.of("vocab.json", "merges.txt", "tokenizer_config.json")) {
            Files.copy(MODEL.resolve(name), dir.resolve(name));
        }
        BartTokenizer slow = BartTokenizer.load(dir);
        assertEquals(tokenizer.vocabSize(), slow.vocabSize());
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            assertEquals(tokenizer.tokenOf(id), slow.tokenOf(id));
            assertEquals(tokenizer.isSpecial(id), slow.isSpecial(id), "special " + id);
        }
        strings().forEach(entry -> {
            String text = entry.get("text").asText();
            assertArrayEquals(ints(entry.get("fast").get("input_ids")), slow.encode(text), () -> quoted(text));
        });
    }

    static String quoted(String text) {
        StringBuilder out = new StringBuilder("\"");
        text.codePoints().forEach(cp -> out.append(cp >= 0x20 && cp < 0x7F ? Character.toString(cp)
                : String.format("\\u{%X}", cp)));
        return out.append('"').toString();
    }
}
