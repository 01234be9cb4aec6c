package org.florence2j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Explicit library paths and late-failing downcalls, on the oneDNN copy the bindings' tests extract. */
class NativeLibraryTest {
    private static final String PROPERTY = "florence2j.test.explicit.path";
    private static final String ENV = "FLORENCE2J_TEST_EXPLICIT_PATH";

    @Test
    void anExplicitFolderIsSearchedForTheFileNames() {
        Path bundled = DnnlLibrary.extractBundled().orElseThrow();
        NativeLibrary library = withExplicitPath(bundled.toString(), List.of());
        assertTrue(library.isAvailable());
        assertEquals(bundled.resolve("libdnnl.so.3"), library.loadedFrom().orElseThrow());
    }

    @Test
    void aFileThatIsNotALibrarySaysItCannotBeLoaded(@TempDir Path folder) throws Exception {
        Path text = Files.writeString(folder.resolve("libdnnl.so.3"), "not a shared library");
        Path bundled = DnnlLibrary.extractBundled().orElseThrow();
        NativeLibrary library = withExplicitPath(text.toString(), List.of(bundled));
        assertFalse(library.isAvailable());
        String message = library.failure().orElseThrow().getMessage();
        assertTrue(message.contains(text + ", which cannot be loaded"), message);
    }

    @Test
    void aFolderWithoutTheLibrarySaysSo(@TempDir Path folder) {
        String message = withExplicitPath(folder.toString(), List.of()).failure().orElseThrow().getMessage();
        assertTrue(message.contains(folder + ", which holds none of [libdnnl.so.3]"), message);
    }

    @Test
    void aMissingSymbolFailsEveryCallWithATypedError() throws Throwable {
        NativeLibrary library = withExplicitPath(DnnlLibrary.extractBundled().orElseThrow().toString(), List.of());
        MethodHandle missing = library.lateFailingDowncall("dnnl_no_such_function",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        for (int call = 0; call < 2; call++) {
            var error = assertThrows(NativeLibraryException.class, () -> {
                int status = (int) missing.invokeExact(MemorySegment.NULL);
            });
            assertTrue(error.getMessage().contains("symbol 'dnnl_no_such_function' not found"), error.getMessage());
        }
        MethodHandle present = library.lateFailingDowncall("dnnl_engine_get_count",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        assertTrue((long) present.invokeExact(Dnnl.ENGINE_CPU) >= 1, "a present symbol binds as usual");
    }

    private static NativeLibrary withExplicitPath(String path, List<Path> extraFolders) {
        System.setProperty(PROPERTY, path);
        try {
            return NativeLibrary.find("oneDNN", List.of("libdnnl.so.3"), PROPERTY, ENV, extraFolders, "hint");
        } finally {
            System.clearProperty(PROPERTY);
        }
    }
}
