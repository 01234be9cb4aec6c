package org.florence2j.checkpoint;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.florence2j.checkpoint.RestrictedUnpickler.StorageRef;
import org.florence2j.checkpoint.RestrictedUnpickler.TensorRef;
import org.florence2j.error.IoErrors;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Device;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * A {@code pytorch_model.bin} as {@code torch.save(state_dict)} writes it since torch 1.6 (the format of the official
 * {@code microsoft/Florence-2-*} repositories): a zip of uncompressed entries {@code <prefix>/data.pkl} (the
 * pickled dict), {@code <prefix>/data/<key>} (one raw little-endian storage per key), {@code <prefix>/version} and,
 * from torch 2, {@code <prefix>/byteorder}. The pickle is read by {@link RestrictedUnpickler}, which runs no code.
 *
 * <p>Tensors are views of the mapped storages, so storages shared by several keys (tied weights) are shared here
 * too. A tensor whose strides are not row-major is copied once, at open, into off-heap memory owned by this
 * checkpoint.
 */
public final class PytorchCheckpoint implements Checkpoint {
    private final Path file;
    private final Arena arena;
    private final Map<String, Tensor> tensors;

    private PytorchCheckpoint(Path file, Arena arena, Map<String, Tensor> tensors) {
        this.file = file;
        this.arena = arena;
        this.tensors = tensors;
    }

