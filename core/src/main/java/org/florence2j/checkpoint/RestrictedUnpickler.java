package org.florence2j.checkpoint;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.florence2j.tensor.DType;

/**
 * A pickle reader that understands exactly what a PyTorch state dict needs and nothing else, so that reading a
 * checkpoint can never run code: it builds plain values (ints, strings, tuples, dicts) and two descriptions,
 * {@link StorageRef} and {@link TensorRef}, and calls nothing. Python's {@code pickle} would import and call any
 * global the file names; here only {@link #ALLOWED_GLOBALS} resolve, and every other GLOBAL, every REDUCE of
 * anything but {@code OrderedDict} or {@code _rebuild_tensor_v2}, and every unknown opcode is a
 * {@link CheckpointException} naming it and its byte position.
 *
 * <p>Mirrors the writer side of {@code torch.save} (torch/serialization.py, {@code _save}): protocol 2, persistent
 * ids {@code ('storage', <StorageType>, key, location, numel)} and {@code torch._utils._rebuild_tensor_v2(storage,
 * storage_offset, size, stride, requires_grad, backward_hooks)}. The opcode set is the one listed in
 * {@code golden/tiny-bin/README.md} plus the general protocol-2 opcodes other writers use.
 */
final class RestrictedUnpickler {
    /** A Python tuple. */
    record Tuple(List<Object> items) {}

    /** A global that {@link #ALLOWED_GLOBALS} lets through. */
    record Global(String module, String name) {
        @Override
        public String toString() {
            return module + "." + name;
        }
    }

    /** Python's {@code None}. */
    enum None { NONE }

    /** A storage named by a persistent id: the zip entry {@code data/<key>} holding {@code numel} elements. */
    record StorageRef(String key, DType dtype, long numel) {}

    /**
     * A tensor as {@code _rebuild_tensor_v2} describes it; sizes and strides in elements.
     *
     * @param byteOffset where in the pickle it was built, for error messages
     */
    record TensorRef(StorageRef storage, long storageOffset, long[] size, long[] stride, long byteOffset) {}

    private static final Global ORDERED_DICT = new Global("collections", "OrderedDict");
    private static final Global REBUILD_TENSOR_V2 = new Global("torch._utils", "_rebuild_tensor_v2");
    private static final Map<Global, DType> STORAGE_TYPES = Map.of(
            new Global("torch", "FloatStorage"), DType.F32,
            new Global("torch", "HalfStorage"), DType.F16,
            new Global("torch", "BFloat16Storage"), DType.BF16,
            new Global("torch", "DoubleStorage"), DType.F64,
            new Global("torch", "LongStorage"), DType.I64,
            new Global("torch", "IntStorage"), DType.I32,
            new Global("torch", "ByteStorage"), DType.U8);

    /** Every global a state dict may name, for error messages. */
    static final String ALLOWED_GLOBALS = "collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
            + "torch.{Float,Half,BFloat16,Double,Long,Int,Byte}Storage";

    private static final ValueLayout.OfShort U16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong F64_BITS = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /** The GLOBAL operand is two newline-terminated names; longer ones are not Python identifiers we allow. */
    private static final int MAX_GLOBAL_BYTES = 256;

    private final Path file;
    private final String entry;
    private final MemorySegment pickle;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();
    private long position;
    private long opcodeAt;

    private RestrictedUnpickler(Path file, String entry, MemorySegment pickle) {
        this.file = file;
        this.entry = entry;
        this.pickle = pickle;
    }

    /**
     * Reads the pickle {@code pickle} (the zip entry {@code entry} of {@code file}) and returns its top object.
     *
     * @throws CheckpointException naming the file, the entry, the byte position and the offending opcode or global
     */
    static Object read(Path file, String entry, MemorySegment pickle) {
        return new RestrictedUnpickler(file, entry, pickle).run();
    }

