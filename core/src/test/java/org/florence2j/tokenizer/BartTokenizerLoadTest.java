package org.florence2j.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.florence2j.checkpoint.CheckpointException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading: broken or unsupported tokenizer files give a CheckpointException naming the file; config options. */
class BartTokenizerLoadTest {
    private static final Path MODEL = BartTokenizerGoldenTest.MODEL;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void emptyFolderNamesTheMissingVocab(@TempDir Path dir) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> BartTokenizer.load(dir));
        assertEquals(dir.resolve("vocab.json"), e.file());
        assertTrue(e.getMessage().contains("vocab.json: is missing, and so is tokenizer.json"), e.getMessage());
    }

    @Test
    void missingMergesTxtIsMissing(@TempDir Path dir) throws IOException {
        Files.copy(MODEL.resolve("vocab.json"), dir.resolve("vocab.json"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> BartTokenizer.load(dir));
        assertTrue(e.getMessage().endsWith("merges.txt: is missing"), e.getMessage());
    }

    @Test
    void badMergeLineNamesMergesTxt(@TempDir Path dir) throws IOException {
        Files.copy(MODEL.resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\nĠ t\nthree parts here\n");
        CheckpointException e = assertThrows(CheckpointException.class, () -> BartTokenizer.load(dir));
        assertEquals(dir.resolve("merges.txt"), e.file());
        assertTrue(e.getMessage().contains("line 3: merge 1 'three parts here'"), e.getMessage());
    }

    /** A vocab fault is vocab.json's even when tokenizer_config.json declares the added tokens. */
    @Test
    void aBrokenVocabIsBlamedOnVocabJsonWhateverDeclaresTheAddedTokens(@TempDir Path dir) throws IOException {
        ObjectNode vocab = (ObjectNode) JSON.readTree(MODEL.resolve("vocab.json").toFile());
        vocab.remove("!");
        JSON.writeValue(dir.resolve("vocab.json").toFile(), vocab);
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n");
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"added_tokens_decoder\": {}}");
        CheckpointException e = assertThrows(CheckpointException.class, () -> BartTokenizer.load(dir));
        assertEquals(dir.resolve("vocab.json"), e.file(), e.getMessage());
        assertTrue(e.getMessage().contains("byte 33"), e.getMessage());
    }

    @Test
    void mergeOutsideTheVocabIsRefused(@TempDir Path dir) throws IOException {
        Files.copy(MODEL.resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n\u0120 t\nzzzzqq xxxxkk\n");
        CheckpointException e = assertThrows(CheckpointException.class, () -> BartTokenizer.load(dir));
        assertEquals(dir.resolve("merges.txt"), e.file());
        assertTrue(e.getMessage().contains("line 3: merge 1 'zzzzqq xxxxkk'") && e.getMessage().contains(
                "not in the vocab"), e.getMessage());
    }

    @Test
    void unsupportedTokenizerJsonIsRefused(@TempDir Path dir) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(MODEL.resolve("tokenizer.json").toFile());
        root.putObject("normalizer").put("type", "Lowercase");
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), root);
        CheckpointException e = assertThrows(CheckpointException.class, () -> BartTokenizer.load(dir));
        assertEquals(dir.resolve("tokenizer.json"), e.file());
        assertTrue(e.getMessage().contains("normalizer"), e.getMessage());
    }

    @Test
    void notJsonNamesTheFile(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{ not json");
        CheckpointException e = assertThrows(CheckpointException.class, () -> BartTokenizer.load(dir));
        assertEquals(dir.resolve("tokenizer.json"), e.file());
    }

    @Test
    void textAfterTheJsonObjectIsRefused(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), Files.readString(MODEL.resolve("tokenizer.json")) + "]");
        CheckpointException e = assertThrows(CheckpointException.class, () -> BartTokenizer.load(dir));
        assertEquals(dir.resolve("tokenizer.json"), e.file());
    }

    /** A hostile id must be refused by name, not crash with a negative array size, an index error or OOM. */
    @Test
    void vocabIdBeyondTheLimitIsRefused(@TempDir Path dir) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(MODEL.resolve("tokenizer.json").toFile());
        ((ObjectNode) root.get("model").get("vocab")).put("zzzz", Integer.MAX_VALUE);
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), root);
        CheckpointException e = assertThrows(CheckpointException.class, () -> BartTokenizer.load(dir));
        assertEquals(dir.resolve("tokenizer.json"), e.file());
        assertTrue(e.getMessage().contains("zzzz"), e.getMessage());
    }

    @Test
    void addedTokenIdBeyondTheLimitIsRefused(@TempDir Path dir) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(MODEL.resolve("tokenizer.json").toFile());
        ((ObjectNode) root.get("added_tokens").get(0)).put("id", Integer.MAX_VALUE);
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), root);
        CheckpointException e = assertThrows(CheckpointException.class, () -> BartTokenizer.load(dir));
        assertEquals(dir.resolve("tokenizer.json"), e.file());
        assertTrue(e.getMessage().contains(String.valueOf(Integer.MAX_VALUE)), e.getMessage());
    }

    /** The streamed vocab and merges refuse what the tree reading refused, naming the entry. */
    @Test
    void malformedVocabOrMergesAreRefusedByEntry(@TempDir Path dir) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(MODEL.resolve("tokenizer.json").toFile());
        ObjectNode model = (ObjectNode) root.get("model");
        ObjectNode stringId = root.deepCopy();
        ((ObjectNode) stringId.get("model").get("vocab")).put("zzzz", "7");
        ObjectNode threeParts = root.deepCopy();
        ((ArrayNode) threeParts.get("model").get("merges")).addArray().add("a").add("b").add("c");
        ObjectNode noMerges = root.deepCopy();
        ((ObjectNode) noMerges.get("model")).remove("merges");
        ObjectNode noVocab = root.deepCopy();
        ((ObjectNode) noVocab.get("model")).remove("vocab");
        int merges = model.get("merges").size();
        Map<ObjectNode, String> cases = Map.of(stringId, "vocab entry 'zzzz' has no integer id", threeParts,
                "merge " + merges + " is not two tokens", noMerges, "model.merges is missing", noVocab,
                "the BPE vocab is missing or empty");
        for (Map.Entry<ObjectNode, String> c : cases.entrySet()) {
            JSON.writeValue(dir.resolve("tokenizer.json").toFile(), c.getKey());
            CheckpointException e = assertThrows(CheckpointException.class, () -> BartTokenizer.load(dir));
            assertEquals(dir.resolve("tokenizer.json"), e.file());
            assertTrue(e.getMessage().contains(c.getValue()), e.getMessage());
        }
    }

    /** Merges as [a, b] pairs (tokenizers >= 0.20 writes them so) read the same as "a b" strings. */
    @Test
    void mergesAsPairsReadLikeStrings(@TempDir Path dir) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(MODEL.resolve("tokenizer.json").toFile());
        ArrayNode pairs = JSON.createArrayNode();
        root.get("model").get("merges").forEach(m -> pairs.addArray().add(m.asText().split(" ")[0])
                .add(m.asText().split(" ")[1]));
        ((ObjectNode) root.get("model")).set("merges", pairs);
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), root);
        BartTokenizer fromPairs = BartTokenizer.load(dir);
        String text = "Locate the phrases in the caption: naïve café 日本語 <loc_5>";
        assertEquals(BartTokenizerGoldenTest.Shared.TOKENIZER.tokens(text), fromPairs.tokens(text));
    }

    /**
     * transformers 4.41 (the reference version) cleans up spaces before punctuation by default; the golden outputs
     * never contain such a space, so this pins the documented default and the tokenizer_config.json override.
     */
    @Test
    void cleanUpOfSpacesFollowsTokenizerConfig(@TempDir Path dir) throws IOException {
        BartTokenizer byDefault = BartTokenizerGoldenTest.Shared.TOKENIZER;
        String text = "Hello , world . Is it ? I do n't know !";
        assertEquals("Hello, world. Is it? I don't know!", byDefault.decode(byDefault.encode(text), true));
        Files.copy(MODEL.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"clean_up_tokenization_spaces\": false}");
        BartTokenizer verbatim = BartTokenizer.load(dir);
        assertEquals(text, verbatim.decode(verbatim.encode(text), true));
    }
}
