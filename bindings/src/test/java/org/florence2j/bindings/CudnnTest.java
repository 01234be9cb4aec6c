package org.florence2j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * cuDNN is searched for like the other CUDA libraries. Where it is missing (a machine without cuDNN, such as CI),
 * every use fails with a {@link NativeLibraryException} naming both major versions' files in every folder searched
 * and the property that points at another copy; where it is present, it reports a cuDNN 8 or 9 version.
 */
class CudnnTest {
    @Test
    void missingCudnnFailsAtEachUseNamingEverythingSearchedOrPresentCudnnHasAVersion() {
        NativeLibrary library = Cudnn.library();
        if (library.isAvailable()) {
            long version = Cudnn.getVersion();
            assertTrue(version >= 8000 && version < 100000, "cudnnGetVersion " + version);
            return;
        }
        NativeLibraryException failure = assertThrows(NativeLibraryException.class, Cudnn::getVersion);
        assertEquals("cuDNN", failure.library());
        for (Path folder : CudaLibraries.folders()) {
            for (String file : List.of("libcudnn.so.9", "libcudnn.so.8")) {
                assertTrue(failure.searched().contains(folder.resolve(file).toString()), "searched " + folder);
            }
        }
        assertTrue(failure.searched().contains("libcudnn.so.9 (system loader)"), failure.searched().toString());
        String message = failure.getMessage();
        assertTrue(message.startsWith("cuDNN not found; searched: ["), message);
        assertTrue(message.contains("-Dflorence2j.cudnn.path"), message);
        assertTrue(message.contains("FLORENCE2J_CUDNN_PATH"), message);
        assertTrue(message.contains("install cuDNN 9"), message);
        // A second function fails the same way: the holder classes keep working after a missing library.
        try (Arena arena = Arena.ofConfined()) {
            NativeLibraryException again = assertThrows(NativeLibraryException.class, () -> Cudnn.create(arena));
            assertEquals(message, again.getMessage());
        }
    }
}