    private Object run() {
        while (true) {
            opcodeAt = position;
            int opcode = u8();
            switch (opcode) {
                case 0x80 -> proto();
                case '.' -> {
                    return stop();
                }
                case 'c' -> global();
                case 'q' -> memo.put((long) u8(), peek());
                case 'r' -> memo.put(u32(), peek());
                case 'h' -> push(memoGet(u8()));
                case 'j' -> push(memoGet(u32()));
                case '(' -> marks.add(stack.size());
                case 't' -> push(new Tuple(popMark()));
                case ')' -> push(new Tuple(List.of()));
                case 0x85 -> push(tuple(1));
                case 0x86 -> push(tuple(2));
                case 0x87 -> push(tuple(3));
                case '}' -> push(new LinkedHashMap<Object, Object>());
                case ']' -> push(new ArrayList<Object>());
                case 'X' -> push(utf8(u32()));
                case 0x8c -> push(utf8(u8()));
                case 'K' -> push((long) u8());
                case 'M' -> push((long) u16());
                case 'J' -> push((long) i32());
                case 0x8a -> push(long1());
                case 'G' -> push(binfloat());
                case 'N' -> push(None.NONE);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'R' -> reduce();
                case 'Q' -> push(persistentLoad(pop()));
                case 's' -> setItems(List.of(pop(), pop()).reversed(), dictAt(stack.size() - 1));
                case 'u' -> {
                    List<Object> items = popMark();
                    setItems(items, dictAt(stack.size() - 1));
                }
                case 'a' -> listAt(stack.size() - 2).add(pop());
                case 'e' -> {
                    List<Object> items = popMark();
                    listAt(stack.size() - 1).addAll(items);
                }
                case 'b' -> build();
                default -> throw fail("opcode 0x" + Integer.toHexString(opcode) + " is not part of what a state dict"
                        + " needs (pickle protocol 2 subset); refusing to read further");
            }
        }
    }

    private void proto() {
        int version = u8();
        if (version != 2) {
            throw fail("pickle protocol " + version + " is not supported (torch.save writes protocol 2)");
        }
    }

    private Object stop() {
        if (stack.size() != 1 || !marks.isEmpty()) {
            throw fail("STOP with " + stack.size() + " objects and " + marks.size() + " marks on the stack");
        }
        return stack.get(0);
    }

    private void global() {
        String module = line();
        String name = line();
        Global global = new Global(module, name);
        if (!global.equals(ORDERED_DICT) && !global.equals(REBUILD_TENSOR_V2) && !STORAGE_TYPES.containsKey(global)) {
            throw fail("GLOBAL '" + module + " " + name + "' is not allowed: a checkpoint is read without running"
                    + " code, and only " + ALLOWED_GLOBALS + " may appear");
        }
        push(global);
    }

    private void reduce() {
        Object args = pop();
        Object callable = pop();
        if (!(args instanceof Tuple tuple)) {
            throw fail("REDUCE arguments are a " + typeName(args) + ", not a tuple");
        }
        if (callable.equals(ORDERED_DICT)) {
            if (!tuple.items().isEmpty()) {
                throw fail("REDUCE of collections.OrderedDict with arguments is not supported");
            }
            push(new LinkedHashMap<Object, Object>());
        } else if (callable.equals(REBUILD_TENSOR_V2)) {
            push(rebuildTensor(tuple.items()));
        } else {
            throw fail("REDUCE of " + describe(callable) + " is not allowed: only collections.OrderedDict and"
                    + " torch._utils._rebuild_tensor_v2 may be called");
        }
    }

