package org.florence2j.tokenizer;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a tokenizer's BPE vocab and merges in one streaming pass, straight into their collections. A JSON tree of
 * {@code tokenizer.json} held ~30 MB of short-lived nodes while the tokenizer was built, which the serial collector
 * promoted and kept as heap the process never returned (3× the finished tokenizer).
 *
 * @param rest   the file's other members as a tree ({@code model} without {@code vocab} and {@code merges}); an
 *               empty object for a {@code vocab.json}
 * @param vocab  token → id, in file order
 * @param merges merge pairs in rank order; empty for a {@code vocab.json}
 */
record TokenizerJson(JsonNode rest, Map<String, Integer> vocab, List<String[]> merges) {

    /**
     * Reads a HF fast-tokenizer file: {@code model.vocab} and {@code model.merges} streamed, the rest as a tree.
     *
     * @throws IOException              when the file cannot be read or is not JSON
     * @throws IllegalArgumentException when the vocab or merges are malformed or missing
     */
    static TokenizerJson readFast(ObjectMapper json, Path file) throws IOException {
        ObjectNode rest = json.createObjectNode();
        Map<String, Integer> vocab = null;
        List<String[]> merges = null;
        try (JsonParser parser = json.createParser(Files.newInputStream(file))) {
            expect(parser.nextToken(), JsonToken.START_OBJECT, "the file");
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                parser.nextToken();
                if (!name.equals("model") || parser.currentToken() != JsonToken.START_OBJECT) {
                    rest.set(name, json.readTree(parser));
                    continue;
                }
                ObjectNode model = rest.putObject("model");
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String field = parser.currentName();
                    JsonToken value = parser.nextToken();
                    if (field.equals("vocab") && value == JsonToken.START_OBJECT) {
                        vocab = readVocab(parser);
                    } else if (field.equals("merges") && value == JsonToken.START_ARRAY) {
                        merges = readMerges(parser);
                    } else {
                        model.set(field, json.readTree(parser));
                    }
                }
            }
            expectEnd(parser);
        }
        if (vocab == null || vocab.isEmpty()) {
            throw new IllegalArgumentException("the BPE vocab is missing or empty");
        }
        if (merges == null) {
            throw new IllegalArgumentException("model.merges is missing");
        }
        return new TokenizerJson(rest, vocab, merges);
    }

    /**
     * Reads a {@code vocab.json} (one object of token → id).
     *
     * @throws IOException              when the file cannot be read or is not JSON
     * @throws IllegalArgumentException when it is not such an object, or is empty
     */
    static Map<String, Integer> readVocabFile(ObjectMapper json, Path file) throws IOException {
        try (JsonParser parser = json.createParser(Files.newInputStream(file))) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException("the BPE vocab is missing or empty");
            }
            Map<String, Integer> vocab = readVocab(parser);
            if (vocab.isEmpty()) {
                throw new IllegalArgumentException("the BPE vocab is missing or empty");
            }
            expectEnd(parser);
            return vocab;
        }
    }

    /** The members of the object the parser is at the start of, as token → id. */
    private static Map<String, Integer> readVocab(JsonParser parser) throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>(1 << 17);
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String token = parser.currentName();
            JsonToken value = parser.nextToken();
            if (value != JsonToken.VALUE_NUMBER_INT || parser.getNumberType() != JsonParser.NumberType.INT) {
                throw new IllegalArgumentException("vocab entry '" + token + "' has no integer id");
            }
            vocab.put(token, parser.getIntValue());
        }
        return vocab;
    }

    /** The merges of the array the parser is at the start of: {@code "a b"} strings or {@code ["a", "b"]} pairs. */
    private static List<String[]> readMerges(JsonParser parser) throws IOException {
        List<String[]> merges = new ArrayList<>(1 << 16);
        for (JsonToken token = parser.nextToken(); token != JsonToken.END_ARRAY; token = parser.nextToken()) {
            if (token == JsonToken.START_ARRAY) {
                String[] pair = new String[2];
                int count = 0;
                for (JsonToken part = parser.nextToken(); part != JsonToken.END_ARRAY; part = parser.nextToken()) {
                    if (count < 2) {
                        pair[count] = parser.getValueAsString();
                    }
                    count++;
                }
                if (count != 2 || pair[0] == null || pair[1] == null) {
                    throw new IllegalArgumentException("merge " + merges.size() + " is not two tokens");
                }
                merges.add(pair);
            } else if (token == JsonToken.VALUE_STRING) {
                merges.add(MergesTxt.split(parser.getText(), merges.size()));
            } else {
                throw new IllegalArgumentException("merge " + merges.size() + " is not two tokens");
            }
        }
        return merges;
    }

    /** Refuses text after the file's object, which Python's json.load refuses ("Extra data"). */
    private static void expectEnd(JsonParser parser) throws IOException {
        if (parser.nextToken() != null) {
            throw new IllegalArgumentException("holds more after its JSON object, at line "
                    + parser.currentLocation().getLineNr() + ", column " + parser.currentLocation().getColumnNr());
        }
    }

    private static void expect(JsonToken actual, JsonToken expected, String what) {
        if (actual != expected) {
            throw new IllegalArgumentException(what + " is not a JSON object");
        }
    }
}
