package org.florence2j.task;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** Reads the golden JSON files of {@code golden/tiny/} and renders results the way they are compared. */
final class Golden {
    static final ObjectMapper JSON = new ObjectMapper();

    private Golden() {
    }

    /** A file under {@code golden/tiny/}, parsed. */
    static JsonNode read(String name) {
        String path = "/golden/tiny/" + name;
        try (InputStream in = Golden.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("test resource " + path + " missing");
            }
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(path, e);
        }
    }

    /**
     * JSON text of a value: comparing two renderings checks values, keys and key order at once (doubles render
     * through {@link Double#toString}, so equal text is equal bits).
     */
    static String render(Object value) {
        try {
            return JSON.writeValueAsString(value instanceof JsonNode ? value : JSON.valueToTree(value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
