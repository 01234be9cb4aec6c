package org.florence2j.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import javax.imageio.IIOException;
import javax.imageio.stream.MemoryCacheImageInputStream;
import org.junit.jupiter.api.Test;

class EndBoundedImageInputStreamTest {
    private static final byte[] DATA = {1, 2, 3, 4, 5, 6};

    @Test
    void readsSeeksAndReportsTheEndLikeTheStreamItWraps() throws IOException {
        try (EndBoundedImageInputStream stream = bounded()) {
            assertEquals(1, stream.read());
            byte[] next = new byte[3];
            assertEquals(3, stream.read(next, 0, 3));
            assertArrayEquals(new byte[] {2, 3, 4}, next);
            assertEquals(4, stream.getStreamPosition());
            stream.mark();
            assertEquals(0x0506, stream.readShort());
            assertThrows(EOFException.class, stream::readByte);
            stream.reset();
            assertEquals(4, stream.getStreamPosition());
            stream.seek(1);
            assertEquals(2, stream.readByte());
            assertTrue(stream.isCached() && stream.isCachedMemory());
        }
    }

    @Test
    void failsOnceTheEndIsReadMoreOftenThanTheImageCouldNeed() throws IOException {
        try (EndBoundedImageInputStream stream = bounded()) {
            stream.seek(DATA.length);
            readAtEnd(stream, EndBoundedImageInputStream.READS_AT_END_ALLOWED);
            IIOException e = assertThrows(IIOException.class, stream::read);
            assertTrue(e.getMessage().contains("read past the end of the data"), e.getMessage());
            // Not an EOFException, which the WebP decoder's bit reader swallows; the data stays readable.
            stream.seek(0);
            assertEquals(1, stream.readByte());
            stream.seek(DATA.length);
            assertThrows(IIOException.class, stream::readByte);
        }
    }

    /** Once the decoder knows the image's size, the count starts again and allows so many reads a pixel. */
    @Test
    void anImageIsAllowedReadsAtTheEndForEachPixel() throws IOException {
        try (EndBoundedImageInputStream stream = bounded()) {
            stream.seek(DATA.length);
            readAtEnd(stream, 10);
            stream.allowFor(100);
            readAtEnd(stream, EndBoundedImageInputStream.READS_AT_END_ALLOWED
                    + 100 * EndBoundedImageInputStream.READS_AT_END_PER_PIXEL);
            assertThrows(IIOException.class, () -> stream.read(new byte[4], 0, 4));
        }
    }

    /** The caller is asked every so many reads at the end whether to stop, and a yes fails the read at once. */
    @Test
    void stopsWhenTheCallerAsksAtItsChecks() throws IOException {
        int[] asked = {0};
        MemoryCacheImageInputStream cache = new MemoryCacheImageInputStream(new ByteArrayInputStream(DATA));
        try (EndBoundedImageInputStream stream = new EndBoundedImageInputStream(cache, () -> ++asked[0] == 2)) {
            stream.allowFor(1000);
            stream.seek(DATA.length);
            readAtEnd(stream, 2 * EndBoundedImageInputStream.READS_AT_END_PER_STOP_CHECK - 1);
            assertEquals(1, asked[0]);
            IIOException stopped = assertThrows(IIOException.class, stream::read);
            assertEquals("the decode was stopped", stopped.getMessage());
            assertEquals(2, asked[0]);
        }
    }

    /** {@code count} reads at the end, alternating the two read methods, each answering -1. */
    private static void readAtEnd(EndBoundedImageInputStream stream, int count) throws IOException {
        for (int i = 0; i < count; i++) {
            assertEquals(-1, i % 2 == 0 ? stream.read() : stream.read(new byte[4], 0, 4));
        }
    }

    @Test
    void closingClosesTheWrappedStream() throws IOException {
        MemoryCacheImageInputStream cache = new MemoryCacheImageInputStream(new ByteArrayInputStream(DATA));
        new EndBoundedImageInputStream(cache, () -> false).close();
        assertThrows(IOException.class, cache::read);
    }

    private static EndBoundedImageInputStream bounded() {
        MemoryCacheImageInputStream cache = new MemoryCacheImageInputStream(new ByteArrayInputStream(DATA));
        return new EndBoundedImageInputStream(cache, () -> false);
    }
}