    /**
     * Maps {@code file}, reads its pickle without running code, and checks every tensor against its storage.
     *
     * @throws CheckpointException naming the file, the tensor or zip entry, and the byte offset of the first problem
     */
    public static PytorchCheckpoint open(Path file) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapped;
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            } catch (IOException e) {
                throw new CheckpointException(file, null, -1, "cannot be read: " + IoErrors.reason(e), e);
            }
            StoredZip zip = StoredZip.read(file, mapped);
            return new PytorchCheckpoint(file, arena, Collections.unmodifiableMap(tensors(zip, arena)));
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static Map<String, Tensor> tensors(StoredZip zip, Arena arena) {
        Path file = zip.file();
        String prefix = prefix(zip);
        checkByteOrder(zip, prefix);
        String pickleName = prefix + "data.pkl";
        MemorySegment pickle = zip.find(pickleName).orElseThrow(() -> new CheckpointException(file, null, -1,
                "has no zip entry '" + pickleName + "': not a torch.save checkpoint"));
        Object top = RestrictedUnpickler.read(file, pickleName, pickle);
        if (!(top instanceof Map<?, ?> dict)) {
            throw new CheckpointException(file, null, -1, pickleName + " holds a single object, not a dict of"
                    + " tensors (a state dict): save model.state_dict(), not the model");
        }
        Map<String, MemorySegment> storages = new HashMap<>();
        Map<String, StorageRef> storageRefs = new HashMap<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<?, ?> item : dict.entrySet()) {
            if (!(item.getKey() instanceof String name) || !(item.getValue() instanceof TensorRef ref)) {
                throw new CheckpointException(file, String.valueOf(item.getKey()), -1, "in " + pickleName
                        + " is not a tensor under a string key: the pickle is not a state dict");
            }
            StorageRef first = storageRefs.putIfAbsent(ref.storage().key(), ref.storage());
            if (first != null && !first.equals(ref.storage())) {
                throw new CheckpointException(file, name, ref.byteOffset(), "describes storage '" + first.key()
                        + "' as " + ref.storage() + " but an earlier tensor described it as " + first);
            }
            MemorySegment storage = storages.computeIfAbsent(ref.storage().key(),
                    key -> storage(zip, prefix, name, ref.storage()));
            tensors.put(name, tensor(file, name, ref, storage, arena));
        }
        return tensors;
    }

    /** The folder all entries sit in: torch names it after the file ("pytorch_model/"), others use "archive/". */
    private static String prefix(StoredZip zip) {
        String first = zip.names().iterator().hasNext() ? zip.names().iterator().next() : "";
        int slash = first.indexOf('/');
        if (slash <= 0) {
            throw new CheckpointException(zip.file(), null, 0, "first zip entry '" + first
                    + "' is not inside a folder: not a torch.save checkpoint");
        }
        return first.substring(0, slash + 1);
    }

    private static void checkByteOrder(StoredZip zip, String prefix) {
        // torch 1.x writes no byteorder record and always little-endian data.
        Optional<MemorySegment> record = zip.find(prefix + "byteorder");
        if (record.isPresent()) {
            String order = new String(record.get().toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII).strip();
            if (!order.equals("little")) {
                throw new CheckpointException(zip.file(), null, -1, "byteorder record is '" + order
                        + "'; only little-endian checkpoints are read");
            }
        }
    }

    private static MemorySegment storage(StoredZip zip, String prefix, String tensorName, StorageRef ref) {
        String entry = prefix + "data/" + ref.key();
        MemorySegment data = zip.find(entry).orElseThrow(() -> new CheckpointException(zip.file(), tensorName, -1,
                "refers to storage '" + ref.key() + "' but the zip has no entry '" + entry + "'"));
        long expected;
        try {
            expected = Math.multiplyExact(ref.numel(), ref.dtype().byteSize());
        } catch (ArithmeticException e) {
            expected = -1;
        }
        if (data.byteSize() != expected) {
            throw new CheckpointException(zip.file(), tensorName, -1, "storage entry '" + entry + "' holds "
                    + data.byteSize() + " bytes but the pickle says " + ref.numel() + " " + ref.dtype()
                    + " elements");
        }
        return data;
    }

    private static Tensor tensor(Path file, String name, TensorRef ref, MemorySegment storage, Arena arena) {
        long[] size = ref.size();
        long[] stride = ref.stride();
        String where = "(storage '" + ref.storage().key() + "', " + ref.storage().numel()
                + " elements; storage_offset " + ref.storageOffset() + ", size " + Arrays.toString(size)
                + ", stride " + Arrays.toString(stride) + "; data.pkl byte " + ref.byteOffset() + ")";
        int[] dims = new int[size.length];
        long lastElement = ref.storageOffset();
        try {
            for (int i = 0; i < size.length; i++) {
                if (size[i] <= 0 || size[i] > Integer.MAX_VALUE) {
                    throw new CheckpointException(file, name, ref.byteOffset(), "has dimension " + size[i]
                            + ", which florence2j does not hold (empty or over 2^31 elements) " + where);
                }
                dims[i] = (int) size[i];
                lastElement = Math.addExact(lastElement, Math.multiplyExact(size[i] - 1, stride[i]));
            }
        } catch (ArithmeticException e) {
            lastElement = Long.MAX_VALUE;
        }
        if (lastElement >= ref.storage().numel()) {
            throw new CheckpointException(file, name, ref.byteOffset(), "reaches past the end of its storage "
                    + where);
        }
        // Every element lies inside the storage (checked above), so the element count cannot overflow the shape.
        Shape shape = new Shape(dims);
        DType dtype = ref.storage().dtype();
        long elementBytes = dtype.byteSize();
        if (isRowMajor(size, stride)) {
            MemorySegment view = storage.asSlice(ref.storageOffset() * elementBytes,
                    shape.elementCount() * elementBytes);
            return Tensor.wrap(dtype, shape, Device.cpu(), view);
        }
        // A strided view can repeat elements (stride 0); its copy is bounded by the stored data, so that a few
        // bytes of pickle cannot demand gigabytes of memory.
        if (shape.elementCount() > ref.storage().numel()) {
            throw new CheckpointException(file, name, ref.byteOffset(), "is a strided view of more elements ("
                    + shape.elementCount() + ") than its storage holds; florence2j copies strided tensors and"
                    + " refuses to enlarge them " + where);
        }
        return gather(dtype, shape, ref, storage, arena);
    }

    private static boolean isRowMajor(long[] size, long[] stride) {
        long expected = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            // A dimension of size 1 is never stepped over, so its stride does not matter.
            if (size[i] != 1 && stride[i] != expected) {
                return false;
            }
            expected *= size[i];
        }
        return true;
    }

    /** Copies a strided tensor into row-major order, element by element (rare: state dicts are contiguous). */
    private static Tensor gather(DType dtype, Shape shape, TensorRef ref, MemorySegment storage, Arena arena) {
        Tensor copy = Tensor.allocateHost(dtype, shape, arena);
        MemorySegment target = copy.memory();
        long elementBytes = dtype.byteSize();
        long[] size = ref.size();
        long[] stride = ref.stride();
        long[] index = new long[size.length];
        long count = shape.elementCount();
        for (long flat = 0; flat < count; flat++) {
            long source = ref.storageOffset();
            for (int i = 0; i < size.length; i++) {
                source += index[i] * stride[i];
            }
            MemorySegment.copy(storage, source * elementBytes, target, flat * elementBytes, elementBytes);
            for (int i = size.length - 1; i >= 0 && ++index[i] == size[i]; i--) {
                index[i] = 0;
            }
        }
        return copy;
    }

    /** The file this was read from. */
    public Path file() {
        return file;
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
