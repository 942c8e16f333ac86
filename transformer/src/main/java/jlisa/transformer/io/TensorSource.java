package jlisa.transformer.io;

import java.util.Map;
import java.util.Set;

import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;

/**
 * Named tensors read from a checkpoint: one safetensors file ({@link SafeTensorsFile}) or a sharded
 * directory ({@link SafeTensors#openModel}). Tensors that are views of a memory-mapped file are valid
 * until {@link #close()}; copy them ({@link Tensor#copy()}) to keep them longer.
 *
 * <p>Reading tensors from several threads is safe; closing while another thread reads is not.
 */
public interface TensorSource extends AutoCloseable {
    /** The tensor names, sorted. */
    Set<String> names();

    /** True when a tensor of that name exists. */
    default boolean contains(String name) { return names().contains(name); }

    /** The header entry of {@code name}; throws {@link SafeTensorsException} naming the file when there is none. */
    TensorInfo info(String name);

    /** The checkpoint's free-form string metadata (empty when it has none). */
    Map<String, String> metadata();

    /**
     * Tensor {@code name}, counted in the memory ledger under {@code kind}: a read-only view of the
     * mapped file for F32, BF16, F64 and I32, a converted heap copy for the others (see
     * {@link SafeTensorsDType}). Each call makes a new tensor.
     */
    Tensor tensor(String name, MemoryKind kind);

    /** Unmaps the file(s); tensors that are views of them must not be used afterwards. Idempotent. */
    @Override void close();
}
