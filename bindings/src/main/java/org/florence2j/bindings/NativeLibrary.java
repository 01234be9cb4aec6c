package org.florence2j.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One native shared library, searched for once and bound lazily.
 *
 * <p>Finding a library never throws: {@link #find} records what it tried, and the first {@link #downcall} on a
 * missing library throws {@link NativeLibraryException} naming every place searched and the property or
 * environment variable that points at another copy (tinygrad's late, clear failure). A missing symbol names the
 * symbol and the file actually loaded.
 *
 * <p>Libraries are loaded into the global arena: a shared library, once {@code dlopen}ed, lives as long as the
 * process, whatever owns the handles made from it.
 */
public final class NativeLibrary {
    private final String displayName;
    private final String hint;
    private final List<String> searched;
    private final SymbolLookup lookup;
    private final Path loadedFrom;
    private final Throwable lastFailure;

    private NativeLibrary(
            String displayName,
            String hint,
            List<String> searched,
            SymbolLookup lookup,
            Path loadedFrom,
            Throwable lastFailure) {
        this.displayName = displayName;
        this.hint = hint;
        this.searched = List.copyOf(searched);
        this.lookup = lookup;
        this.loadedFrom = loadedFrom;
        this.lastFailure = lastFailure;
    }

    /**
     * Searches for a library: the explicit path in {@code -D<propertyName>} or {@code $<envName>} (a file, or a
     * folder holding one of {@code fileNames}) when one is set, and nothing else then, so that a path a user named is
     * never silently passed over for another copy; otherwise each folder of {@code extraFolders}, then
     * {@code java.library.path}, then the operating system's loader by bare file name.
     *
     * @param displayName  the human name used in errors, e.g. {@code "cuBLAS"}
     * @param fileNames    the file names to try, most specific first, e.g. {@code libcublas.so.12}
     * @param propertyName the system property naming an explicit path
     * @param envName      the environment variable naming an explicit path
     * @param extraFolders further folders to try before {@code java.library.path}
     * @param hint         what a user can do when nothing is found, appended to the error
     */
    public static NativeLibrary find(
            String displayName,
            List<String> fileNames,
            String propertyName,
            String envName,
            List<Path> extraFolders,
            String hint) {
        String property = System.getProperty(propertyName);
        String explicit = property != null ? property : System.getenv(envName);
        if (explicit != null && !explicit.isBlank()) {
            String source = property != null ? "-D" + propertyName : "$" + envName;
            return findExplicit(displayName, fileNames, Path.of(explicit), source, hint);
        }
        List<Path> candidates = new ArrayList<>();
        for (Path folder : extraFolders) {
            fileNames.forEach(name -> candidates.add(folder.resolve(name)));
        }
        String libraryPath = System.getProperty("java.library.path", "");
        for (String folder : libraryPath.split(java.io.File.pathSeparator)) {
            if (!folder.isBlank()) {
                fileNames.forEach(name -> candidates.add(Path.of(folder, name)));
            }
        }
        Attempts attempts = new Attempts();
        for (Path candidate : candidates) {
            SymbolLookup lookup = attempts.load(candidate, "");
            if (lookup != null) {
                return new NativeLibrary(displayName, hint, attempts.searched, lookup, candidate, null);
            }
        }
        for (String name : fileNames) {
            attempts.searched.add(name + " (system loader)");
            try {
                SymbolLookup lookup = SymbolLookup.libraryLookup(name, Arena.global());
                return new NativeLibrary(displayName, hint, attempts.searched, lookup, Path.of(name), null);
            } catch (IllegalArgumentException e) {
                attempts.lastFailure = e;
            }
        }
        return new NativeLibrary(displayName, hint, attempts.searched, null, null, attempts.lastFailure);
    }

    /** The library at an explicitly named file or folder, or a failure that says why that path cannot be used. */
    private static NativeLibrary findExplicit(String displayName, List<String> fileNames, Path path, String source,
            String hint) {
        List<Path> candidates =
                Files.isDirectory(path) ? fileNames.stream().map(path::resolve).toList() : List.of(path);
        Attempts attempts = new Attempts();
        for (Path candidate : candidates) {
            SymbolLookup lookup = attempts.load(candidate, " (from " + source + ")");
            if (lookup != null) {
                return new NativeLibrary(displayName, hint, attempts.searched, lookup, candidate, null);
            }
        }
        Throwable failure = attempts.lastFailure;
        String reason = failure != null ? "cannot be loaded: " + failure.getMessage()
                : Files.isDirectory(path) ? "holds none of " + fileNames
                : Files.exists(path) ? "is not a regular file" : "does not exist";
        String why = displayName + ": " + source + " names " + path + ", which " + reason
                + "; unset it to use the copy florence2j finds itself";
        return new NativeLibrary(displayName, why, attempts.searched, null, null, failure);
    }

    /** The candidates one search tried, in order, and the last one's load failure, for its error message. */
    private static final class Attempts {
        final List<String> searched = new ArrayList<>();
        Throwable lastFailure;

        /** Loads {@code file} if it is a regular file the dynamic loader accepts, else null; notes it as tried. */
        SymbolLookup load(Path file, String labelSuffix) {
            searched.add(file + labelSuffix);
            if (!Files.isRegularFile(file)) {
                return null;
            }
            try {
                return SymbolLookup.libraryLookup(file, Arena.global());
            } catch (IllegalArgumentException e) {
                lastFailure = e;
                return null;
            }
        }
    }

    /** Whether the library was found and loaded. */
    public boolean isAvailable() {
        return lookup != null;
    }

    /** The file that was loaded, if any. */
    public Optional<Path> loadedFrom() {
        return Optional.ofNullable(loadedFrom);
    }

    /** Every candidate tried while searching, in order. */
    public List<String> searched() {
        return searched;
    }

    /**
     * This library with {@code notes} put before the candidates it searched, for places a caller looked
     * before calling {@link #find} (e.g. a copy bundled in a jar that was not on the class path).
     */
    public NativeLibrary withSearchedPrefix(List<String> notes) {
        List<String> all = new ArrayList<>(notes);
        all.addAll(searched);
        return new NativeLibrary(displayName, hint, all, lookup, loadedFrom, lastFailure);
    }

    /** The error the first use would throw; empty when the library is loaded. */
    public Optional<NativeLibraryException> failure() {
        return isAvailable() ? Optional.empty() : Optional.of(notFound());
    }

    /**
     * Looks up {@code symbol} and makes a downcall handle for it.
     *
     * @throws NativeLibraryException if the library was not found or does not export the symbol
     */
    public MethodHandle downcall(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        return Linker.nativeLinker().downcallHandle(address(symbol), descriptor, options);
    }

    /**
     * {@link #downcall}, or, where the library or the symbol is missing, a handle of the same type that throws that
     * {@link NativeLibraryException} each time it is called. Bindings' holder classes use it, so that a missing
     * library or symbol fails every call with a typed error naming what was searched, instead of failing class
     * initialisation once ({@code ExceptionInInitializerError}) and then with a bare {@code NoClassDefFoundError}.
     */
    public MethodHandle lateFailingDowncall(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        try {
            return downcall(symbol, descriptor, options);
        } catch (NativeLibraryException e) {
            MethodType type = descriptor.toMethodType();
            MethodHandle thrower = MethodHandles.throwException(type.returnType(), NativeLibraryException.class);
            return MethodHandles.dropArguments(thrower.bindTo(e), 0, type.parameterList());
        }
    }

    /**
     * The address of {@code symbol}.
     *
     * @throws NativeLibraryException if the library was not found or does not export the symbol
     */
    public MemorySegment address(String symbol) {
        if (lookup == null) {
            throw notFound();
        }
        return lookup.find(symbol)
                .orElseThrow(() -> new NativeLibraryException(
                        displayName,
                        searched,
                        displayName + ": symbol '" + symbol + "' not found in " + loadedFrom
                                + "; the library is too old or not the expected build. " + hint));
    }

    private NativeLibraryException notFound() {
        String message = displayName + " not found; searched: " + searched + ". " + hint;
        return lastFailure == null
                ? new NativeLibraryException(displayName, searched, message)
                : new NativeLibraryException(displayName, searched, message, lastFailure);
    }
}
