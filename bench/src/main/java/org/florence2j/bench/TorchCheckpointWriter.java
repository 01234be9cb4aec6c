package org.florence2j.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import org.florence2j.checkpoint.SafetensorsFile;
import org.florence2j.tensor.DType;
import org.florence2j.tensor.Tensor;

/**
 * Writes a {@code pytorch_model.bin} byte-compatible with {@code torch.save(state_dict)} (torch/serialization.py
 * {@code _save} and caffe2/serialize/inline_container.cc {@code PyTorchStreamWriter}, torch 2.0–2.3 record set), so
 * that benchmarks can measure florence2j's PyTorch reader on full-size checkpoints without Python. The structure is
 * the one {@code golden/tiny-bin/README.md} documents:
 *
 * <ul>
 *   <li>a zip of stored entries under {@code <file base name>/}: {@code data.pkl}, {@code byteorder},
 *       {@code data/<key>} in string order of the keys, {@code version} ({@code 3}); every local header carries an
 *       {@code FB} extra field padding its data to a 64-byte file offset; flags 0x0808 (data descriptor, UTF-8) with
 *       the sizes and CRC in the data descriptor and the central directory; a zip64 end record before the classic
 *       one, as miniz writes it;</li>
 *   <li>a protocol-2 pickle: {@code OrderedDict} filled by {@code SETITEMS} in batches of 1000, each value
 *       {@code torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())} with the persistent
 *       id {@code ('storage', torch.<Type>Storage, key, 'cpu', numel)}; keys numbered by first use, as
 *       {@code _save}'s {@code id_map} does; memo entries for every global, string, tuple and reduce result, as
 *       Python's pickler writes them. The {@code _metadata} module versions (a {@code BUILD}) are left out: loaders
 *       do not need them.</li>
 * </ul>
 *
 * <p>Tensor data is streamed from its (mapped) memory to the file; nothing is copied onto the heap.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar org.florence2j.bench.TorchCheckpointWriter SAFETENSORS_DIR OUT_DIR
 * </pre>
 */
public final class TorchCheckpointWriter {
    /** torch aligns every record's data to this many bytes ({@code kFieldAlignment}). */
    private static final int ALIGNMENT = 64;
    private static final int LOCAL_HEADER_BYTES = 30;
    private static final int FLAGS = 0x0808;
    private static final int SETITEMS_BATCH = 1000;
    /** Names the remote code ties to {@code shared} and {@code state_dict()} lists as aliases of its storage. */
    private static final List<String> SHARED_ALIASES = List.of("language_model.model.encoder.embed_tokens.weight",
            "language_model.model.decoder.embed_tokens.weight");
    private static final String SHARED = "language_model.model.shared.weight";
    private static final String LM_HEAD = "language_model.lm_head.weight";

