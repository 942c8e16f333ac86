package jlisa.finetune;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import jlisa.optim.train.TensorStore;
import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;
import jlisa.transformer.io.SafeTensors;
import jlisa.transformer.io.TensorSource;

/**
 * Checkpoint tensors as safetensors files (what {@link jlisa.optim.train.Checkpoints} writes through); reads copy
 * into memory so the file is closed at once. Stateless; safe to share between threads.
 */
public final class SafeTensorsStore implements TensorStore {
    /** The one instance. */
    public static final SafeTensorsStore INSTANCE = new SafeTensorsStore();

    private SafeTensorsStore() {}

    @Override public void write(Path file, Map<String, Tensor> tensors) throws IOException {
        SafeTensors.write(file, tensors, Map.of("format", "pt"));
    }

    @Override public Map<String, Tensor> read(Path file) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (TensorSource src = SafeTensors.open(file)) {
            for (String n : src.names()) {
                Tensor t = src.tensor(n, MemoryKind.OTHER);
                out.put(n, t.copy());
                t.storage().release();
            }
        }
        return out;
    }
}
