package org.florence2j.image;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Takes WebP files apart into their RIFF chunks and puts edited chunks back together, for container tests. */
final class RiffFiles {
    private RiffFiles() {}

    /** The chunks of a RIFF file from byte {@code at}, each with its 8-byte header and without its padding. */
    static List<byte[]> chunks(byte[] file, int at) {
        List<byte[]> chunks = new ArrayList<>();
        while (at < file.length) {
            int size = ByteBuffer.wrap(file, at + 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
            chunks.add(Arrays.copyOfRange(file, at, at + 8 + size));
            at += 8 + size + (size & 1);
        }
        return chunks;
    }

    /** The chunks of a RIFF file (after its 12-byte header). */
    static List<byte[]> chunks(byte[] file) {
        return chunks(file, 12);
    }

    static byte[] chunk(String fourcc, byte[] payload) {
        ByteBuffer chunk = ByteBuffer.allocate(8 + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        chunk.put(fourcc.getBytes(StandardCharsets.US_ASCII)).putInt(payload.length).put(payload);
        return chunk.array();
    }

    /** A chunk whose payload is {@code head} and then {@code chunks}, each padded to an even length. */
    static byte[] chunk(String fourcc, byte[] head, List<byte[]> chunks) {
        ByteArrayOutputStream payload = new ByteArrayOutputStream();
        payload.writeBytes(head);
        for (byte[] chunk : chunks) {
            payload.writeBytes(chunk);
            if ((chunk.length & 1) != 0) {
                payload.write(0);
            }
        }
        return chunk(fourcc, payload.toByteArray());
    }

    /** A WebP file of these chunks, each padded to an even length. */
    static byte[] riff(List<byte[]> chunks) {
        return chunk("RIFF", "WEBP".getBytes(StandardCharsets.US_ASCII), chunks);
    }

    static byte[] withByte(byte[] bytes, int at, int value) {
        byte[] edited = bytes.clone();
        edited[at] = (byte) value;
        return edited;
    }
}
