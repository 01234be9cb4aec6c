package org.florence2j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading oneDNN from the bundled jar, its failure report, and status checking. */
class DnnlTest {
    @Test
    void extractsTheBundledLibrariesIntoTheCacheFolderOnce(@TempDir Path cache) throws Exception {
        String previous = System.getProperty("florence2j.cache.dir");
        System.setProperty("florence2j.cache.dir", cache.toString());
        try {
            Path folder = DnnlLibrary.extractBundled().orElseThrow();
            assertEquals(cache.resolve("native").resolve("dnnl-" + DnnlLibrary.BUNDLED_VERSION), folder);
            Path dnnl = folder.resolve("libdnnl.so.3");
            assertTrue(Files.size(dnnl) > 1_000_000, "libdnnl.so.3 extracted whole");
            assertTrue(Files.size(folder.resolve("libgomp.so.1")) > 10_000, "libgomp.so.1 extracted whole");
            var modified = Files.getLastModifiedTime(dnnl);
            DnnlLibrary.extractBundled();
            assertEquals(modified, Files.getLastModifiedTime(dnnl), "a complete copy is not rewritten");
            try (var files = Files.list(folder)) {
                assertEquals(2, files.count(), "no temporary files left behind");
            }
        } finally {
            if (previous == null) {
                System.clearProperty("florence2j.cache.dir");
            } else {
                System.setProperty("florence2j.cache.dir", previous);
            }
        }
    }

    @Test
    void missingOneDnnNamesEveryPlaceSearchedAndHowToPointAtIt(@TempDir Path empty) {
        String property = "florence2j.test.bogus.dnnl.path";
        System.setProperty(property, "/bogus/folder/libdnnl.so.3");
        try {
            String note = "classpath:org/bytedeco/dnnl/linux-x86_64/libdnnl.so.3 (not on the class path)";
            NativeLibrary missing = DnnlLibrary.find(List.of("libdnnl-bogus.so.3"), property,
                    "FLORENCE2J_TEST_BOGUS", List.of(empty), List.of(note));
            assertFalse(missing.isAvailable());
            var error = assertThrows(NativeLibraryException.class,
                    () -> missing.downcall("dnnl_engine_create", FunctionDescriptor.ofVoid()));
            String message = error.getMessage();
            for (String expected : List.of("oneDNN not found", note, "/bogus/folder/libdnnl.so.3",
                    empty.resolve("libdnnl-bogus.so.3").toString(), "libdnnl-bogus.so.3 (system loader)",
                    "-Dflorence2j.dnnl.path=")) {
                assertTrue(message.contains(expected), "'" + expected + "' missing from: " + message);
            }
        } finally {
            System.clearProperty(property);
        }
    }

    @Test
    void engineAndStreamCreateAndDestroy() {
        MemorySegment engine = Dnnl.engineCreate(Dnnl.ENGINE_CPU, 0);
        MemorySegment stream = Dnnl.streamCreate(engine, Dnnl.STREAM_DEFAULT_FLAGS);
        Dnnl.streamWait(stream);
        Dnnl.streamDestroy(stream);
        Dnnl.engineDestroy(engine);
        assertTrue(Dnnl.ompGetMaxThreads() >= 1);
    }

    @Test
    void failingCallThrowsDnnlExceptionWithCallAndStatusName() {
        var error = assertThrows(DnnlException.class,
                () -> Dnnl.memoryDescCreateWithStrides(new long[] {2, 3}, Dnnl.DATA_TYPE_F32, new long[] {-1, -1}));
        assertEquals("dnnl_memory_desc_create_with_strides", error.call());
        assertEquals(2, error.status());
        assertEquals("dnnl_invalid_arguments", error.statusName());
    }

    @Test
    void spanOfAStridedViewIsLessThanItsFullSize() {
        // q of a packed [2, 5, 3·6] qkv seen as [2, 5, 6]: rows 18 apart.
        MemorySegment view = Dnnl.memoryDescCreateWithStrides(new long[] {2, 5, 6}, Dnnl.DATA_TYPE_F32,
                new long[] {90, 18, 1});
        try {
            assertEquals((90 + 4 * 18 + 5 + 1) * 4, Dnnl.memoryDescSpanBytes(view));
        } finally {
            Dnnl.memoryDescDestroy(view);
        }
    }
}
