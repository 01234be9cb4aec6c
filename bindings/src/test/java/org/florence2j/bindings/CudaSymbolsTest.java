package org.florence2j.bindings;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every symbol a CUDA binding class binds ({@code downcall("name", …)} in its source) is exported by the library it
 * loads, checked where that library is installed, which needs no GPU (the toolkit alone has the runtime): a
 * misspelt or too new name otherwise fails only when a GPU first calls it. Aborts where the library is missing.
 */
class CudaSymbolsTest {
    private static final Pattern DOWNCALL = Pattern.compile("downcall\\(\"(\\w+)\"");

    @ParameterizedTest(name = "{0}")
    @CsvSource({"CudaRuntime", "CudaDriver", "Cublas", "Cudnn", "Nvrtc"})
    void everyBoundSymbolIsExported(String binding) throws IOException {
        NativeLibrary library = libraryOf(binding).get();
        library.failure().ifPresent(e -> Assumptions.abort("CUDA unavailable: " + e.getMessage()));
        List<String> symbols = new ArrayList<>();
        Matcher downcall = DOWNCALL.matcher(Files.readString(
                Path.of("src/main/java/org/florence2j/bindings/" + binding + ".java")));
        while (downcall.find()) {
            symbols.add(downcall.group(1));
        }
        assertTrue(symbols.size() >= 5, binding + " binds only " + symbols);
        List<String> missing = new ArrayList<>();
        for (String symbol : symbols) {
            try {
                library.address(symbol);
            } catch (NativeLibraryException e) {
                missing.add(symbol);
            }
        }
        assertTrue(missing.isEmpty(), library.loadedFrom().orElseThrow() + " lacks " + missing);
    }

    private static Supplier<NativeLibrary> libraryOf(String binding) {
        return switch (binding) {
            case "CudaRuntime" -> CudaRuntime::library;
            case "CudaDriver" -> CudaDriver::library;
            case "Cublas" -> Cublas::library;
            case "Cudnn" -> Cudnn::library;
            case "Nvrtc" -> Nvrtc::library;
            default -> throw new IllegalArgumentException(binding);
        };
    }
}
