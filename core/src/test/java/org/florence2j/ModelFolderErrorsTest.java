package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A model folder that cannot run is refused by {@link Florence2#load} with a {@link CheckpointException} naming the
 * file, the key or tensor, and the cause, never left to fail at the first request as an internal error.
 */
class ModelFolderErrorsTest {
    private static final Florence2Options ONE_THREAD = Florence2Options.defaults().withThreads(1);

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"I32", "I64", "U8", "F64"})
    void weightStoredInADtypeNoBackendComputesFromIsRefused(DType dtype) {
        try (Arena arena = Arena.ofConfined()) {
            TinyModelFolder model = TinyModelFolder.in(dir)
                    .replaceTensor("image_proj_norm.weight", Tensor.allocateHost(dtype, Shape.of(64), arena));
            assertRefused(model.path(), "model.safetensors", "'image_proj_norm.weight'", "dtype " + dtype,
                    "F32, F16 or BF16");
        }
    }

    private static void assertRefused(Path folder, String... fragments) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> Florence2.load(folder, ONE_THREAD)
                .close());
        for (String fragment : fragments) {
            assertTrue(e.getMessage().contains(fragment), "message lacks '" + fragment + "': " + e.getMessage());
        }
    }
}
