package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.florence2j.backend.Backend;
import org.florence2j.backend.Backends;
import org.florence2j.backend.cuda.CudaBackend;
import org.florence2j.bindings.CudaException;
import org.florence2j.bindings.NativeLibrary;
import org.florence2j.bindings.NativeLibraryException;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Typed errors: wrong shapes, use after close, a missing library, an unbuilt device. */
class CpuBackendErrorTest {
    @Test
    void wrongShapeNamesTheOpAndEveryShape() {
        try (var t = new CpuVsReference(41)) {
            Tensor x = t.random(1, 1, 4, 8);
            Tensor weight = t.random(1, 6, 7);
            Tensor out = t.zeros(1, 4, 6);
            var error = assertThrows(IllegalArgumentException.class, () -> t.cpu.linear(out, x, weight, null));
            assertTrue(error.getMessage().startsWith("linear: "), error.getMessage());
            for (String shape : List.of("[1, 4, 6]", "[1, 4, 8]", "[6, 7]")) {
                assertTrue(error.getMessage().contains(shape), error.getMessage());
            }
            Tensor qkv = t.random(1, 1, 4, 10);
            var attention = assertThrows(IllegalArgumentException.class,
                    () -> t.cpu.selfAttention(t.zeros(1, 4, 3), qkv, 2, 1f));
            String message = attention.getMessage();
            assertTrue(message.contains("selfAttention") && message.contains("[1, 4, 10]"), message);
        }
    }

    /**
     * Attention scores for which no host memory is left (one head of 2²⁰ tokens: 4 TB) throw an OutOfMemoryError,
     * and the backend's scratch is then not the memory that the failed growth freed: a smaller attention after it
     * gives what it gave before.
     */
    @Test
    void scratchThatCannotGrowLeavesTheBackendUsable() {
        try (var t = new CpuVsReference(43)) {
            Tensor qkv = t.random(1, 2, 16, 3 * 8);
            Tensor before = t.zeros(2, 16, 8);
            t.cpu.selfAttention(before, qkv, 2, 0.5f);
            int tokens = 1 << 20;
            Tensor hugeQkv = t.zeros(1, tokens, 3);
            assertThrows(OutOfMemoryError.class, () -> t.cpu.selfAttention(t.zeros(1, tokens, 1), hugeQkv, 1, 1f));
            Tensor after = t.zeros(2, 16, 8);
            t.cpu.selfAttention(after, qkv, 2, 0.5f);
            assertArrayEquals(before.toFloatArray(), after.toFloatArray());
        }
    }

    @Test
    void embeddingRejectsIdsOutsideTheVocabulary() {
        try (var t = new CpuVsReference(42)) {
            Tensor ids = Tensor.ofInts(Shape.of(1, 2), t.arena, 3, 10);
            var error = assertThrows(IllegalArgumentException.class,
                    () -> t.cpu.embedding(t.zeros(1, 2, 4), t.random(1, 10, 4), ids));
            assertTrue(error.getMessage().contains("id 10"), error.getMessage());
        }
    }

    @Test
    void opsAfterCloseThrowIllegalState() {
        Backend backend = Backends.open(Device.cpu());
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = backend.allocate(DType.F32, Shape.of(1, 2, 3), arena);
            backend.close();
            backend.close();
            assertThrows(IllegalStateException.class, () -> backend.gelu(x, x));
            assertThrows(IllegalStateException.class, () -> backend.allocate(DType.F32, Shape.of(1), arena));
        }
    }

    @Test
    void tensorsOfAClosedArenaThrowIllegalState() {
        try (CpuBackend backend = new CpuBackend(1)) {
            Arena arena = Arena.ofConfined();
            Tensor x = backend.allocate(DType.F32, Shape.of(2, 3), arena);
            arena.close();
            assertThrows(IllegalStateException.class, () -> backend.softmax(x, x));
        }
    }

    @Test
    void threadCountsBeyondTheCapAreRefusedBeforeOpenMpSeesThem() {
        var error = assertThrows(IllegalArgumentException.class, () -> new CpuBackend(CpuBackend.MAX_THREADS + 1));
        assertTrue(error.getMessage().contains("0 to " + CpuBackend.MAX_THREADS), error.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new CpuBackend(-1));
    }

    @Test
    void missingLibraryNamesEveryPlaceSearched() {
        NativeLibrary missing = NativeLibrary.find("oneDNN", List.of("libdnnl-missing.so.3"),
                "florence2j.test.missing.path", "FLORENCE2J_TEST_MISSING_PATH", List.of(Path.of("/nonexistent")),
                "set -Dflorence2j.dnnl.path=...");
        assertFalse(missing.isAvailable());
        var error = assertThrows(NativeLibraryException.class, () -> missing.address("dnnl_engine_create"));
        assertEquals("oneDNN", error.library());
        assertTrue(error.getMessage().contains("/nonexistent/libdnnl-missing.so.3"), error.getMessage());
        assertTrue(error.getMessage().contains("libdnnl-missing.so.3 (system loader)"), error.getMessage());
        assertTrue(error.getMessage().contains("florence2j.dnnl.path"), error.getMessage());
    }

    @Test
    void cudaOpensOrFailsWithATypedErrorNamingWhatWasSearched() {
        try (Backend cuda = Backends.open(Device.cuda(0))) {
            assertEquals(Device.cuda(0), cuda.device(), "a machine with a GPU opens the CUDA backend");
        } catch (NativeLibraryException e) {
            assertTrue(e.getMessage().contains("searched"), e.getMessage());
            assertFalse(e.searched().isEmpty(), "the error lists the places searched");
        } catch (CudaException e) {
            // The libraries load but no device answers (a toolkit's stub driver, CUDA_VISIBLE_DEVICES=""); any other
            // CUDA failure on a machine with a GPU is a failure of the backend.
            assertTrue(Set.of("cudaErrorNoDevice", "cudaErrorInsufficientDriver", "cudaErrorStubLibrary",
                    "CUDA_ERROR_NO_DEVICE", "CUDA_ERROR_STUB_LIBRARY").contains(e.statusName()), e.getMessage());
        }
    }

    /** A negative ordinal is the caller's mistake, refused before any CUDA library is asked. */
    @Test
    void aNegativeCudaOrdinalIsRefused() {
        var error = assertThrows(IllegalArgumentException.class, () -> CudaBackend.open(-1));
        assertTrue(error.getMessage().contains("-1"), error.getMessage());
    }
}
