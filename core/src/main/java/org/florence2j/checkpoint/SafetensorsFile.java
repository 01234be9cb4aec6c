package org.florence2j.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.florence2j.error.IoErrors;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * One {@code .safetensors} file, memory-mapped whole as a {@link MemorySegment} (no 2 GB limit) and validated
 * before any tensor is handed out: header length within the file and at most {@value #MAX_HEADER_BYTES} bytes,
 * valid JSON, known dtypes, {@code end - begin == elements × dtype size}, offsets inside the data section and not
 * overlapping. Tensors are views of the mapping, valid until {@link #close()}.
 *
 * <p>Format: an unsigned little-endian 64-bit header length {@code n}, {@code n} bytes of JSON
 * ({@code {"name": {"dtype", "shape", "data_offsets": [begin, end)}, "__metadata__": {...}}}), then the data
 * section, to which the offsets are relative.
 */
public final class SafetensorsFile implements Checkpoint {
    /** Headers above this are refused before reading them: real ones are a few hundred kilobytes. */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private final Path file;
    private final Arena arena;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path file, Arena arena, Map<String, Tensor> tensors, Map<String, String> metadata) {
        this.file = file;
        this.arena = arena;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /**
     * Maps and validates {@code file}.
     *
     * @throws CheckpointException naming the file, tensor and offsets of the first problem found
     */
    public static SafetensorsFile open(Path file) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapped;
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                long fileSize = channel.size();
                if (fileSize < 8) {
                    throw new CheckpointException(file, null, 0,
                            "is " + fileSize + " bytes, too short for a safetensors header length (8 bytes)");
                }
                mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, fileSize, arena);
            } catch (IOException e) {
                throw new CheckpointException(file, null, -1, "cannot be read: " + IoErrors.reason(e), e);
            }
            SafetensorsFile result = parse(file, arena, mapped);
            return result;
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static SafetensorsFile parse(Path file, Arena arena, MemorySegment mapped) {
        long fileSize = mapped.byteSize();
        long headerBytes = mapped.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerBytes < 0 || headerBytes > MAX_HEADER_BYTES) {
            throw new CheckpointException(file, null, 0, "header length " + Long.toUnsignedString(headerBytes)
                    + " is over the " + MAX_HEADER_BYTES + "-byte limit: not a safetensors file, or corrupt");
        }
        if (headerBytes > fileSize - 8) {
            throw new CheckpointException(file, null, 0, "header length " + headerBytes
                    + " exceeds the file (" + fileSize + " bytes): truncated or not a safetensors file");
        }
        String headerText;
        try {
            // Strict: a lenient decode would turn an invalid name into one with U+FFFD, later "missing".
            headerText = StandardCharsets.UTF_8.newDecoder().decode(mapped.asSlice(8, headerBytes).asByteBuffer())
                    .toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointException(file, null, 8, "header is not valid UTF-8 text", e);
        }
        JsonNode header;
        try {
            header = JsonFiles.JSON.readTree(headerText);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(file, null, 8, "header is not valid JSON: " + JsonFiles.syntaxError(e), e);
        }
        if (header == null || !header.isObject()) {
            throw new CheckpointException(file, null, 8, "header is not a JSON object");
        }
        long dataStart = 8 + headerBytes;
        long dataBytes = fileSize - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals("__metadata__")) {
                field.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            entries.add(entry(file, field.getKey(), field.getValue(), dataBytes));
        }
        List<Entry> byBegin = new ArrayList<>(entries);
        byBegin.sort(Comparator.comparingLong(Entry::begin));
        for (int i = 1; i < byBegin.size(); i++) {
            Entry previous = byBegin.get(i - 1);
            Entry current = byBegin.get(i);
            if (current.begin() < previous.end()) {
                throw new CheckpointException(file, current.name(), dataStart + current.begin(),
                        "data_offsets [" + current.begin() + "," + current.end() + ") overlap tensor '"
                                + previous.name() + "' [" + previous.begin() + "," + previous.end() + ")");
            }
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Entry entry : entries) {
            MemorySegment data = mapped.asSlice(dataStart + entry.begin(), entry.end() - entry.begin());
            tensors.put(entry.name(), Tensor.wrap(entry.dtype(), entry.shape(), Device.cpu(), data));
        }
        return new SafetensorsFile(file, arena, Collections.unmodifiableMap(tensors),
                Collections.unmodifiableMap(metadata));
    }

    private record Entry(String name, DType dtype, Shape shape, long begin, long end) {}

    private static Entry entry(Path file, String name, JsonNode node, long dataBytes) {
        if (!node.isObject()) {
            throw new CheckpointException(file, name, -1, "header entry is not an object");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new CheckpointException(file, name, -1, "has no dtype");
        }
        DType dtype = DType.fromSafetensorsName(dtypeNode.asText()).orElseThrow(() -> new CheckpointException(
                file, name, -1, "has unknown dtype '" + dtypeNode.asText() + "'"));
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new CheckpointException(file, name, -1, "has no shape array");
        }
        int[] dims = new int[shapeNode.size()];
        for (int i = 0; i < dims.length; i++) {
            JsonNode dim = shapeNode.get(i);
            if (!dim.isIntegralNumber() || !dim.canConvertToInt() || dim.asInt() <= 0) {
                throw new CheckpointException(file, name, -1, "has unsupported shape " + shapeNode
                        + " (dimensions must be positive integers)");
            }
            dims[i] = dim.asInt();
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2 || !isLong(offsets.get(0))
                || !isLong(offsets.get(1))) {
            throw new CheckpointException(file, name, -1, "has no valid data_offsets [begin, end)");
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataBytes) {
            throw new CheckpointException(file, name, begin, "data_offsets [" + begin + "," + end
                    + ") exceed data section (" + dataBytes + " bytes)");
        }
        long expected = byteSize(dims, dtype);
        if (end - begin != expected) {
            throw new CheckpointException(file, name, begin, "data_offsets [" + begin + "," + end + ") hold "
                    + (end - begin) + " bytes but " + dtype + Arrays.toString(dims) + " needs "
                    + (expected < 0 ? "over 2^63" : expected));
        }
        // The size check above bounds the element count, so the shape is valid.
        return new Entry(name, dtype, new Shape(dims), begin, end);
    }

    private static boolean isLong(JsonNode value) {
        return value.isIntegralNumber() && value.canConvertToLong();
    }

    /** Bytes of a {@code dims} tensor of {@code dtype}, or -1 when that overflows (a hostile header's shape). */
    private static long byteSize(int[] dims, DType dtype) {
        try {
            long bytes = dtype.byteSize();
            for (int dim : dims) {
                bytes = Math.multiplyExact(bytes, dim);
            }
            return bytes;
        } catch (ArithmeticException e) {
            return -1;
        }
    }

    /** The file this was read from. */
    public Path file() {
        return file;
    }

    /** The header's {@code __metadata__} strings. */
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public Optional<Tensor> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    @Override
    public Path fileOf(String name) {
        return file;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
