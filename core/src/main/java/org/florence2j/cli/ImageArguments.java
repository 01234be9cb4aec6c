package org.florence2j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;
import org.florence2j.InvalidInputException;
import org.florence2j.error.IoErrors;

/** Turns the {@code IMAGE} arguments into image files: a folder stands for the image files in it, by name. */
final class ImageArguments {
    /** File name extensions of the formats the image loader reads. */
    static final Set<String> EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff");

    private ImageArguments() {}

    /**
     * The image files named by {@code arguments}, in order; each folder replaced by its image files sorted by name
     * (not recursively).
     *
     * @throws InvalidInputException when an argument does not exist, or a folder holds no image file
     */
    static List<Path> expand(List<Path> arguments) {
        List<Path> files = new ArrayList<>();
        for (Path argument : arguments) {
            if (Files.isDirectory(argument)) {
                List<Path> inFolder = imagesIn(argument);
                if (inFolder.isEmpty()) {
                    throw new InvalidInputException("folder '" + argument + "' holds no image file (" + EXTENSIONS
                            + ")");
                }
                files.addAll(inFolder);
            } else if (Files.notExists(argument)) {
                throw new InvalidInputException("image file '" + argument + "' does not exist");
            } else {
                files.add(argument); // the image loader says why one it cannot even look at is unreadable
            }
        }
        return files;
    }

    private static List<Path> imagesIn(Path folder) {
        try (Stream<Path> entries = Files.list(folder)) {
            return entries.filter(Files::isRegularFile).filter(ImageArguments::hasImageExtension).sorted().toList();
        } catch (IOException e) {
            throw new InvalidInputException("folder '" + folder + "' cannot be listed: " + IoErrors.reason(e), e);
        }
    }

    private static boolean hasImageExtension(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 && EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }
}
