package org.florence2j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The writer leaves either the whole file or nothing: a failing filler removes the partial file, and a name that
 * holds something other than a regular file is refused, not replaced.
 */
class SafetensorsWriterTest {
    @Test
    void writtenFileReadsBack(@TempDir Path folder) {
        Path file = folder.resolve("model.safetensors");
        SafetensorsWriter.write(file, List.of(new SafetensorsWriter.Entry("w", DType.F32, Shape.of(2),
                target -> target.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 1, 7f))), Map.of());
        try (SafetensorsFile read = SafetensorsFile.open(file)) {
            assertEquals(7f, read.find("w").orElseThrow().memory().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 1));
        }
    }

    @Test
    void failingFillerLeavesNoFile(@TempDir Path folder) throws IOException {
        Path file = folder.resolve("model.safetensors");
        IllegalStateException failure = new IllegalStateException("source closed");
        assertThrows(IllegalStateException.class, () -> SafetensorsWriter.write(file, List.of(
                new SafetensorsWriter.Entry("w", DType.F32, Shape.of(2), target -> {
                    throw failure;
                })), Map.of()));
        try (var left = Files.list(folder)) {
            assertEquals(List.of(), left.toList());
        }
        assertFalse(Files.exists(file));
    }

    @Test
    void aNameHoldingAFolderIsRefusedAndNotReplaced(@TempDir Path folder) throws IOException {
        Path file = Files.createDirectory(folder.resolve("taps.safetensors"));
        CheckpointException refused = assertThrows(CheckpointException.class, () -> SafetensorsWriter.write(file,
                List.of(new SafetensorsWriter.Entry("w", DType.F32, Shape.of(2), target -> {})), Map.of()));
        assertTrue(refused.getMessage().startsWith(file + ": exists and is not a regular file"),
                refused.getMessage());
        assertTrue(Files.isDirectory(file));
        try (var left = Files.list(folder)) {
            assertEquals(List.of(file), left.toList(), "no partial file");
        }
    }
}
