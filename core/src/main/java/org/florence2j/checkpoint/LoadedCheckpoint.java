package org.florence2j.checkpoint;

import java.nio.file.Path;
import org.florence2j.config.Florence2Config;

/**
 * A model folder opened by {@link Checkpoints#open(Path)}: its weights under remote-code names, its config, and what
 * was found on disk. Closing it closes the checkpoint.
 *
 * @param folder     the model folder
 * @param checkpoint the tensors, named as the remote code names them whatever the layout on disk
 * @param config     the model config, read in the layout's own format
 * @param layout     which naming and config format the folder uses
 * @param format     which weight file format the folder holds
 */
public record LoadedCheckpoint(Path folder, Checkpoint checkpoint, Florence2Config config, Layout layout,
                               Format format) implements AutoCloseable {
    /** The naming of tensors and config fields in a model folder. */
    public enum Layout {
        /** The {@code microsoft/Florence-2-*} remote code ({@code trust_remote_code=True}). */
        REMOTE_CODE,
        /** transformers' built-in {@code Florence2ForConditionalGeneration} ({@code florence-community/*}). */
        NATIVE
    }

    /** The weight file format of a model folder. */
    public enum Format {
        /** One {@code model.safetensors}. */
        SAFETENSORS,
        /** {@code model.safetensors.index.json} and its shards. */
        SHARDED_SAFETENSORS,
        /** A {@code pytorch_model.bin} written by {@code torch.save}. */
        PYTORCH_BIN
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}