    private TorchCheckpointWriter() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: TorchCheckpointWriter SAFETENSORS_DIR OUT_DIR");
            System.exit(2);
        }
        convertFolder(Path.of(args[0]), Path.of(args[1]));
    }

    /**
     * Writes {@code source/model.safetensors} as {@code out/pytorch_model.bin} the way {@code torch.save} writes the
     * state dict of a remote-code model with tied embeddings, i.e. as the official checkpoints hold it: the encoder
     * and decoder {@code embed_tokens} and {@code lm_head.weight} are aliases of {@code shared}'s storage (a separate
     * {@code lm_head.weight} in the source is replaced by that alias). Copies every other file of {@code source}
     * except safetensors weights.
     */
    public static void convertFolder(Path source, Path out) throws IOException {
        Files.createDirectories(out);
        try (Stream<Path> files = Files.list(source)) {
            for (Path file : files.toList()) {
                String name = file.getFileName().toString();
                if (Files.isRegularFile(file) && !name.endsWith(".safetensors")
                        && !name.equals("model.safetensors.index.json")) {
                    Files.copy(file, out.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        try (SafetensorsFile weights = SafetensorsFile.open(source.resolve("model.safetensors"))) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            boolean tied = weights.names().contains(SHARED);
            for (String name : weights.names()) {
                tensors.put(name, weights.tensor(tied && name.equals(LM_HEAD) ? SHARED : name));
                if (name.equals(SHARED)) {
                    SHARED_ALIASES.forEach(alias -> tensors.put(alias, weights.tensor(SHARED)));
                }
            }
            write(out.resolve("pytorch_model.bin"), tensors);
        }
    }

    /**
     * Writes {@code tensors} in map order. Tensors over the same memory (same address, byte size and dtype) share
     * one storage, as tied weights do in {@code torch.save}.
     *
     * @throws IllegalArgumentException when the file would need zip64 (over 4 GiB)
     */
    public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
        Map<StorageId, String> keyOfStorage = new HashMap<>();
        Map<String, Tensor> storages = new TreeMap<>();
        PickleWriter pickle = new PickleWriter();
        pickle.stateDictStart();
        List<String> names = new ArrayList<>(tensors.keySet());
        for (int batch = 0; batch < names.size(); batch += SETITEMS_BATCH) {
            List<String> items = names.subList(batch, Math.min(names.size(), batch + SETITEMS_BATCH));
            if (items.size() > 1) {
                pickle.op(PickleWriter.MARK);
            }
            for (String name : items) {
                Tensor tensor = tensors.get(name);
                StorageId id = new StorageId(tensor.memory().address(), tensor.byteSize(), tensor.dtype());
                // Keys are numbered in order of first use, as _save's id_map numbers them.
                String key = keyOfStorage.computeIfAbsent(id, unused -> Integer.toString(keyOfStorage.size()));
                storages.put(key, tensor);
                pickle.string(name);
                pickle.tensor(storageType(tensor.dtype()), key, tensor.shape().dims());
            }
            pickle.op(items.size() > 1 ? PickleWriter.SETITEMS : PickleWriter.SETITEM);
        }
        pickle.op(PickleWriter.STOP);

        String prefix = baseName(file) + "/";
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        try (FileChannel channel = FileChannel.open(partial, StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ZipWriter zip = new ZipWriter(channel);
            zip.entry(prefix + "data.pkl", ByteBuffer.wrap(pickle.bytes()));
            zip.entry(prefix + "byteorder", ascii("little"));
            for (Map.Entry<String, Tensor> storage : storages.entrySet()) {
                zip.entry(prefix + "data/" + storage.getKey(), storage.getValue().memory().asByteBuffer());
            }
            zip.entry(prefix + "version", ascii("3\n"));
            zip.finish();
        }
        Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** What makes two tensors one storage: the same memory seen as the same type. */
    private record StorageId(long address, long byteSize, DType dtype) {}

    private static String storageType(DType dtype) {
        return switch (dtype) {
            case F32 -> "FloatStorage";
            case F16 -> "HalfStorage";
            case BF16 -> "BFloat16Storage";
            case F64 -> "DoubleStorage";
            case I64 -> "LongStorage";
            case I32 -> "IntStorage";
            case U8 -> "ByteStorage";
        };
    }

    /** torch names the archive's folder after the file name without its extension. */
    private static String baseName(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    private static ByteBuffer ascii(String text) {
        return ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
    }

    /** Protocol-2 pickle opcodes, memoised the way CPython's {@code pickle._Pickler} memoises. */
    private static final class PickleWriter {
        static final int MARK = '(';
        static final int SETITEM = 's';
        static final int SETITEMS = 'u';
        static final int STOP = '.';

        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        /** Memo index of each global ("module\nname") and string already written. */
        private final Map<String, Integer> memo = new HashMap<>();
        private int memoSize;

        void op(int opcode) {
            out.write(opcode);
        }

        /** {@code PROTO 2} and an empty {@code OrderedDict()}, memoised. */
        void stateDictStart() {
            op(0x80);
            op(2);
            emptyOrderedDict();
        }

        void emptyOrderedDict() {
            global("collections", "OrderedDict");
            op(')');
            op('R');
            put();
        }

        void global(String module, String name) {
            String id = "global:" + module + "\n" + name;
            if (!get(id)) {
                op('c');
                out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
                memo.put(id, put());
            }
        }

        void string(String text) {
            String id = "str:" + text;
            if (!get(id)) {
                byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
                op('X');
                le32(utf8.length);
                out.writeBytes(utf8);
                memo.put(id, put());
            }
        }

        void integer(long value) {
            if (value >= 0 && value < 0x100) {
                op('K');
                op((int) value);
            } else if (value >= 0 && value < 0x10000) {
                op('M');
                op((int) value & 0xFF);
                op((int) (value >>> 8));
            } else if (value == (int) value) {
                op('J');
                le32((int) value);
            } else {
                throw new IllegalArgumentException("pickled ints here fit 32 bits; " + value + " does not");
            }
        }

        /** A tuple of ints, with CPython's opcode choice by length. */
        void ints(long[] values) {
            if (values.length == 0) {
                op(')');
                return;
            }
            if (values.length > 3) {
                op(MARK);
            }
            for (long value : values) {
                integer(value);
            }
            op(switch (values.length) {
                case 1 -> 0x85;
                case 2 -> 0x86;
                case 3 -> 0x87;
                default -> 't';
            });
            put();
        }

        /** {@code _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())}: a contiguous tensor. */
        void tensor(String storageType, String key, int[] dims) {
            long[] size = new long[dims.length];
            long[] stride = new long[dims.length];
            long numel = 1;
            for (int i = dims.length - 1; i >= 0; i--) {
                size[i] = dims[i];
                stride[i] = numel;
                numel *= dims[i];
            }
            global("torch._utils", "_rebuild_tensor_v2");
            op(MARK);
            op(MARK);
            string("storage");
            global("torch", storageType);
            string(key);
            string("cpu");
            integer(numel);
            op('t');
            put();
            op('Q');
            integer(0);
            ints(size);
            ints(stride);
            op(0x89);
            emptyOrderedDict();
            op('t');
            put();
            op('R');
            put();
        }

        /** Writes BINGET/LONG_BINGET of {@code id} when it is memoised. */
        private boolean get(String id) {
            Integer index = memo.get(id);
            if (index == null) {
                return false;
            }
            if (index < 0x100) {
                op('h');
                op(index);
            } else {
                op('j');
                le32(index);
            }
            return true;
        }

        /** Memoises the object just built (BINPUT/LONG_BINPUT) and returns its index. */
        private int put() {
            int index = memoSize++;
            if (index < 0x100) {
                op('q');
                op(index);
            } else {
                op('r');
                le32(index);
            }
            return index;
        }

        private void le32(int value) {
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    /** Stored zip entries written in sequence, as miniz does in {@code PyTorchStreamWriter}. */
    private static final class ZipWriter {
        private record Written(String name, long localHeader, long crc, long byteSize) {}

        private final FileChannel channel;
        private final List<Written> written = new ArrayList<>();
        private long position;

        ZipWriter(FileChannel channel) {
            this.channel = channel;
        }

        void entry(String name, ByteBuffer data) throws IOException {
            byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
            long dataStart = position + LOCAL_HEADER_BYTES + nameBytes.length + 4;
            int padding = (int) ((ALIGNMENT - dataStart % ALIGNMENT) % ALIGNMENT);
            ByteBuffer header = le(LOCAL_HEADER_BYTES + nameBytes.length + 4 + padding);
            header.putInt(0x04034b50).putShort((short) 0).putShort((short) FLAGS).putShort((short) 0)
                    .putInt(0).putInt(0).putInt(0).putInt(0)
                    .putShort((short) nameBytes.length).putShort((short) (4 + padding)).put(nameBytes)
                    .put((byte) 'F').put((byte) 'B').putShort((short) padding);
            for (int i = 0; i < padding; i++) {
                header.put((byte) 'Z');
            }
            long localHeader = position;
            long byteSize = data.remaining();
            CRC32 crc = new CRC32();
            crc.update(data.duplicate());
            write(header.flip());
            write(data);
            write(le(16).putInt(0x08074b50).putInt((int) crc.getValue()).putInt((int) byteSize)
                    .putInt((int) byteSize).flip());
            if (position > 0xFFFFFFFFL) {
                throw new IllegalArgumentException("the archive passes 4 GiB, which needs zip64: not written here");
            }
            written.add(new Written(name, localHeader, crc.getValue(), byteSize));
        }

        void finish() throws IOException {
            long directoryStart = position;
            for (Written entry : written) {
                byte[] nameBytes = entry.name().getBytes(StandardCharsets.UTF_8);
                ByteBuffer central = le(46 + nameBytes.length);
                central.putInt(0x02014b50).putShort((short) 0).putShort((short) 0).putShort((short) FLAGS)
                        .putShort((short) 0).putShort((short) 0).putShort((short) 0)
                        .putInt((int) entry.crc()).putInt((int) entry.byteSize()).putInt((int) entry.byteSize())
                        .putShort((short) nameBytes.length).putShort((short) 0).putShort((short) 0)
                        .putShort((short) 0).putShort((short) 0).putInt(0).putInt((int) entry.localHeader())
                        .put(nameBytes);
                write(central.flip());
            }
            long directoryBytes = position - directoryStart;
            long zip64End = position;
            // miniz always adds the zip64 end record and locator (version made by 0x031E: UNIX, 3.0; needs 4.5).
            write(le(56).putInt(0x06064b50).putLong(44).putShort((short) 0x031E).putShort((short) 45)
                    .putInt(0).putInt(0).putLong(written.size()).putLong(written.size())
                    .putLong(directoryBytes).putLong(directoryStart).flip());
            write(le(20).putInt(0x07064b50).putInt(0).putLong(zip64End).putInt(1).flip());
            write(le(22).putInt(0x06054b50).putShort((short) 0).putShort((short) 0)
                    .putShort((short) written.size()).putShort((short) written.size())
                    .putInt((int) directoryBytes).putInt((int) directoryStart).putShort((short) 0).flip());
        }

        private static ByteBuffer le(int bytes) {
            return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        }

        private void write(ByteBuffer buffer) throws IOException {
            while (buffer.hasRemaining()) {
                position += channel.write(buffer);
            }
        }
    }
}
