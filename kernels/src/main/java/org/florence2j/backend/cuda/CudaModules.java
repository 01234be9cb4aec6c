package org.florence2j.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.florence2j.bindings.CudaDriver;
import org.florence2j.bindings.Nvrtc;

/**
 * The kernels of {@code native/cuda/*.cu}, compiled at run time with NVRTC for the device's compute capability
 * and loaded with the driver API.
 *
 * <p>Sources are read from the classpath under {@value #RESOURCE_FOLDER} (the kernels jar carries
 * {@code native/cuda} there). Each file is compiled with {@code common.cuh} prepended, once per process, and its
 * CUBIN is cached on disk under a name that hashes the source, the architecture, the NVRTC version and the
 * options, so a changed kernel or a new toolkit never reuses a stale binary. Modules live in the backend's arena.
 */
final class CudaModules {
    /** Classpath folder holding the {@code .cu} sources. */
    static final String RESOURCE_FOLDER = "florence2j/cuda/";

    private static final Logger LOG = Logger.getLogger(CudaModules.class.getName());
    private static final String COMMON_HEADER = "common.cuh";

    private final Arena owner;
    private final String architecture;
    private final Path cacheFolder;
    private final Map<String, MemorySegment> modules = new HashMap<>();
    private final Map<String, MemorySegment> functions = new HashMap<>();

    /**
     * @param owner        the arena the loaded modules live in
     * @param architecture the real architecture to compile for, e.g. {@code sm_90}
     * @param cacheFolder  where compiled CUBINs are kept between runs
     */
    CudaModules(Arena owner, String architecture, Path cacheFolder) {
        this.owner = owner;
        this.architecture = architecture;
        this.cacheFolder = cacheFolder;
    }

    /** The default cache folder: {@code $XDG_CACHE_HOME/florence2j/cuda}, else {@code ~/.cache/florence2j/cuda}. */
    static Path defaultCacheFolder() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path root = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return root.resolve("florence2j").resolve("cuda");
    }

    /** The kernel {@code kernel} of {@code native/cuda/<file>.cu}, compiling and loading the file on first use. */
    synchronized MemorySegment function(String file, String kernel) {
        String key = file + "/" + kernel;
        MemorySegment function = functions.get(key);
        if (function == null) {
            MemorySegment module = modules.get(file);
            if (module == null) {
                module = load(file);
                modules.put(file, module);
            }
            function = CudaDriver.moduleGetFunction(module, kernel);
            functions.put(key, function);
        }
        return function;
    }

    private MemorySegment load(String file) {
        String source = readSource(COMMON_HEADER) + "\n#line 1 \"" + file + ".cu\"\n" + readSource(file + ".cu");
        // A real architecture (sm_XY, not compute_XY) so NVRTC emits a CUBIN: a PTX image from a newer NVRTC than
        // the driver would be refused by cuModuleLoadData.
        List<String> options = List.of("--gpu-architecture=" + architecture, "--std=c++17");
        int[] version = Nvrtc.version();
        String hash = sha256(source + "\0" + options + "\0nvrtc " + version[0] + "." + version[1]);
        Path cached = cacheFolder.resolve(file + "-" + architecture + "-" + hash.substring(0, 24) + ".cubin");
        byte[] cubin = readCache(cached);
        if (cubin == null) {
            cubin = Nvrtc.compileToCubin(source, file + ".cu", options);
            writeCache(cached, cubin);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment image = arena.allocateFrom(ValueLayout.JAVA_BYTE, cubin);
            return CudaDriver.moduleLoadData(image, owner);
        }
    }

    private static String readSource(String name) {
        try (InputStream in = CudaModules.class.getClassLoader().getResourceAsStream(RESOURCE_FOLDER + name)) {
            if (in == null) {
                throw new IllegalStateException("CUDA kernel source " + RESOURCE_FOLDER + name + " is not on the "
                        + "classpath; the florence2j-kernels jar is built with native/cuda as resources there");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read CUDA kernel source " + RESOURCE_FOLDER + name, e);
        }
    }

    private static byte[] readCache(Path cached) {
        try {
            return Files.isRegularFile(cached) ? Files.readAllBytes(cached) : null;
        } catch (IOException e) {
            LOG.log(Level.FINE, "unreadable kernel cache " + cached + "; compiling again", e);
            return null;
        }
    }

    /** Writes through a temporary file and a rename, so a concurrent reader never sees half a CUBIN. */
    private static void writeCache(Path cached, byte[] cubin) {
        try {
            Files.createDirectories(cached.getParent());
            Path temporary = Files.createTempFile(cached.getParent(), cached.getFileName().toString(), ".tmp");
            Files.write(temporary, cubin);
            try {
                Files.move(temporary, cached, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temporary, cached, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            // The cache only saves compile time; the kernel just compiled is used either way.
            LOG.log(Level.WARNING, "cannot cache compiled kernel at " + cached + ": " + e.getMessage());
        }
    }

    private static String sha256(String text) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JDK", e);
        }
    }
}