    private TensorRef rebuildTensor(List<Object> args) {
        // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None)
        if (args.size() != 6 && args.size() != 7) {
            throw fail("_rebuild_tensor_v2 takes 6 or 7 arguments, got " + args.size());
        }
        if (!(args.get(0) instanceof StorageRef storage)) {
            throw fail("_rebuild_tensor_v2's storage is a " + typeName(args.get(0)) + ", not a persistent storage");
        }
        if (!(args.get(1) instanceof Long storageOffset) || storageOffset < 0) {
            throw fail("_rebuild_tensor_v2's storage_offset is not a non-negative int");
        }
        long[] size = longs("size", args.get(2));
        long[] stride = longs("stride", args.get(3));
        if (size.length != stride.length) {
            throw fail("_rebuild_tensor_v2's size has " + size.length + " dimensions but stride has "
                    + stride.length);
        }
        if (!(args.get(4) instanceof Boolean)) {
            throw fail("_rebuild_tensor_v2's requires_grad is not a bool");
        }
        if (!(args.get(5) instanceof Map<?, ?> hooks) || !hooks.isEmpty()) {
            throw fail("_rebuild_tensor_v2's backward_hooks is not an empty OrderedDict");
        }
        return new TensorRef(storage, storageOffset, size, stride, opcodeAt);
    }

    private long[] longs(String what, Object value) {
        if (!(value instanceof Tuple tuple)) {
            throw fail("_rebuild_tensor_v2's " + what + " is a " + typeName(value) + ", not a tuple");
        }
        long[] result = new long[tuple.items().size()];
        for (int i = 0; i < result.length; i++) {
            if (!(tuple.items().get(i) instanceof Long dim) || dim < 0) {
                throw fail("_rebuild_tensor_v2's " + what + " holds something other than non-negative ints");
            }
            result[i] = dim;
        }
        return result;
    }

    private StorageRef persistentLoad(Object pid) {
        // torch.save's persistent_id: ('storage', storage_type, key, location, numel)
        if (!(pid instanceof Tuple tuple) || tuple.items().size() != 5 || !"storage".equals(tuple.items().get(0))) {
            throw fail("persistent id is not ('storage', type, key, location, numel)");
        }
        List<Object> items = tuple.items();
        // Checked as a Global before the map lookup: hashing an arbitrary (possibly self-containing) object could
        // recurse without end.
        DType dtype = items.get(1) instanceof Global global ? STORAGE_TYPES.get(global) : null;
        if (dtype == null) {
            throw fail("persistent id names storage type " + describe(items.get(1)) + ", not one of "
                    + STORAGE_TYPES.keySet());
        }
        if (!(items.get(2) instanceof String key) || !(items.get(3) instanceof String)
                || !(items.get(4) instanceof Long numel) || numel < 0) {
            throw fail("persistent id is not ('storage', type, key: str, location: str, numel: int)");
        }
        return new StorageRef(key, dtype, numel);
    }

    private void setItems(List<Object> items, Map<Object, Object> dict) {
        if (items.size() % 2 != 0) {
            throw fail("SETITEMS with an odd number of objects (" + items.size() + ")");
        }
        for (int i = 0; i < items.size(); i += 2) {
            Object key = items.get(i);
            // Keys are restricted to immutable scalars: a list or a self-containing tuple as a key would make
            // hashing recurse without end.
            if (!(key instanceof String || key instanceof Long || key instanceof Boolean || key instanceof None)) {
                throw fail("dict key is a " + typeName(key) + "; a state dict's keys are strings");
            }
            dict.put(key, items.get(i + 1));
        }
    }

    private void build() {
        Object state = pop();
        Object target = peek();
        // torch 1.x pickles state_dict()'s `_metadata` attribute (module versions) with BUILD on the OrderedDict;
        // it is not needed for inference and is dropped.
        if (!(target instanceof Map<?, ?>) || !(state instanceof Map<?, ?>)) {
            throw fail("BUILD of a " + typeName(target) + " with a " + typeName(state)
                    + " state: only an OrderedDict's attribute dict is allowed");
        }
    }

    private Tuple tuple(int count) {
        if (stack.size() < count) {
            throw fail("TUPLE" + count + " with " + stack.size() + " objects on the stack");
        }
        List<Object> top = stack.subList(stack.size() - count, stack.size());
        Tuple tuple = new Tuple(List.copyOf(top));
        top.clear();
        return tuple;
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) {
            throw fail("opcode needs a MARK but none is open");
        }
        int mark = marks.removeLast();
        List<Object> top = stack.subList(mark, stack.size());
        List<Object> items = List.copyOf(top);
        top.clear();
        return items;
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dictAt(int index) {
        if (index < 0 || index < currentMark() || !(stack.get(index) instanceof Map<?, ?> map)) {
            throw fail("SETITEM target is not a dict");
        }
        return (Map<Object, Object>) map;
    }

