package org.florence2j.checkpoint;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The entries of a zip archive that stores its members uncompressed, as {@code torch.save} writes them, read from a
 * mapped file through its central directory. Each entry's data is a slice of the mapping: nothing is copied.
 *
 * <p>Sizes and offsets are taken from the central directory, because torch sets the "data descriptor" flag and may
 * leave the local headers' sizes zero. Zip64 archives (over 4 GiB) are refused with a clear error: the largest
 * Florence-2 checkpoint is about 1.5 GB.
 */
final class StoredZip {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final int END_SIGNATURE = 0x06054b50;
    private static final int CENTRAL_SIGNATURE = 0x02014b50;
    private static final int LOCAL_SIGNATURE = 0x04034b50;
    private static final int END_RECORD_BYTES = 22;
    private static final int CENTRAL_HEADER_BYTES = 46;
    private static final int LOCAL_HEADER_BYTES = 30;
    /** The end record is followed by a comment of at most this many bytes. */
    private static final int MAX_COMMENT_BYTES = 0xFFFF;

    private final Path file;
    private final Map<String, MemorySegment> entries;

    private StoredZip(Path file, Map<String, MemorySegment> entries) {
        this.file = file;
        this.entries = entries;
    }

    /**
     * Reads the central directory of the archive mapped as {@code mapped}.
     *
     * @throws CheckpointException naming the file, the entry and the byte offset when the archive is corrupt,
     *                             truncated, zip64, or holds a compressed entry
     */
    static StoredZip read(Path file, MemorySegment mapped) {
        long end = findEndRecord(file, mapped);
        int entryCount = u16(mapped, end + 10);
        long directoryBytes = u32(mapped, end + 12);
        long directoryStart = u32(mapped, end + 16);
        if (entryCount == 0xFFFF || directoryBytes == 0xFFFFFFFFL || directoryStart == 0xFFFFFFFFL) {
            throw new CheckpointException(file, null, end, "is a zip64 archive, which florence2j does not read"
                    + " (checkpoints over 4 GiB); save it as safetensors instead");
        }
        if (directoryStart + directoryBytes > end) {
            throw new CheckpointException(file, null, end, "central directory [" + directoryStart + ","
                    + (directoryStart + directoryBytes) + ") runs past its end record: truncated or corrupt zip");
        }
        Map<String, MemorySegment> entries = new LinkedHashMap<>();
        long position = directoryStart;
        for (int i = 0; i < entryCount; i++) {
            if (position + CENTRAL_HEADER_BYTES > directoryStart + directoryBytes
                    || u32(mapped, position) != CENTRAL_SIGNATURE) {
                throw new CheckpointException(file, null, position, "central directory entry " + i + " of "
                        + entryCount + " is missing or corrupt");
            }
            int method = u16(mapped, position + 10);
            long compressedBytes = u32(mapped, position + 20);
            long byteSize = u32(mapped, position + 24);
            int nameBytes = u16(mapped, position + 28);
            int extraBytes = u16(mapped, position + 30);
            int commentBytes = u16(mapped, position + 32);
            long localHeader = u32(mapped, position + 42);
            long next = position + CENTRAL_HEADER_BYTES + nameBytes + extraBytes + commentBytes;
            if (next > directoryStart + directoryBytes) {
                throw new CheckpointException(file, null, position, "central directory entry " + i
                        + " runs past the directory");
            }
            String name = new String(mapped.asSlice(position + CENTRAL_HEADER_BYTES, nameBytes)
                    .toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            if (method != 0) {
                throw new CheckpointException(file, null, localHeader, entry(name) + " is compressed (method "
                        + method + "); torch.save stores entries uncompressed: re-save the checkpoint with torch.save");
            }
            if (compressedBytes != byteSize) {
                throw new CheckpointException(file, null, localHeader, entry(name) + " is stored (method 0) but its"
                        + " sizes disagree (" + compressedBytes + " and " + byteSize + " bytes): corrupt zip");
            }
            long dataStart = dataStart(file, mapped, name, localHeader, directoryStart);
            if (dataStart + byteSize > directoryStart) {
                throw new CheckpointException(file, null, dataStart, entry(name) + " data [" + dataStart + ","
                        + (dataStart + byteSize) + ") runs past the entries (" + directoryStart + " bytes)");
            }
            if (entries.put(name, mapped.asSlice(dataStart, byteSize)) != null) {
                throw new CheckpointException(file, null, localHeader, entry(name) + " appears twice");
            }
            position = next;
        }
        return new StoredZip(file, Collections.unmodifiableMap(entries));
    }

    private static long findEndRecord(Path file, MemorySegment mapped) {
        long fileSize = mapped.byteSize();
        long last = fileSize - END_RECORD_BYTES;
        long first = Math.max(0, last - MAX_COMMENT_BYTES);
        for (long position = last; position >= first; position--) {
            if (u32(mapped, position) == END_SIGNATURE
                    && position + END_RECORD_BYTES + u16(mapped, position + 20) == fileSize) {
                return position;
            }
        }
        throw new CheckpointException(file, null, fileSize, "has no zip end-of-central-directory record:"
                + " truncated, or not a PyTorch zip checkpoint (legacy pre-1.6 torch.save files are not read)");
    }

    private static long dataStart(Path file, MemorySegment mapped, String name, long localHeader, long limit) {
        if (localHeader + LOCAL_HEADER_BYTES > limit || u32(mapped, localHeader) != LOCAL_SIGNATURE) {
            throw new CheckpointException(file, null, localHeader, entry(name) + ": zip local header is missing or"
                    + " corrupt");
        }
        // The local name and extra lengths can differ from the central ones: torch pads the local extra field
        // (id "FB") so that the data starts 64-byte aligned.
        return localHeader + LOCAL_HEADER_BYTES + u16(mapped, localHeader + 26) + u16(mapped, localHeader + 28);
    }

    /** How messages name an entry; not as a tensor, since entries hold storages, the pickle and records. */
    private static String entry(String name) {
        return "zip entry '" + name + "'";
    }

    private static int u16(MemorySegment segment, long byteOffset) {
        return Short.toUnsignedInt(segment.get(U16, byteOffset));
    }

    private static long u32(MemorySegment segment, long byteOffset) {
        return Integer.toUnsignedLong(segment.get(U32, byteOffset));
    }

    /** The archive file. */
    Path file() {
        return file;
    }

    /** Entry names in central-directory order. */
    Iterable<String> names() {
        return entries.keySet();
    }

    /** The data of entry {@code name}, a slice of the mapping. */
    Optional<MemorySegment> find(String name) {
        return Optional.ofNullable(entries.get(name));
    }
}
