package org.florence2j.tensor;

/**
 * Where a tensor's memory lives: host memory for the CPU, or the memory of one CUDA device.
 *
 * @param kind    the kind of device
 * @param ordinal the CUDA device index; 0 for the CPU
 */
public record Device(Kind kind, int ordinal) {
    /** The kinds of device florence2j can run on. */
    public enum Kind {
        CPU,
        CUDA
    }

    public Device {
        if (ordinal < 0) {
            throw new IllegalArgumentException("device ordinal must be >= 0: " + ordinal);
        }
    }

    /** The host CPU. */
    public static Device cpu() {
        return new Device(Kind.CPU, 0);
    }

    /** CUDA device {@code ordinal} (0 is the first GPU). */
    public static Device cuda(int ordinal) {
        return new Device(Kind.CUDA, ordinal);
    }

    /** Whether Java code may read this device's memory directly. */
    public boolean isHost() {
        return kind == Kind.CPU;
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + ordinal;
    }
}
