package org.florence2j.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;
import org.florence2j.tensor.DType;

/**
 * The random full-size Florence-2-base folder the model and end-to-end benchmarks load, written once by
 * {@link RandomCheckpoint} and reused by every later run (1.08 GB in F32).
 *
 * <p>It lives under {@code bench/target/} (ignored by git, removed by {@code mvn clean}); override with
 * {@code -Dflorence2j.bench.folder=DIR} (pass it to the forks with {@code -jvmArgsAppend}). The folder is written
 * under a temporary name and renamed when complete, so an interrupted run never leaves a half-written model to be
 * reused. Paths are relative to the repository root, where the documented commands run.
 */
public final class RandomBaseFolder {
    static final Path CONFIG = Path.of("core/src/test/resources/golden/configs/config-base.json");
    static final Path TOKENIZER = Path.of("core/src/test/resources/golden/tiny/model");

    private RandomBaseFolder() {}

    /** The folder for {@code dtype} weights, written first if it does not exist yet. */
    public static synchronized Path get(DType dtype) {
        String name = "random-base-" + dtype.name().toLowerCase(java.util.Locale.ROOT);
        Path folder = Path.of(System.getProperty("florence2j.bench.folder", "bench/target/" + name));
        if (Files.isDirectory(folder)) {
            return folder;
        }
        Path partial = folder.resolveSibling(folder.getFileName() + ".partial");
        try {
            deleteRecursively(partial);
            RandomCheckpoint.write(CONFIG, TOKENIZER, partial, dtype, 768);
            Files.move(partial, folder, StandardCopyOption.ATOMIC_MOVE);
            return folder;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the random benchmark model " + folder
                    + " (run from the repository root)", e);
        }
    }

    private static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
