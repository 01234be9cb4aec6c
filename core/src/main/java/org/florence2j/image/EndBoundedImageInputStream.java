package org.florence2j.image;

import java.io.IOException;
import java.util.function.BooleanSupplier;
import javax.imageio.IIOException;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageInputStreamImpl;

/**
 * An {@link ImageInputStream} over another that fails with an {@link IIOException} once a decoder has run into the
 * end of the data more often than an image of its size could need: {@value #READS_AT_END_ALLOWED} times before the
 * decoder knows the size, then that many plus {@value #READS_AT_END_PER_PIXEL} a pixel ({@link #allowFor}).
 *
 * <p>It was made for TwelveMonkeys' WebP decoder, whose bit reader takes the end of the data for zero bits and goes
 * on, reading ahead: once its look-ahead has met the end, every later read meets it again, one swallowed
 * {@link java.io.EOFException} each, about once a pixel for a valid file whose last bytes code many pixels cheaply
 * as for one cut short (TwelveMonkeys 3.12 looped forever on some such data). florence2j now decodes WebP itself
 * ({@link LossyWebp}, {@link LosslessWebp}, {@link AnimatedWebp}); the bound stays for every reader ImageIO still
 * runs, so that no decode of damaged data can run forever: it guarantees an end, in time linear in the pixels, and
 * an {@link IIOException}, unlike an {@code EOFException}, is not swallowed.
 */
final class EndBoundedImageInputStream extends ImageInputStreamImpl {
    static final int READS_AT_END_ALLOWED = 1024;
    static final int READS_AT_END_PER_PIXEL = 16;

    /** Reads at the end between two runs of the caller's stop check. */
    static final int READS_AT_END_PER_STOP_CHECK = 1024;

    private final ImageInputStream in;
    private final BooleanSupplier stopRequested;
    private long maxReadsAtEnd = READS_AT_END_ALLOWED;
    private long readsAtEnd;

    /**
     * Over {@code in}, asking {@code stopRequested} every {@value #READS_AT_END_PER_STOP_CHECK} reads at the end
     * whether to fail the decode now: its caller's timeout, say.
     */
    EndBoundedImageInputStream(ImageInputStream in, BooleanSupplier stopRequested) {
        this.in = in;
        this.stopRequested = stopRequested;
    }

    @Override
    public int read() throws IOException {
        checkClosed();
        bitOffset = 0;
        int value = in.read();
        if (value < 0) {
            atEnd();
        } else {
            streamPos++;
        }
        return value;
    }

    @Override
    public int read(byte[] bytes, int offset, int length) throws IOException {
        checkClosed();
        bitOffset = 0;
        int count = in.read(bytes, offset, length);
        if (count < 0) {
            atEnd();
        } else {
            streamPos += count;
        }
        return count;
    }

    /**
     * Allows the decode of an image of {@code pixels} pixels its reads at the end, counted from here (the format's
     * detection before it read none in every case tried).
     */
    void allowFor(long pixels) {
        readsAtEnd = 0;
        maxReadsAtEnd = READS_AT_END_ALLOWED + READS_AT_END_PER_PIXEL * pixels;
    }

    private void atEnd() throws IIOException {
        readsAtEnd++;
        if (readsAtEnd % READS_AT_END_PER_STOP_CHECK == 0 && stopRequested.getAsBoolean()) {
            throw new IIOException("the decode was stopped");
        }
        if (readsAtEnd > maxReadsAtEnd) {
            throw new IIOException("the decoder read past the end of the data " + readsAtEnd
                    + " times: the image is truncated or corrupt");
        }
    }

    @Override
    public void seek(long position) throws IOException {
        super.seek(position);
        in.seek(position);
    }

    @Override
    public void flushBefore(long position) throws IOException {
        super.flushBefore(position);
        in.flushBefore(position);
    }

    @Override
    public long length() {
        try {
            return in.length();
        } catch (IOException e) {
            return -1;
        }
    }

    @Override
    public boolean isCached() {
        return in.isCached();
    }

    @Override
    public boolean isCachedMemory() {
        return in.isCachedMemory();
    }

    @Override
    public boolean isCachedFile() {
        return in.isCachedFile();
    }

    @Override
    public void close() throws IOException {
        super.close();
        in.close();
    }
}
