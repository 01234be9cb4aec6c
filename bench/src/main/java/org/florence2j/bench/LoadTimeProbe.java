package org.florence2j.bench;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.florence2j.checkpoint.Checkpoint;
import org.florence2j.checkpoint.Checkpoints;
import org.florence2j.checkpoint.LoadedCheckpoint;

/**
 * Measures what loading a model folder costs before any compute: the time to open it ({@link Checkpoints#open}:
 * map, parse the header or pickle, build the tensor views) and to read every byte of every tensor once, and the
 * resident memory after each (VmRSS, and VmHWM, the peak, from {@code /proc/self/status}). Run it under
 * {@code /usr/bin/time -v} for the process's peak RSS as the OS reports it.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar org.florence2j.bench.LoadTimeProbe DIR
 * </pre>
 */
public final class LoadTimeProbe {
    private static final int REOPENS = 10;

    private LoadTimeProbe() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: LoadTimeProbe MODEL_DIR");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        long start = System.nanoTime();
        try (LoadedCheckpoint loaded = Checkpoints.open(dir)) {
            long opened = System.nanoTime();
            String afterOpen = memory();
            Checkpoint weights = loaded.checkpoint();
            long checksum = 0;
            long bytes = 0;
            for (String name : weights.names()) {
                MemorySegment data = weights.tensor(name).memory();
                checksum += touch(data);
                bytes += data.byteSize();
            }
            long touched = System.nanoTime();
            System.out.printf("%s: %s %s, %d tensors, %d bytes read (checksum %x)%n", dir, loaded.layout(),
                    loaded.format(), weights.names().size(), bytes, checksum);
            System.out.printf("open %.1f ms (%s); read all %.1f ms (%s)%n", (opened - start) / 1e6, afterOpen,
                    (touched - opened) / 1e6, memory());
        }
        System.out.printf("open again, best of %d in this JVM: %.1f ms%n", REOPENS, bestReopenNanos(dir) / 1e6);
    }

    /** The first open pays for class loading and JIT; later ones show the format's own cost. */
    private static long bestReopenNanos(Path dir) {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < REOPENS; i++) {
            long start = System.nanoTime();
            try (LoadedCheckpoint loaded = Checkpoints.open(dir)) {
                best = Math.min(best, System.nanoTime() - start);
            }
        }
        return best;
    }

    /** Sums every long of {@code data} (and its tail bytes), so that every page is read. */
    private static long touch(MemorySegment data) {
        long sum = 0;
        long longs = data.byteSize() / 8;
        for (long i = 0; i < longs; i++) {
            sum += data.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
        }
        for (long i = longs * 8; i < data.byteSize(); i++) {
            sum += data.get(ValueLayout.JAVA_BYTE, i);
        }
        return sum;
    }

    /** VmRSS and VmHWM of this process, in MiB. */
    private static String memory() throws IOException {
        List<String> status = Files.readAllLines(Path.of("/proc/self/status"));
        return "rss " + field(status, "VmRSS:") + " MiB, peak " + field(status, "VmHWM:") + " MiB";
    }

    private static long field(List<String> status, String name) {
        for (String line : status) {
            if (line.startsWith(name)) {
                return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]) / 1024;
            }
        }
        return -1;
    }
}
