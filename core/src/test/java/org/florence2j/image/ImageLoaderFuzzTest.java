package org.florence2j.image;

import static org.florence2j.ByteMutations.mutate;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.florence2j.InvalidInputException;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Mutates every committed test image many times (seeded, so a failure reproduces) and requires every outcome to be
 * either a decoded image or an {@link InvalidInputException} that names the input: never another exception, an
 * error or a hang (a decode that never ends fails the test after a minute). A few seconds for all the formats.
 */
class ImageLoaderFuzzTest {
    private static final Path IMAGES = TestImages.resource("/images");
    private static final ImageLoader LOADER = new ImageLoader();
    private static final long SEED = 20261128L;
    private static final int MUTATIONS = 400;

    static Stream<String> images() throws IOException {
        try (Stream<Path> files = Files.list(IMAGES)) {
            List<String> names = files.map(file -> file.getFileName().toString())
                    .filter(name -> !name.endsWith(".json") && !name.endsWith(".py")).sorted().toList();
            return names.stream();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("images")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void mutatedImageDecodesOrIsRefusedWithTheTypedError(String file) throws IOException {
        byte[] original = Files.readAllBytes(IMAGES.resolve(file));
        Random random = new Random(SEED + file.hashCode());
        int refused = 0;
        for (int mutation = 0; mutation < MUTATIONS; mutation++) {
            String name = file + " mutation " + mutation;
            try {
                LOADER.load(mutate(original, random), name);
            } catch (InvalidInputException e) {
                assertTrue(e.getMessage().contains(name), () -> "message does not name the input: " + e.getMessage());
                refused++;
            } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
                throw new AssertionError(name + " (seed " + SEED + ") threw " + e, e);
            }
        }
        // Edits of the pixel data often leave a decodable image; edits of the headers are refused (3/5 of a BMP's
        // mutations, nearly all of a PNG's, whose chunks carry checksums).
        int least = MUTATIONS / 3;
        assertTrue(refused > least, "only " + refused + " of " + MUTATIONS + " mutations were refused");
    }
}
