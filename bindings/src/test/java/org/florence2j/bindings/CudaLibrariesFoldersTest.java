package org.florence2j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The folders {@link CudaLibraries} searches, from a made-up environment. */
class CudaLibrariesFoldersTest {
    @Test
    void pipWheelsOfEachPython3OnPathAreSearched(@TempDir Path root) throws IOException {
        // A virtualenv used without activating it: its python3 on PATH, no VIRTUAL_ENV.
        Path venv = root.resolve("venv");
        Files.createDirectories(venv.resolve("bin"));
        Files.createFile(venv.resolve("bin").resolve("python3"));
        Path cudnn = Files.createDirectories(venv.resolve("lib/python3.12/site-packages/nvidia/cudnn/lib"));
        Path cublas = Files.createDirectories(venv.resolve("lib/python3.12/site-packages/nvidia/cublas/lib"));
        // A folder on PATH without python3 adds nothing, even with wheels beside it.
        Path other = root.resolve("other");
        Files.createDirectories(other.resolve("bin"));
        Path ignored = Files.createDirectories(other.resolve("lib/python3.12/site-packages/nvidia/cudnn/lib"));
        Map<String, String> environment =
                Map.of("PATH", other.resolve("bin") + java.io.File.pathSeparator + venv.resolve("bin"));

        List<Path> folders = CudaLibraries.folders(environment::get);

        assertTrue(folders.contains(cudnn), folders.toString());
        assertTrue(folders.contains(cublas), folders.toString());
        assertFalse(folders.contains(ignored), folders.toString());
    }

    @Test
    void cudaHomeComesBeforeEverythingElse(@TempDir Path root) throws IOException {
        Path lib64 = Files.createDirectories(root.resolve("cuda-home/lib64"));
        Path onLoaderPath = Files.createDirectories(root.resolve("ld-library-path"));
        Map<String, String> environment =
                Map.of("CUDA_HOME", root.resolve("cuda-home").toString(), "LD_LIBRARY_PATH", onLoaderPath.toString());

        List<Path> folders = CudaLibraries.folders(environment::get);

        assertEquals(lib64, folders.getFirst());
        assertTrue(folders.indexOf(onLoaderPath) > 0, folders.toString());
    }
}
