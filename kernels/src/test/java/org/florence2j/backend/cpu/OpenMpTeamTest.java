package org.florence2j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link OpenMpTeam}: every share runs once, on its own thread, and a share's exception reaches the caller. */
class OpenMpTeamTest {
    private final OpenMpTeam team = new OpenMpTeam();

    @AfterEach
    void close() {
        team.close();
    }

    @ParameterizedTest(name = "{0} threads")
    @ValueSource(ints = {1, 2, 3})
    void runsEveryShareOnceOnItsOwnThread(int threads) {
        AtomicIntegerArray runs = new AtomicIntegerArray(threads);
        int[] counts = new int[threads];
        Set<Thread> javaThreads = ConcurrentHashMap.newKeySet();
        Thread caller = Thread.currentThread();
        boolean[] callerRanShareZero = new boolean[1];
        for (int region = 0; region < 100; region++) {
            team.run((thread, count) -> {
                runs.incrementAndGet(thread);
                counts[thread] = count;
                javaThreads.add(Thread.currentThread());
                if (thread == 0) {
                    callerRanShareZero[0] = Thread.currentThread() == caller;
                }
            }, threads);
        }
        int started = counts[0];
        assertTrue(started >= 1 && started <= threads, "team of " + started + " for " + threads + " requested");
        int[] expected = new int[threads];
        Arrays.fill(expected, 0, started, 100);
        int[] actual = new int[threads];
        for (int t = 0; t < threads; t++) {
            actual[t] = runs.get(t);
        }
        assertArrayEquals(expected, actual, "regions each share number ran in");
        assertEquals(started, javaThreads.size(), "distinct threads");
        assertTrue(callerRanShareZero[0], "share 0 runs on the calling thread");
    }

    @Test
    void aSharesExceptionReachesTheCallerAfterTheRegion() {
        IllegalArgumentException thrown = new IllegalArgumentException("share failed");
        AtomicIntegerArray finished = new AtomicIntegerArray(2);
        int[] started = new int[1];
        IllegalArgumentException caught = assertThrows(IllegalArgumentException.class,
                () -> team.run((thread, count) -> {
                    if (thread == 0) {
                        started[0] = count;
                        throw thrown;
                    }
                    finished.incrementAndGet(thread);
                }, 2));
        assertSame(thrown, caught);
        assertEquals(started[0] > 1 ? 1 : 0, finished.get(1), "the other share returned before the exception did");
        AssertionError error = new AssertionError("an error");
        assertSame(error, assertThrows(AssertionError.class, () -> team.run((thread, count) -> {
            throw error;
        }, 2)));
        int[] ran = new int[1];
        team.run((thread, count) -> {
            if (thread == 0) {
                ran[0]++;
            }
        }, 2);
        assertEquals(1, ran[0], "the team runs again after a failure");
    }

    @Test
    void aCheckedExceptionIsWrapped() {
        Exception checked = new Exception("checked");
        IllegalStateException wrapped = assertThrows(IllegalStateException.class, () -> team.run((thread, count) -> {
            sneakyThrow(checked);
        }, 1));
        assertSame(checked, wrapped.getCause());
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> void sneakyThrow(Throwable t) throws T {
        throw (T) t;
    }
}
