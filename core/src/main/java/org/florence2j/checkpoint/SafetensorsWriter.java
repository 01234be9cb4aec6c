package org.florence2j.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.florence2j.error.IoErrors;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * Writes {@code .safetensors} files that {@link SafetensorsFile} (and HuggingFace's reader) accept: the header
 * is padded with spaces to a multiple of 8 bytes so every tensor's data stays 8-byte aligned.
 *
 * <p>The output is memory-mapped and each tensor's bytes are produced straight into the mapping, so writing a
 * multi-gigabyte checkpoint needs no heap. The file appears atomically: it is written beside the target and
 * moved into place.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One tensor to write.
     *
     * @param name   the tensor's name in the header
     * @param dtype  element type
     * @param shape  dimensions
     * @param filler writes exactly {@code shape × dtype} little-endian bytes into the segment it is given
     */
    public record Entry(String name, DType dtype, Shape shape, Consumer<MemorySegment> filler) {
        long byteSize() {
            return shape.elementCount() * dtype.byteSize();
        }
    }

    private SafetensorsWriter() {}

    /** Writes host tensors under their names, with optional {@code __metadata__} strings. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        List<Entry> entries = new ArrayList<>();
        tensors.forEach((name, tensor) -> entries.add(new Entry(name, tensor.dtype(), tensor.shape(),
                target -> MemorySegment.copy(tensor.memory(), 0, target, 0, tensor.byteSize()))));
        write(file, entries, metadata);
    }

    /**
     * Writes {@code entries} in order, each filled in place.
     *
     * @throws CheckpointException when {@code file} cannot be written, or exists and is not a regular file (a
     *                             folder, pipe or device, which moving the new file into place would replace)
     */
    public static void write(Path file, List<Entry> entries, Map<String, String> metadata) {
        if (Files.exists(file) && !Files.isRegularFile(file)) {
            throw new CheckpointException(file, null, -1, "exists and is not a regular file; it is not replaced");
        }
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long dataBytes = 0;
        for (Entry entry : entries) {
            ObjectNode node = header.putObject(entry.name());
            node.put("dtype", entry.dtype().safetensorsName());
            ArrayNode dims = node.putArray("shape");
            for (int dim : entry.shape().dims()) {
                dims.add(dim);
            }
            ArrayNode offsets = node.putArray("data_offsets");
            offsets.add(dataBytes);
            dataBytes += entry.byteSize();
            offsets.add(dataBytes);
        }
        byte[] headerText;
        try {
            headerText = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise a safetensors header", e);
        }
        int paddedHeader = (headerText.length + 7) / 8 * 8;
        long total = 8 + paddedHeader + dataBytes;
        Path temporary = file.resolveSibling(file.getFileName() + ".partial");
        try (Arena arena = Arena.ofConfined();
                FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment out = channel.map(FileChannel.MapMode.READ_WRITE, 0, total, arena);
            out.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, paddedHeader);
            MemorySegment.copy(headerText, 0, out, ValueLayout.JAVA_BYTE, 8, headerText.length);
            out.asSlice(8 + headerText.length, paddedHeader - headerText.length).fill((byte) ' ');
            long byteOffset = 8 + paddedHeader;
            for (Entry entry : entries) {
                entry.filler().accept(out.asSlice(byteOffset, entry.byteSize()));
                byteOffset += entry.byteSize();
            }
            out.force();
        } catch (IOException e) {
            deleteQuietly(temporary, e);
            throw new CheckpointException(file, null, -1, "cannot be written: " + IoErrors.reason(e), e);
        } catch (RuntimeException e) {
            // A filler failed (e.g. a source tensor's file was closed): no half-written file is left behind.
            deleteQuietly(temporary, e);
            throw e;
        }
        try {
            Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(temporary, e);
            throw new CheckpointException(file, null, -1, "cannot be moved into place: " + IoErrors.reason(e), e);
        }
    }

    private static void deleteQuietly(Path temporary, Exception failure) {
        try {
            Files.deleteIfExists(temporary);
        } catch (IOException e) {
            failure.addSuppressed(e);
        }
    }
}
