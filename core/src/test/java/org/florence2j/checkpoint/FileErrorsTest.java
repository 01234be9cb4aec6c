package org.florence2j.checkpoint;

import static org.florence2j.checkpoint.TestFiles.assertCheckpointError;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file that cannot be read or written is reported with the cause in words, not java.nio's message, which is
 * only the path; a missing JSON file "is missing"; a JSON syntax error says where, without Jackson's source noise.
 */
class FileErrorsTest {
    @TempDir
    Path dir;

    @Test
    void unreadableWeightsSayWhy() throws IOException {
        Path loop = Files.createSymbolicLink(dir.resolve("loop.safetensors"), dir.resolve("loop.safetensors"));
        assertCheckpointError(() -> SafetensorsFile.open(loop),
                "loop.safetensors: cannot be read: symbolic link loop");
        Path missing = dir.resolve("missing.bin");
        assertCheckpointError(() -> PytorchCheckpoint.open(missing), "missing.bin: cannot be read: does not exist");
    }

    @Test
    void missingJsonFileIsMissingAndBadJsonSaysWhere() throws IOException {
        assertCheckpointError(() -> JsonFiles.readObject(dir.resolve("config.json")), "config.json: is missing");
        Path bad = Files.writeString(dir.resolve("bad.json"), "{\"a\": 1,\n \"b\": }");
        CheckpointException e = assertCheckpointError(() -> JsonFiles.readObject(bad), "bad.json: cannot be read"
                + " as JSON: Unexpected character ('}'", "(line 2, column 7)");
        assertFalse(e.getMessage().contains("Source") || e.getMessage().contains("REDACTED"), e.getMessage());
        Path trailing = Files.writeString(dir.resolve("trailing.json"), "{\"a\": 1}\ngarbage");
        assertCheckpointError(() -> JsonFiles.readObject(trailing), "trailing.json: cannot be read as JSON",
                "(line 2, column");
        Path latin1 = Files.write(dir.resolve("latin1.json"), new byte[] {'{', '"', (byte) 0xE9, '"', ':', '1', '}'});
        assertCheckpointError(() -> JsonFiles.readObject(latin1), "latin1.json: cannot be read: not valid UTF-8");
    }

    @Test
    void anOutputThatCannotBeWrittenIsNamedWithoutItsTemporaryFile() {
        Path file = dir.resolve("no-such-folder/out.safetensors");
        CheckpointException e = assertCheckpointError(() -> SafetensorsWriter.write(file, Map.of(), Map.of()),
                "out.safetensors: cannot be written: does not exist");
        assertFalse(e.getMessage().contains(".partial"), e.getMessage());
    }
}
