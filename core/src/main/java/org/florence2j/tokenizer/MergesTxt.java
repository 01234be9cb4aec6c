package org.florence2j.tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.florence2j.checkpoint.CheckpointException;
import org.florence2j.checkpoint.FileErrors;

/**
 * A {@code merges.txt}: one merge {@code "a b"} per line in rank order, after an optional {@code #version} line;
 * empty lines are skipped. Remembers each merge's line, so that a merge refused later is named by it.
 */
final class MergesTxt {
    private final Path file;
    private final List<String[]> pairs;
    private final List<Integer> lines; // 1-based line of each merge

    private MergesTxt(Path file, List<String[]> pairs, List<Integer> lines) {
        this.file = file;
        this.pairs = pairs;
        this.lines = lines;
    }

    /**
     * Reads {@code file}.
     *
     * @throws CheckpointException naming the file, and the line when one is not two tokens
     */
    static MergesTxt read(Path file) {
        FileErrors.requireRegularFile(file);
        List<String> text;
        try {
            text = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw FileErrors.readError(file, e);
        }
        List<String[]> pairs = new ArrayList<>(text.size());
        List<Integer> lines = new ArrayList<>(text.size());
        for (int i = 0; i < text.size(); i++) {
            String line = text.get(i);
            if (line.isEmpty() || line.startsWith("#version")) {
                continue;
            }
            try {
                pairs.add(split(line, pairs.size()));
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(file, null, -1, "line " + (i + 1) + ": " + e.getMessage(), e);
            }
            lines.add(i + 1);
        }
        return new MergesTxt(file, pairs, lines);
    }

    /**
     * The pair of a merge written {@code "a b"}.
     *
     * @throws IllegalArgumentException naming the merge by {@code rank} when it is not two tokens
     */
    static String[] split(String merge, int rank) {
        int space = merge.indexOf(' ');
        if (space <= 0 || space == merge.length() - 1 || merge.indexOf(' ', space + 1) >= 0) {
            throw new IllegalArgumentException("merge " + rank + " '" + merge + "' is not two tokens");
        }
        return new String[] {merge.substring(0, space), merge.substring(space + 1)};
    }

    /** The merges in rank order. */
    List<String[]> pairs() {
        return pairs;
    }

    /** The error for {@code refused}, naming this file and the merge's line. */
    CheckpointException error(ByteLevelBpe.MergeOutsideVocab refused) {
        return new CheckpointException(file, null, -1, "line " + lines.get(refused.rank()) + ": "
                + refused.getMessage(), refused);
    }
}
