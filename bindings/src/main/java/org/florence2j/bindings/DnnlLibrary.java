package org.florence2j.bindings;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URLConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Finds and loads oneDNN ({@code libdnnl.so.3}) and the OpenMP runtime it was built against ({@code libgomp.so.1}).
 *
 * <p>Search order: {@code -Dflorence2j.dnnl.path} / {@code $FLORENCE2J_DNNL_PATH} (a file or a folder) when set, and
 * then nothing else for oneDNN (a path that cannot be used fails, saying why); otherwise the copies bundled in the
 * {@code org.bytedeco:dnnl:linux-x86_64} jar on the class path, extracted once into
 * {@code <cache>/native/dnnl-<version>/} where {@code <cache>} is {@code -Dflorence2j.cache.dir},
 * {@code $FLORENCE2J_CACHE_DIR} or {@code ~/.cache/florence2j}, then {@code java.library.path}, then the system
 * loader. libgomp is loaded first from the same folder as libdnnl so that the dynamic loader resolves libdnnl's
 * {@code NEEDED libgomp.so.1} to the copy it was built with.
 */
public final class DnnlLibrary {
    /** The oneDNN build the bundled jar carries; names the cache folder so that upgrades never mix files. */
    public static final String BUNDLED_VERSION = "3.13-1.5.14";

    static final String PATH_PROPERTY = "florence2j.dnnl.path";
    static final String PATH_ENV = "FLORENCE2J_DNNL_PATH";
    private static final String CACHE_PROPERTY = "florence2j.cache.dir";
    private static final String CACHE_ENV = "FLORENCE2J_CACHE_DIR";
    private static final String RESOURCE_FOLDER = "org/bytedeco/dnnl/linux-x86_64/";
    private static final String DNNL_FILE = "libdnnl.so.3";
    private static final String GOMP_FILE = "libgomp.so.1";
    private static final String HINT = "Put org.bytedeco:dnnl:" + BUNDLED_VERSION
            + ":linux-x86_64 on the class path, or set -D" + PATH_PROPERTY
            + "=<libdnnl.so.3 or its folder> (or $" + PATH_ENV + ").";

    private DnnlLibrary() {}

    /** Loaded once, on first use of any {@link Dnnl} function (holder-class idiom: lazy and thread-safe). */
    static final class Holder {
        static final Loaded LOADED = load();
    }

    /** The two libraries, found or not; {@link NativeLibrary#downcall} on a missing one throws. */
    record Loaded(NativeLibrary dnnl, NativeLibrary gomp) {}

    /** Searches and loads oneDNN; never throws: a failure surfaces on the first downcall. */
    static Loaded load() {
        List<Path> folders = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        explicitFolder().ifPresent(folders::add);
        try {
            extractBundled().ifPresentOrElse(folders::add, () -> notes.add("classpath:" + RESOURCE_FOLDER
                    + DNNL_FILE + " (not on the class path)"));
        } catch (UncheckedIOException e) {
            notes.add("classpath:" + RESOURCE_FOLDER + DNNL_FILE + " (extraction failed: " + e.getMessage() + ")");
        }
        NativeLibrary gomp = NativeLibrary.find("OpenMP runtime (libgomp)", List.of(GOMP_FILE),
                "florence2j.gomp.path", "FLORENCE2J_GOMP_PATH", folders, HINT);
        NativeLibrary dnnl = find(List.of(DNNL_FILE, "libdnnl.so"), PATH_PROPERTY, PATH_ENV, folders, notes);
        return new Loaded(dnnl, gomp);
    }

    /** {@link NativeLibrary#find} for oneDNN, with notes about the bundled copy prepended to what was searched. */
    static NativeLibrary find(List<String> fileNames, String property, String env, List<Path> folders,
            List<String> notes) {
        NativeLibrary found = NativeLibrary.find("oneDNN", fileNames, property, env, folders, HINT);
        return notes.isEmpty() || found.isAvailable() ? found : found.withSearchedPrefix(notes);
    }

    /** The folder of an explicit path: libgomp is looked for beside an explicitly named libdnnl. */
    private static Optional<Path> explicitFolder() {
        String explicit = Optional.ofNullable(System.getProperty(PATH_PROPERTY)).orElse(System.getenv(PATH_ENV));
        if (explicit == null || explicit.isBlank()) {
            return Optional.empty();
        }
        Path path = Path.of(explicit);
        return Optional.ofNullable(Files.isDirectory(path) ? path : path.getParent());
    }

    /** The cache root: explicit property, then environment variable, then {@code ~/.cache/florence2j}. */
    static Path cacheRoot() {
        String explicit = Optional.ofNullable(System.getProperty(CACHE_PROPERTY)).orElse(System.getenv(CACHE_ENV));
        if (explicit != null && !explicit.isBlank()) {
            return Path.of(explicit);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "florence2j");
    }

    /**
     * Copies the bundled libraries out of the jar into the cache folder unless a complete copy is there.
     *
     * @return the folder, or empty when the jar is not on the class path
     */
    static Optional<Path> extractBundled() {
        ClassLoader loader = DnnlLibrary.class.getClassLoader();
        if (loader.getResource(RESOURCE_FOLDER + DNNL_FILE) == null) {
            return Optional.empty();
        }
        Path folder = cacheRoot().resolve("native").resolve("dnnl-" + BUNDLED_VERSION);
        try {
            Files.createDirectories(folder);
            for (String file : List.of(GOMP_FILE, DNNL_FILE)) {
                extract(loader, RESOURCE_FOLDER + file, folder.resolve(file));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(folder.toString(), e);
        }
        return Optional.of(folder);
    }

    /**
     * Writes one resource to a temporary file in the target folder and renames it into place, so that a
     * concurrent JVM sees either no file or a complete one. A file of the right size is taken as complete.
     */
    private static void extract(ClassLoader loader, String resource, Path target) throws IOException {
        URLConnection connection = loader.getResource(resource).openConnection();
        if (Files.isRegularFile(target) && Files.size(target) == connection.getContentLengthLong()) {
            return;
        }
        try (InputStream in = connection.getInputStream()) {
            Path temporary = Files.createTempFile(target.getParent(), target.getFileName().toString(), ".part");
            try {
                Files.copy(in, temporary, StandardCopyOption.REPLACE_EXISTING);
                Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(temporary);
            }
        }
    }
}
