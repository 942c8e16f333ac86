package jlisa.optim.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import jlisa.tensor.Tensor;

/**
 * Reads and writes named tensors to a file. The optim module does not know file formats; the
 * caller supplies one (the CLI passes safetensors from the transformer module).
 *
 * <p>Implementations are stateless file readers and writers; safe to call from several threads, but not for two writers of one file at once.
 */
public interface TensorStore {
    /** Writes atomically: a temporary file renamed over {@code file}. */
    void write(Path file, Map<String, Tensor> tensors) throws IOException;

    /** Reads every tensor into memory the caller owns (no mapping that outlives the call). */
    Map<String, Tensor> read(Path file) throws IOException;
}
