package org.florence2j.model;

import java.lang.foreign.Arena;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.florence2j.backend.Backend;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;

/** {@link Taps} that keep a host F32 copy of every tapped tensor, in its own arena, until closed. */
public final class RecordingTaps implements Taps, AutoCloseable {
    private final Backend backend;
    private final Arena arena = Arena.ofShared();
    private final Map<String, Tensor> recorded = new LinkedHashMap<>();

    public RecordingTaps(Backend backend) {
        this.backend = backend;
    }

    @Override
    public synchronized void tap(String name, Tensor tensor) {
        Tensor copy = Tensor.allocateHost(DType.F32, tensor.shape(), arena);
        backend.download(tensor, copy);
        recorded.put(name, copy);
    }

    /** Every recorded tensor by tap name, in the order recorded (a later tap of the same name replaces it). */
    public synchronized Map<String, Tensor> recorded() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(recorded));
    }

    /** The tensor recorded under {@code name}, or {@code null}. */
    public synchronized Tensor get(String name) {
        return recorded.get(name);
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
