package org.florence2j.image;

import java.io.IOException;
import javax.imageio.IIOException;
import javax.imageio.stream.ImageInputStream;

/**
 * A chunk of a WebP file's RIFF container (RFC 9649 section 2.4), read and bounded as libwebp's demuxer reads it
 * ({@code src/demux/demux.c}), with the little-endian readers the container's fields need.
 *
 * @param fourcc    the chunk's four-character code
 * @param payloadAt where its payload starts, in bytes from the start of the file
 * @param size      the payload's declared size in bytes, padding excluded
 */
record RiffChunk(String fourcc, long payloadAt, long size) {
    static final int HEADER_BYTES = 8;
    /** libwebp's {@code MAX_CHUNK_PAYLOAD}: a larger chunk size is an error. */
    static final long MAX_PAYLOAD = 0xFFFF_FFFFL - HEADER_BYTES - 1;

    /** Where the chunk's header starts. */
    long headerAt() {
        return payloadAt - HEADER_BYTES;
    }

    /** The payload's size with the padding byte that follows an odd-sized payload. */
    long paddedSize() {
        return size + (size & 1);
    }

    /** Where the next chunk starts. */
    long end() {
        return payloadAt + paddedSize();
    }

    /**
     * The chunk whose header is at {@code at}, which must lie, padded, before {@code riffEnd}.
     *
     * @throws IIOException when it does not, or declares a size over {@link #MAX_PAYLOAD}
     */
    static RiffChunk at(ImageInputStream in, long at, long riffEnd) throws IOException {
        if (riffEnd - at < HEADER_BYTES) {
            throw new IIOException("a chunk header at byte " + at + " runs past the end of the RIFF data (byte "
                    + riffEnd + ")");
        }
        byte[] header = read(in, at, HEADER_BYTES);
        RiffChunk chunk = new RiffChunk(fourcc(header, 0), at + HEADER_BYTES, uint32(header, 4));
        if (chunk.size > MAX_PAYLOAD || chunk.end() > riffEnd) {
            throw new IIOException("the " + chunk.fourcc + " chunk at byte " + at + " (" + chunk.size
                    + " bytes) runs past the end of the RIFF data (byte " + riffEnd + ")");
        }
        return chunk;
    }

    /** {@code byteCount} bytes of {@code in} from byte {@code at}. */
    static byte[] read(ImageInputStream in, long at, int byteCount) throws IOException {
        byte[] bytes = new byte[byteCount];
        in.seek(at);
        in.readFully(bytes);
        return bytes;
    }

    static String fourcc(byte[] bytes, int at) {
        char[] chars = new char[4];
        for (int i = 0; i < 4; i++) {
            chars[i] = (char) (bytes[at + i] & 0xFF);
        }
        return new String(chars);
    }

    static long uint32(byte[] bytes, int at) {
        return (bytes[at] & 0xFFL) | (bytes[at + 1] & 0xFFL) << 8 | (bytes[at + 2] & 0xFFL) << 16
                | (bytes[at + 3] & 0xFFL) << 24;
    }

    static int uint24(byte[] bytes, int at) {
        return (bytes[at] & 0xFF) | (bytes[at + 1] & 0xFF) << 8 | (bytes[at + 2] & 0xFF) << 16;
    }
}
