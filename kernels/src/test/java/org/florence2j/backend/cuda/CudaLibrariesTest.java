package org.florence2j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.florence2j.bindings.CudaLibraries;
import org.florence2j.bindings.NativeLibrary;
import org.florence2j.bindings.NativeLibraryException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A missing CUDA library fails late with every searched place and the way to point at another copy. */
class CudaLibrariesTest {
    private static final String ABSENT = "libflorence2j-absent-cuda.so.99";

    @Test
    void missingLibraryListsEverySearchedFolderAndTheProperty() {
        NativeLibrary library = CudaLibraries.find("AbsentCuda", List.of(ABSENT), "absenttest");
        assertFalse(library.isAvailable());
        NativeLibraryException failure = library.failure().orElseThrow();
        List<String> searched = failure.searched();
        for (Path folder : CudaLibraries.folders()) {
            assertTrue(searched.contains(folder.resolve(ABSENT).toString()), "searched " + folder);
        }
        assertTrue(searched.contains(ABSENT + " (system loader)"));
        assertTrue(failure.getMessage().contains("AbsentCuda not found; searched: ["), failure.getMessage());
        assertTrue(failure.getMessage().contains("-Dflorence2j.absenttest.path"), failure.getMessage());
        assertTrue(failure.getMessage().contains("FLORENCE2J_ABSENTTEST_PATH"), failure.getMessage());
    }

    @Test
    void anExplicitFolderWithoutTheLibraryIsTheOnlyPlaceSearched(@TempDir Path explicit) {
        String property = "florence2j.absenttest.path";
        System.setProperty(property, explicit.toString());
        try {
            NativeLibraryException failure =
                    CudaLibraries.find("AbsentCuda", List.of(ABSENT), "absenttest").failure().orElseThrow();
            assertEquals(List.of(explicit.resolve(ABSENT) + " (from -D" + property + ")"), failure.searched());
            assertTrue(failure.getMessage().contains("-D" + property + " names " + explicit + ", which holds none of ["
                    + ABSENT + "]"), failure.getMessage());
        } finally {
            System.clearProperty(property);
        }
    }

    @Test
    void conventionalInstallFoldersAreSearchedWhenPresent() {
        List<Path> folders = CudaLibraries.folders();
        for (Path expected : List.of(Path.of("/usr/local/cuda/lib64"),
                Path.of("/usr/local/cuda/targets/x86_64-linux/lib"))) {
            assertEquals(expected.toFile().isDirectory(), folders.contains(expected), expected.toString());
        }
    }
}
