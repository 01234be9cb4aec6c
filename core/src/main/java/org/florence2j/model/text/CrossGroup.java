package org.florence2j.model.text;

/**
 * Consecutive images of a request whose encoder outputs have the same length, so their cross-attention runs as
 * one {@code Backend.attention} call (each image's K/V shared by its beams through the {@code kvBatch} rule).
 * Images of different lengths go to different groups: no query ever attends to padding.
 *
 * @param firstImage    index of the group's first image in the request
 * @param images        number of images in the group
 * @param encoderTokens encoder length of every image in the group
 */
public record CrossGroup(int firstImage, int images, int encoderTokens) {
    public CrossGroup {
        if (firstImage < 0 || images <= 0 || encoderTokens <= 0) {
            throw new IllegalArgumentException("cross group: firstImage " + firstImage + ", images " + images
                    + ", encoderTokens " + encoderTokens);
        }
    }
}
