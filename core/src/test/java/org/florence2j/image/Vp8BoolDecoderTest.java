package org.florence2j.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Vp8BoolDecoder} reads back what the boolean encoder of RFC 6386 section 7.3 writes, whatever the
 * probabilities, and says it has run past its data only when a bit needs bytes that are not there.
 */
class Vp8BoolDecoderTest {
    private static final long SEED = 20261128L;

    @Test
    void readsBackWhatTheSpecEncoderWrote() {
        Random random = new Random(SEED);
        for (int stream = 0; stream < 50; stream++) {
            int count = 1 + random.nextInt(5000);
            int[] probabilities = new int[count];
            int[] bits = new int[count];
            BoolEncoder encoder = new BoolEncoder();
            for (int i = 0; i < count; i++) {
                probabilities[i] = 1 + random.nextInt(255);
                // Mostly the likely value, as real data is, so the range is renormalized by many bits at once too.
                bits[i] = random.nextInt(256) < probabilities[i] ? 0 : 1;
                encoder.write(bits[i], probabilities[i]);
            }
            byte[] data = encoder.finish();
            Vp8BoolDecoder decoder = new Vp8BoolDecoder(data, 0, data.length);
            for (int i = 0; i < count; i++) {
                assertEquals(bits[i], decoder.readBit(probabilities[i]), "stream " + stream + ", bit " + i);
            }
            assertFalse(decoder.atEnd(), "stream " + stream + " read past its " + data.length + " bytes");
        }
    }

    @Test
    void literalsAndSignsReadAsTheirBits() {
        BoolEncoder encoder = new BoolEncoder();
        encoder.writeLiteral(0x5A, 7);
        encoder.writeLiteral(9, 4);
        encoder.write(1, 128); // sign: negative
        encoder.write(1, 128); // readSigned: negative
        encoder.write(0, 128); // readSigned: positive
        byte[] data = encoder.finish();
        Vp8BoolDecoder decoder = new Vp8BoolDecoder(data, 0, data.length);
        assertEquals(0x5A, decoder.readLiteral(7));
        assertEquals(-9, decoder.readSignedLiteral(4));
        assertEquals(-37, decoder.readSigned(37));
        assertEquals(37, decoder.readSigned(37));
    }

    @Test
    void runningPastTheDataIsFlaggedAndGoesOn() {
        byte[] data = {(byte) 0xA5, 0x3C};
        Vp8BoolDecoder decoder = new Vp8BoolDecoder(data, 0, data.length);
        int read = 0;
        while (!decoder.atEnd()) {
            decoder.readLiteral(1);
            read++;
        }
        // Each even-odds bit moves the 8-bit window on by one: the 10th bit's window, bits 9 to 16, needs a third byte.
        assertEquals(10, read);
        for (int i = 0; i < 100; i++) {
            decoder.readBit(1 + i % 255);
        }
        assertTrue(decoder.atEnd());
    }

    @Test
    void anEmptyPartitionIsAtItsEndAtOnce() {
        assertTrue(new Vp8BoolDecoder(new byte[4], 4, 0).atEnd());
    }

    /** The boolean encoder of RFC 6386 section 7.3 ({@code write_bool}, flushed with zero bits). */
    private static final class BoolEncoder {
        private byte[] out = new byte[64];
        private int length;
        private int range = 255;
        private long bottom;
        private int bitCount = 24;

        void write(int bit, int probability) {
            int split = 1 + (((range - 1) * probability) >> 8);
            if (bit != 0) {
                bottom += split;
                range -= split;
            } else {
                range = split;
            }
            while (range < 128) {
                range <<= 1;
                if ((bottom & (1L << 31)) != 0) {
                    addOneToOutput();
                }
                bottom = (bottom << 1) & 0xFFFF_FFFFL;
                if (--bitCount == 0) {
                    emit((int) (bottom >>> 24));
                    bottom &= (1 << 24) - 1;
                    bitCount = 8;
                }
            }
        }

        void writeLiteral(int value, int bitCount) {
            for (int bit = bitCount - 1; bit >= 0; bit--) {
                write(value >> bit & 1, 128);
            }
        }

        byte[] finish() {
            for (int i = 0; i < 32; i++) {
                write(0, 128);
            }
            return Arrays.copyOf(out, length);
        }

        /** Propagates a carry into the bytes already written (the spec's {@code add_one_to_output}). */
        private void addOneToOutput() {
            int at = length - 1;
            while (out[at] == (byte) 0xFF) {
                out[at--] = 0;
            }
            out[at]++;
        }

        private void emit(int value) {
            if (length == out.length) {
                out = Arrays.copyOf(out, 2 * length);
            }
            out[length++] = (byte) value;
        }
    }
}
