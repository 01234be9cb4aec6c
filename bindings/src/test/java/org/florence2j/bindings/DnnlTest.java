package org.florence2j.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
        String note = "classpath:org/bytedeco/dnnl/linux-x86_64/libdnnl.so.3 (not on the class path)";
        NativeLibrary missing = DnnlLibrary.find(List.of("libdnnl-bogus.so.3"), "florence2j.test.unset.dnnl.path",
                "FLORENCE2J_TEST_UNSET", List.of(empty), List.of(note));
        assertFalse(missing.isAvailable());
        var error = assertThrows(NativeLibraryException.class,
                () -> missing.downcall("dnnl_engine_create", FunctionDescriptor.ofVoid()));
        String message = error.getMessage();
        for (String expected : List.of("oneDNN not found", note, empty.resolve("libdnnl-bogus.so.3").toString(),
                "libdnnl-bogus.so.3 (system loader)", "-Dflorence2j.dnnl.path=")) {
            assertTrue(message.contains(expected), "'" + expected + "' missing from: " + message);
        }
    }

    @Test
    void anExplicitPathThatCannotBeUsedFailsInsteadOfFallingBackToTheBundledCopy() {
        Path bundled = DnnlLibrary.extractBundled().orElseThrow();
        String property = "florence2j.test.bogus.dnnl.path";
        System.setProperty(property, "/bogus/folder/libdnnl.so.3");
        try {
            NativeLibrary named = DnnlLibrary.find(List.of("libdnnl.so.3"), property, "FLORENCE2J_TEST_BOGUS",
                    List.of(bundled), List.of());
            assertFalse(named.isAvailable(), "the bundled copy in the extra folder is not used");
            var error = assertThrows(NativeLibraryException.class,
                    () -> named.downcall("dnnl_engine_create", FunctionDescriptor.ofVoid()));
            assertTrue(error.getMessage().contains("-D" + property + " names /bogus/folder/libdnnl.so.3, which does "
                    + "not exist"), error.getMessage());
            assertEquals(List.of("/bogus/folder/libdnnl.so.3 (from -D" + property + ")"), error.searched());
        } finally {
            System.clearProperty(property);
        }
    }

    /** A sum reduction over rows, as the decode benchmark's bandwidth probe runs it: each row's exact sum. */
    @Test
    void sumReductionOverRows() {
        MemorySegment engine = Dnnl.engineCreate(Dnnl.ENGINE_CPU, 0);
        MemorySegment stream = Dnnl.streamCreate(engine, Dnnl.STREAM_DEFAULT_FLAGS);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = Dnnl.memoryDescCreateWithStrides(new long[] {3, 64}, Dnnl.DATA_TYPE_F32,
                    new long[] {64, 1});
            MemorySegment dst = Dnnl.memoryDescCreateWithStrides(new long[] {3, 1}, Dnnl.DATA_TYPE_F32,
                    new long[] {1, 1});
            MemorySegment pd = Dnnl.reductionPrimitiveDescCreate(engine, Dnnl.REDUCTION_SUM, src, dst, 0f, 0f,
                    MemorySegment.NULL);
            MemorySegment primitive = Dnnl.primitiveCreate(pd);
            MemorySegment in = arena.allocate(ValueLayout.JAVA_FLOAT, 3 * 64);
            for (int i = 0; i < 3 * 64; i++) {
                in.setAtIndex(ValueLayout.JAVA_FLOAT, i, (i / 64 + 1) * (i % 64));
            }
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, 3);
            MemorySegment srcMemory = Dnnl.memoryCreate(src, engine, in);
            MemorySegment dstMemory = Dnnl.memoryCreate(dst, engine, out);
            Dnnl.primitiveExecute(primitive, stream, 2,
                    Dnnl.execArgs(arena, Dnnl.ARG_SRC, srcMemory, Dnnl.ARG_DST, dstMemory));
            Dnnl.streamWait(stream);
            for (int row = 0; row < 3; row++) {
                assertEquals((row + 1) * 2016f, out.getAtIndex(ValueLayout.JAVA_FLOAT, row), "row " + row);
            }
            Dnnl.memoryDestroy(srcMemory);
            Dnnl.memoryDestroy(dstMemory);
            Dnnl.primitiveDestroy(primitive);
            Dnnl.primitiveDescDestroy(pd);
            Dnnl.memoryDescDestroy(src);
            Dnnl.memoryDescDestroy(dst);
        } finally {
            Dnnl.streamDestroy(stream);
            Dnnl.engineDestroy(engine);
        }
    }

    /** The effective ISA is one of the values oneDNN's header names, whichever CPU runs this. */
    @Test
    void getEffectiveCpuIsaIsOneOfTheNamedSets() {
        String name = Dnnl.cpuIsaName(Dnnl.getEffectiveCpuIsa());
        assertFalse(name.startsWith("0x"), name);
        assertEquals("avx512_core_bf16", Dnnl.cpuIsaName(0xe7));
        assertEquals("avx512_core_amx", Dnnl.cpuIsaName(0xfef));
        assertEquals("avx10_2_amx_2", Dnnl.cpuIsaName(0x22fff));
        assertEquals("0x3ff", Dnnl.cpuIsaName(0x3ff));
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
