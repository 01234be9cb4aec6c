package org.florence2j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.florence2j.InvalidInputException;
import org.florence2j.backend.Backend;
import org.florence2j.model.text.GoldenText;
import org.junit.jupiter.api.Test;

/**
 * {@link Session.Limits}: what it refuses, and that an image size is optional; a session that cannot be made frees
 * what it had allocated.
 */
class SessionLimitsTest {
    @Test
    void countsMustBePositiveAndAnImageSizeWholeOrAbsent() {
        assertThrows(IllegalArgumentException.class, () -> new Session.Limits(0, 32, 32, 3));
        assertThrows(IllegalArgumentException.class, () -> new Session.Limits(1, 32, 32, 0));
        assertThrows(IllegalArgumentException.class, () -> new Session.Limits(1, 32, 32, 3, 768, 0));
        assertThrows(IllegalArgumentException.class, () -> new Session.Limits(1, 32, 32, 3, -768, -768));
        var error = assertThrows(IllegalArgumentException.class, () -> new Session.Limits(1, 32, 32, 3, 0, 64));
        assertEquals("session image size must be positive, or 0 x 0 when not known: 0 x 64", error.getMessage());
        Session.Limits unknown = new Session.Limits(1, 32, 32, 3);
        assertEquals(new Session.Limits(1, 32, 32, 3, 0, 0), unknown);
    }

    /**
     * A session holds room for no more new tokens than the decoder has learned positions: a sequence cannot grow
     * past them, so a request for two billion new tokens fits like one for 1024.
     */
    @Test
    void aSessionHoldsRoomForTheDecodersPositionsAtMost() {
        try (GoldenText golden = GoldenText.open("cpu")) {
            Session.Limits asked = new Session.Limits(1, 32, 2_000_000_000, 3);
            try (Session session = new Session(golden.backend(), golden.model(), asked)) {
                assertEquals(new Session.Limits(1, 32, 1024, 3), session.limits());
            }
            assertEquals(1024, Session.reachableNewTokens(golden.model(), 5000));
            assertEquals(20, Session.reachableNewTokens(golden.model(), 20));
        }
    }

    /**
     * A session is sized for the most its limits allow, but is resident only where a request touches it: made for
     * 1,000 beams of 1,024 new tokens (2.3 GB of text scratch, mostly KV cache, for the tiny model: all resident when
     * it was zeroed at once), it adds
     * little to resident memory until it runs, and making it takes no pass over that memory (which a request's
     * timeout could not stop).
     */
    @Test
    void aLargeSessionIsResidentOnlyWhereARequestTouchesIt() throws Exception {
        try (GoldenText golden = GoldenText.open("cpu")) {
            Session.Limits limits = new Session.Limits(1, 32, 1024, 1_000);
            long before = residentKib();
            try (Session session = new Session(golden.backend(), golden.model(), limits)) {
                long grown = residentKib() - before;
                assertTrue(grown < 1024 * 1024, "resident memory grew by " + grown + " KiB for a session of "
                        + session.limits());
            }
        }
    }

    private static long residentKib() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    /** A session that could not fit is refused before anything of it is allocated, naming what it needs. */
    @Test
    void aSessionThatCannotFitIsRefusedBeforeItIsAllocated() {
        try (GoldenText golden = GoldenText.open("cpu")) {
            // 40,000 beams: 40,000 rows × 80,000 candidates, past Java's longest array.
            var arrays = assertThrows(InvalidInputException.class,
                    () -> new Session(golden.backend(), golden.model(), new Session.Limits(1, 32, 2, 40_000)));
            assertTrue(arrays.getMessage().contains("longer than Java's arrays"), arrays.getMessage());
        }
        Session.Limits limits = new Session.Limits(2, 600, 20, 3);
        Session.requireMemory(limits, 4_000_000_000L, 1_000_000_000L, 2_000_000_000L, 8_000_000_000L);
        var heap = assertThrows(InvalidInputException.class,
                () -> Session.requireMemory(limits, 1_000, 3_000_000_000L, 2_000_000_000L, 8_000_000_000L));
        assertEquals("a session for 2 images × 3 beams × 20 new tokens and 600 encoder tokens needs 3.0 GB of Java"
                + " heap, more than the JVM's limit of 2.0 GB: ask for fewer images, beams or new tokens at once, or"
                + " a shorter prompt", heap.getMessage());
        var machine = assertThrows(InvalidInputException.class,
                () -> Session.requireMemory(limits, 7_500_000_000L, 1_000_000_000L, 2_000_000_000L, 8_000_000_000L));
        assertTrue(machine.getMessage().contains("needs 8.5 GB of memory, more than this machine's 8.0 GB"),
                machine.getMessage());
    }

    /**
     * Memory that runs out while a session is made (here its last step, as if the heap had no room left for the
     * search's arrays) refuses the request as too large, and the session's arena, holding the scratch already
     * allocated, is closed rather than kept for good.
     */
    @Test
    void aSessionWithoutMemoryLeftIsRefusedAndFreesItsBuffers() {
        List<Arena> arenas = new ArrayList<>();
        try (Backend real = GoldenText.openBackend("cpu"); GoldenText golden = new GoldenText(real)) {
            Backend failing = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(),
                    new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                        if (method.getName().equals("newStepGraph")) {
                            throw new OutOfMemoryError("Java heap space");
                        }
                        if (method.getName().equals("allocate") && args.length == 3 && args[2] instanceof Arena a) {
                            arenas.add(a);
                        }
                        try {
                            return method.invoke(real, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
            var refused = assertThrows(InvalidInputException.class,
                    () -> new Session(failing, golden.model(), new Session.Limits(2, 32, 40, 3)));
            assertTrue(refused.getMessage().contains("2 images × 3 beams × 40 new tokens"), refused.getMessage());
            assertTrue(refused.getMessage().contains("fewer images, beams or new tokens"), refused.getMessage());
            assertInstanceOf(OutOfMemoryError.class, refused.getCause());
            assertFalse(arenas.isEmpty(), "the session allocated nothing through its backend");
            for (Arena arena : arenas) {
                assertFalse(arena.scope().isAlive(), "an arena of the failed session is still open");
            }
        }
    }
}
