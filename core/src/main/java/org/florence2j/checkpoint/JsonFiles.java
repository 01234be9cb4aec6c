package org.florence2j.checkpoint;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads the small JSON files of a model folder ({@code config.json}, indexes), failing with a typed error. */
public final class JsonFiles {
    /** Python's json.load refuses anything after the value ("Extra data"), and so does this. */
    static final ObjectMapper JSON = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private JsonFiles() {}

    /**
     * The JSON object in {@code file}.
     *
     * @throws CheckpointException naming the file when it is missing, unreadable, not JSON, or not an object
     */
    public static JsonNode readObject(Path file) {
        FileErrors.requireRegularFile(file);
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw FileErrors.readError(file, e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(file, null, -1, "is not a JSON object");
        }
        return root;
    }

    /**
     * What is wrong with a JSON text and where, as line and column of the text: Jackson's own message adds a
     * description of the source that says nothing ("REDACTED").
     */
    public static String syntaxError(JsonProcessingException e) {
        JsonLocation where = e.getLocation();
        return where == null || where.getLineNr() < 0 ? e.getOriginalMessage()
                : e.getOriginalMessage() + " (line " + where.getLineNr() + ", column " + where.getColumnNr() + ")";
    }
}
