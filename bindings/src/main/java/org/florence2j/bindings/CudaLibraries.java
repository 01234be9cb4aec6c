package org.florence2j.bindings;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * Where CUDA's shared libraries are looked for, shared by {@link CudaRuntime}, {@link CudaDriver}, {@link Cublas},
 * {@link Cudnn} and {@link Nvrtc}. After the explicit property or environment variable that
 * {@link NativeLibrary#find} checks first, the folders are, in order: {@code $CUDA_HOME} and {@code $CUDA_PATH}, the
 * conventional {@code /usr/local/cuda*} installs (newest version first), each folder of {@code $LD_LIBRARY_PATH},
 * and the {@code nvidia/<package>/lib} folders where pip-installed CUDA wheels ({@code nvidia-cublas-cu12},
 * {@code nvidia-cuda-nvrtc}, {@code nvidia-cudnn-cu12}, …) put their libraries, in every Python
 * {@code site-packages} we can see: the active virtualenv or conda env, {@code $PYTHONPATH}, the environment of
 * each {@code python3} on {@code $PATH}, the user's and the system's.
 */
public final class CudaLibraries {
    private static final List<String> INSTALL_SUBFOLDERS = List.of("lib64", "lib", "targets/x86_64-linux/lib");

    private CudaLibraries() {}

    /**
     * Searches for one CUDA library.
     *
     * @param displayName the human name, e.g. {@code "cuBLAS"}
     * @param fileNames   file names to try, newest major version first
     * @param key         the short name in {@code -Dflorence2j.<key>.path} and {@code FLORENCE2J_<KEY>_PATH}
     */
    public static NativeLibrary find(String displayName, List<String> fileNames, String key) {
        return find(displayName, fileNames, key, "the CUDA 12 or 13 toolkit or the matching nvidia-* pip wheels");
    }

    /**
     * As {@link #find(String, List, String)}, for a library the CUDA toolkit does not ship.
     *
     * @param install what to install, for the error's hint, e.g. {@code "cuDNN 9"}
     */
    public static NativeLibrary find(String displayName, List<String> fileNames, String key, String install) {
        String property = "florence2j." + key + ".path";
        String env = "FLORENCE2J_" + key.toUpperCase(Locale.ROOT).replace('.', '_') + "_PATH";
        String hint = "Set -D" + property + "=<file or folder> (or $" + env + "), set CUDA_HOME, or install "
                + install + ".";
        return NativeLibrary.find(displayName, fileNames, property, env, folders(), hint);
    }

    /** Every folder searched after the explicit path, in order, without duplicates; missing folders are kept out. */
    public static List<Path> folders() {
        return folders(System::getenv);
    }

    /** {@link #folders()} with the environment variables read from {@code environment}. */
    static List<Path> folders(UnaryOperator<String> environment) {
        Set<Path> folders = new LinkedHashSet<>();
        for (String variable : List.of("CUDA_HOME", "CUDA_PATH")) {
            String root = environment.apply(variable);
            if (root != null && !root.isBlank()) {
                INSTALL_SUBFOLDERS.forEach(sub -> folders.add(Path.of(root, sub)));
            }
        }
        List<Path> installs = new ArrayList<>();
        installs.add(Path.of("/usr/local/cuda"));
        installs.addAll(children(Path.of("/usr/local"), "cuda-").stream()
                .sorted(Comparator.comparing(Path::toString).reversed()).toList());
        for (Path install : installs) {
            INSTALL_SUBFOLDERS.forEach(sub -> folders.add(install.resolve(sub)));
        }
        addPathList(folders, environment.apply("LD_LIBRARY_PATH"));
        for (Path sitePackages : sitePackages(environment)) {
            for (Path nvidiaPackage : children(sitePackages.resolve("nvidia"), "")) {
                folders.add(nvidiaPackage.resolve("lib"));
            }
        }
        folders.add(Path.of("/usr/lib/x86_64-linux-gnu"));
        folders.add(Path.of("/usr/lib64"));
        folders.add(Path.of("/usr/lib/wsl/lib"));
        return folders.stream().filter(Files::isDirectory).toList();
    }

    /**
     * Python package folders: the active virtualenv or conda env, PYTHONPATH, the environment that each
     * {@code python3} on PATH belongs to (a virtualenv used without activating it, as PyTorch images ship one), the
     * user's and the system's.
     */
    private static List<Path> sitePackages(UnaryOperator<String> environment) {
        Set<Path> roots = new LinkedHashSet<>();
        for (String variable : List.of("VIRTUAL_ENV", "CONDA_PREFIX")) {
            String prefix = environment.apply(variable);
            if (prefix != null && !prefix.isBlank()) {
                roots.add(Path.of(prefix, "lib"));
            }
        }
        Set<Path> path = new LinkedHashSet<>();
        addPathList(path, environment.apply("PATH"));
        for (Path bin : path) {
            if (bin.getParent() != null && Files.isRegularFile(bin.resolve("python3"))) {
                roots.add(bin.getParent().resolve("lib"));
            }
        }
        roots.add(Path.of(System.getProperty("user.home"), ".local", "lib"));
        roots.add(Path.of("/usr/local/lib"));
        roots.add(Path.of("/usr/lib"));
        Set<Path> result = new LinkedHashSet<>();
        addPathList(result, environment.apply("PYTHONPATH"));
        for (Path root : roots) {
            for (Path python : children(root, "python3")) {
                result.add(python.resolve("site-packages"));
                result.add(python.resolve("dist-packages"));
            }
        }
        return result.stream().filter(Files::isDirectory).toList();
    }

    private static void addPathList(Set<Path> folders, String pathList) {
        if (pathList == null) {
            return;
        }
        for (String folder : pathList.split(java.io.File.pathSeparator)) {
            if (!folder.isBlank()) {
                folders.add(Path.of(folder));
            }
        }
    }

    /** Sub-folders of {@code parent} whose names start with {@code prefix}; none when it is unreadable. */
    private static List<Path> children(Path parent, String prefix) {
        if (!Files.isDirectory(parent)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(parent)) {
            return entries.filter(Files::isDirectory)
                    .filter(path -> path.getFileName().toString().startsWith(prefix))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /**
     * Loads the newest {@code filePrefix*} file beside an already loaded library into the process, so that the
     * library finds it by soname when it {@code dlopen}s it later even though the folder is not on the loader's
     * path (libnvrtc loads libnvrtc-builtins on its first compile). Failures are ignored: the library's own use
     * then reports what is missing.
     */
    static void preloadSibling(NativeLibrary library, String filePrefix) {
        library.loadedFrom().map(Path::getParent).filter(Files::isDirectory).ifPresent(folder -> {
            try (Stream<Path> entries = Files.list(folder)) {
                entries.filter(path -> path.getFileName().toString().startsWith(filePrefix))
                        .filter(Files::isRegularFile)
                        .max(Comparator.comparing(Path::toString))
                        .ifPresent(CudaLibraries::preload);
            } catch (IOException e) {
                // the library's own use reports what is missing
            }
        });
    }

    /** The NUL-terminated C string at {@code pointer}, or {@code fallback} when it is null. */
    static String string(MemorySegment pointer, String fallback) {
        return pointer.equals(MemorySegment.NULL) ? fallback : pointer.reinterpret(Long.MAX_VALUE).getString(0);
    }

    private static void preload(Path file) {
        try {
            SymbolLookup.libraryLookup(file, Arena.global());
        } catch (IllegalArgumentException e) {
            // the library's own use reports what is missing
        }
    }
}