    @SuppressWarnings("unchecked")
    private List<Object> listAt(int index) {
        if (index < 0 || index < currentMark() || !(stack.get(index) instanceof ArrayList<?> list)) {
            throw fail("APPEND target is not a list");
        }
        return (List<Object>) list;
    }

    private int currentMark() {
        return marks.isEmpty() ? 0 : marks.getLast();
    }

    private void push(Object value) {
        stack.add(value);
    }

    private Object pop() {
        if (stack.size() <= currentMark()) {
            throw fail("stack underflow");
        }
        return stack.removeLast();
    }

    private Object peek() {
        if (stack.size() <= currentMark()) {
            throw fail("stack underflow");
        }
        return stack.getLast();
    }

    private Object memoGet(long index) {
        Object value = memo.get(index);
        if (value == null) {
            throw fail("memo index " + index + " was never stored");
        }
        return value;
    }

    private void require(long bytes) {
        if (bytes < 0 || bytes > pickle.byteSize() - position) {
            throw fail("needs " + bytes + " more bytes but the pickle ends at byte " + pickle.byteSize());
        }
    }

    private int u8() {
        require(1);
        return Byte.toUnsignedInt(pickle.get(ValueLayout.JAVA_BYTE, position++));
    }

    private int u16() {
        require(2);
        int value = Short.toUnsignedInt(pickle.get(U16, position));
        position += 2;
        return value;
    }

    private int i32() {
        require(4);
        int value = pickle.get(I32, position);
        position += 4;
        return value;
    }

    private long u32() {
        return Integer.toUnsignedLong(i32());
    }

    private long long1() {
        int byteCount = u8();
        if (byteCount > 8) {
            throw fail("LONG1 of " + byteCount + " bytes is out of range for a tensor size or offset");
        }
        require(byteCount);
        long value = 0;
        for (int i = 0; i < byteCount; i++) {
            value |= (pickle.get(ValueLayout.JAVA_BYTE, position + i) & 0xFFL) << (8 * i);
        }
        if (byteCount > 0 && byteCount < 8 && (value >>> (8 * byteCount - 1) & 1) == 1) {
            value |= -1L << (8 * byteCount);
        }
        position += byteCount;
        return value;
    }

    private double binfloat() {
        require(8);
        double value = Double.longBitsToDouble(pickle.get(F64_BITS, position));
        position += 8;
        return value;
    }

    private String utf8(long byteCount) {
        require(byteCount);
        byte[] bytes = pickle.asSlice(position, byteCount).toArray(ValueLayout.JAVA_BYTE);
        position += byteCount;
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw fail("string is not valid UTF-8");
        }
    }

    private String line() {
        StringBuilder text = new StringBuilder();
        while (true) {
            int c = u8();
            if (c == '\n') {
                return text.toString();
            }
            if (c < 0x20 || c > 0x7e || text.length() >= MAX_GLOBAL_BYTES) {
                throw fail("GLOBAL name is not a printable ASCII line");
            }
            text.append((char) c);
        }
    }

    private static String typeName(Object value) {
        return switch (value) {
            case Tuple _ -> "tuple";
            case Map<?, ?> _ -> "dict";
            case List<?> _ -> "list";
            case String _ -> "str";
            case Long _ -> "int";
            case Double _ -> "float";
            case Boolean _ -> "bool";
            case None _ -> "None";
            case Global g -> "global " + g;
            case StorageRef _ -> "storage";
            case TensorRef _ -> "tensor";
            default -> value.getClass().getSimpleName();
        };
    }

    private static String describe(Object callable) {
        return callable instanceof Global global ? "'" + global + "'" : "a " + typeName(callable);
    }

    private CheckpointException fail(String message) {
        return new CheckpointException(file, null, opcodeAt, entry + " byte " + opcodeAt + ": " + message);
    }
}
