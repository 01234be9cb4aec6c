package org.florence2j.image;

import java.io.IOException;
import javax.imageio.IIOException;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.ImageInputStreamImpl;

/**
 * An {@link ImageInputStream} over another that fails with an {@link IIOException} once a decoder has run into the
 * end of the data more than {@value #MAX_READS_AT_END} times.
 *
 * <p>The WebP decoder's bit reader takes the end of the data for zero bits and goes on: a lossless WebP whose data
 * ends before its pixels do decodes into made-up pixels, one swallowed {@link java.io.EOFException} per read
 * (seconds for a few megapixels; TwelveMonkeys 3.12 looped forever on some). Its look-ahead meets the end of a whole
 * image too, but a few dozen times (68 for the test image), so the bound refuses only data that runs out well before
 * the image does; a file missing a few bytes still decodes, as before. An {@link IIOException}, unlike an
 * {@code EOFException}, is not swallowed.
 */
final class EndBoundedImageInputStream extends ImageInputStreamImpl {
    static final int MAX_READS_AT_END = 1024;

    private final ImageInputStream in;
    private int readsAtEnd;

    EndBoundedImageInputStream(ImageInputStream in) {
        this.in = in;
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

    private void atEnd() throws IIOException {
        readsAtEnd++;
        if (readsAtEnd > MAX_READS_AT_END) {
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
