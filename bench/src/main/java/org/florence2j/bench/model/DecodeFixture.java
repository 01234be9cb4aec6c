package org.florence2j.bench.model;

import java.lang.foreign.Arena;
import java.util.List;
import org.florence2j.backend.Backend;
import org.florence2j.checkpoint.LoadedCheckpoint;
import org.florence2j.checkpoint.Weights;
import org.florence2j.model.Taps;
import org.florence2j.model.text.BartDecoder;
import org.florence2j.model.text.BartModel;
import org.florence2j.model.text.CrossGroup;
import org.florence2j.model.text.KvCache;
import org.florence2j.tensor.Shape;
import org.florence2j.tensor.Tensor;

/**
 * The decode step the decode benchmarks time: Florence-2-base's decoder, 3 beams of one image, the cross-attention
 * K/V computed once from a random 584-token encoder output (577 image tokens + the 7-token caption prompt), and the
 * step buffers. {@link #step} is what {@code Session} does per generated token minus the search.
 *
 * @param decoder the loaded decoder
 * @param cache   its KV cache, the cross K/V filled
 * @param buffers the step's buffers
 */
record DecodeFixture(BartDecoder decoder, KvCache cache, BartDecoder.StepBuffers buffers) {
    static final int BEAMS = 3;
    static final int ENCODER_TOKENS = 584;
    /** Positions a step cycles through: the lengths a 20-token caption decodes at. */
    static final int NEW_TOKENS = 20;
    /**
     * Beam parents of every step: {@code [0, 0, 1]}, so the reorder is never skipped. It copies the 1–3 positions
     * a row lacks of its parent's history, not the whole history ({@code KvCache}).
     */
    private static final int[] PARENTS = {0, 0, 1};

    /** Loads the decoder of {@code checkpoint} onto {@code backend}, its memory owned by {@code arena}. */
    static DecodeFixture load(LoadedCheckpoint checkpoint, Backend backend, Arena arena) {
        BartDecoder decoder = BartModel.load(Weights.of(checkpoint.checkpoint()).at("language_model"),
                checkpoint.config().text(), backend, arena).decoder();
        KvCache cache = KvCache.allocate(backend, arena, decoder.layerCount(), decoder.channels(), decoder.heads(),
                BEAMS, NEW_TOKENS + 1, 1, ENCODER_TOKENS);
        Tensor states = BenchModel.random(backend, arena, 3, Shape.of(1, ENCODER_TOKENS, decoder.channels()));
        decoder.computeCrossKeyValues(backend, states, 0, cache);
        List<CrossGroup> groups = List.of(new CrossGroup(0, 1, ENCODER_TOKENS));
        cache.prepare(BEAMS, groups);
        BartDecoder.StepBuffers buffers = decoder.newWorkspace(backend, arena, BEAMS, 1)
                .prepare(BEAMS, 1, groups, BEAMS);
        return new DecodeFixture(decoder, cache, buffers);
    }

    /**
     * One step at {@code position} (0 … {@link #NEW_TOKENS} - 1): the beam reorder of the self K/V, the step's
     * token ids, 6 layers and the logits. Issues the ops; the caller synchronises.
     */
    void step(Backend backend, int position) {
        cache.reorder(backend, PARENTS, position);
        for (int beam = 0; beam < BEAMS; beam++) {
            buffers.setToken(beam, 0, 4 + position);
        }
        decoder.forward(backend, Taps.NONE, buffers, cache, position);
    }
}
