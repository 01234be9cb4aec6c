package org.florence2j.model;

import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;
import org.florence2j.checkpoint.Checkpoint;
import org.florence2j.tensor.Tensor;

/** A checkpoint with one tensor hidden, to test the error for a missing weight. */
final class FilteredCheckpoint implements Checkpoint {
    private final Checkpoint inner;
    private final String hidden;

    FilteredCheckpoint(Checkpoint inner, String hidden) {
        this.inner = inner;
        this.hidden = hidden;
    }

    @Override
    public Set<String> names() {
        Set<String> names = new LinkedHashSet<>(inner.names());
        names.remove(hidden);
        return names;
    }

    @Override
    public Optional<Tensor> find(String name) {
        return name.equals(hidden) ? Optional.empty() : inner.find(name);
    }

    @Override
    public Path fileOf(String name) {
        return inner.fileOf(name);
    }

    @Override
    public void close() {}
}
