package org.florence2j.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads the small JSON files of a model folder ({@code config.json}, indexes), failing with a typed error. */
public final class JsonFiles {
    private static final ObjectMapper JSON = new ObjectMapper();

    private JsonFiles() {}

    /**
     * The JSON object in {@code file}.
     *
     * @throws CheckpointException naming the file when it is unreadable, not JSON, or not an object
     */
    public static JsonNode readObject(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new CheckpointException(file, null, -1, "cannot be read as JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(file, null, -1, "is not a JSON object");
        }
        return root;
    }
}
