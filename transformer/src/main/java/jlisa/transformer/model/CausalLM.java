package jlisa.transformer.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jlisa.autograd.GradMode;
import jlisa.autograd.Parameter;
import jlisa.autograd.Variable;
import jlisa.autograd.functions.LinearCrossEntropy;
import jlisa.tensor.DType;
import jlisa.tensor.MemoryLedger;
import jlisa.tensor.Shapes;
import jlisa.tensor.Tensor;
import jlisa.nn.Module;

/**
 * A decoder-only language model: token ids (B, T) in, next-token logits (B, T, V) out. GPT-2 and
 * LLaMA are the two kinds. Besides forward, a model exposes its layer structure — embeddings, the
 * blocks, the head — as named parameter groups, so optimizers (LISA) can sample layers without
 * knowing model classes.
 *
 * <p>A model has its own {@linkplain #memory() ledger account}: its parameters, the caches it makes and the
 * activations of its forward passes count there, apart from any other model in the JVM. {@link #close()} gives all
 * of it back; a closed model's entry points then fail naming the model.
 *
 * <p>Not thread-safe: one forward or training step at a time per model (parameters, LoRA state and the train/eval
 * switch are shared mutable state); separate models may be used on separate threads at once.
 */
public abstract class CausalLM extends Module implements AutoCloseable {
    private String name;
    private final MemoryLedger.Account memory;
    private AutoCloseable weights;
    private boolean closed;
    private DType checkpointDType = DType.F32;

    /** A model called {@code name} in messages and in its ledger account (e.g. the directory it was loaded from). */
    protected CausalLM(String name) {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("model: a name is required");
        this.name = name;
        this.memory = new MemoryLedger.Account(name);
    }

    /** The model's name in messages: the directory it was loaded from, or its architecture. */
    public final String name() { return name; }

    /**
     * This model's share of the memory ledger: what it holds (parameters, LoRA adapters, KV caches) and what its
     * forward passes allocate, live and at peak. Storage made elsewhere (an optimizer's state, gradients) counts
     * in the account of the run that made it.
     */
    public final MemoryLedger.Account memory() { return memory; }

    /** Keeps the checkpoint the weights are mapped from open as long as the model lives. */
    public final void attachWeights(AutoCloseable source) { this.weights = source; }

    /**
     * The floating-point dtype of the checkpoint this model was loaded from: BF16 when all its floating tensors were
     * BF16, F32 otherwise and for a model built in memory. {@link Models#save(CausalLM, java.nio.file.Path)} writes
     * this dtype, so a BF16 model fine-tuned here is saved as BF16 again (as HF's {@code save_pretrained} keeps the
     * model's dtype), whatever precision its weights were trained in.
     */
    public final DType checkpointDType() { return checkpointDType; }

    /** Sets {@link #checkpointDType()}: F32 or BF16. */
    final void checkpointDType(DType dtype) {
        if (dtype != DType.F32 && dtype != DType.BF16) {
            throw new IllegalArgumentException("checkpoint dtype: expected F32 or BF16, got " + dtype);
        }
        checkpointDType = dtype;
    }

    /** True once {@link #close()} was called. */
    public final boolean isClosed() { return closed; }

    /**
     * Gives back everything the model holds: its parameters' gradients and the values it allocated itself (those
     * counted in its {@linkplain #memory() account}: built, loaded, made writable or adapted by
     * {@code TrainingSetup}) are released, so the ledger falls at once, and the checkpoint the weights came from (if
     * any) is unmapped. Values it was handed from elsewhere (another model's state dict) are left to their owner.
     * Afterwards the model's entry points and its parameters' {@code data()} fail with an
     * {@link IllegalStateException} naming the model. Idempotent.
     */
    @Override public void close() {
        if (closed) return;
        closed = true;
        String reason = closedMessage();
        for (Parameter p : namedParameters().values()) {
            Tensor data = p.data();
            p.markClosed(reason);
            // Only what this model allocated: a storage shared with another model must outlive this one.
            if (data.storage().isChargedTo(memory)) data.storage().release();
        }
        if (weights == null) return;
        try {
            weights.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing the checkpoint of model " + name + " failed: " + e.getMessage(), e);
        }
        weights = null;
    }

    private String closedMessage() {
        return "model " + name + " was closed (its memory was given back); load it again to use it";
    }

    /** Fails with a message naming this model when it was closed; called by every entry point before any kernel. */
    protected final void checkOpen(String operation) {
        if (closed) throw new IllegalStateException(operation + ": " + closedMessage());
    }

    /** Logits (B, T, V) for I32 token ids (B, T), recording a graph when grad mode is on. */
    public final Variable forward(Tensor ids) { return forward(ids, null); }

    /**
     * Logits for the new tokens {@code ids} (B, T) at positions cache.length() … (generation); the
     * cache advances by T. With a null cache, positions start at 0.
     */
    public final Variable forward(Tensor ids, KvCache cache) {
        checkOpen("forward");
        try (var charge = memory.charge()) {
            return head(hiddenStates(ids, cache));
        }
    }

    /** The last norm's output (B, T, C) for {@code ids}: everything of {@link #forward} but the LM head. */
    protected abstract Variable hiddenStates(Tensor ids, KvCache cache);

    /** The LM head: logits (B, T, V) of hidden states. */
    protected abstract Variable head(Variable hidden);

    /**
     * The LM head's weight (V, C) when the head is that product and nothing more (no bias, no unmerged LoRA
     * adapter), so the loss can fuse it with the cross-entropy; null otherwise.
     */
    protected abstract Variable plainHeadWeight();

    /** A cache able to hold {@code maxLen} tokens for a batch of {@code batch}, counted in this model's account. */
    public final KvCache newCache(int batch, int maxLen) {
        checkOpen("newCache");
        try (var charge = memory.charge()) {
            return createCache(batch, maxLen);
        }
    }

    /** Allocates the cache {@link #newCache} returns. */
    protected abstract KvCache createCache(int batch, int maxLen);

    public abstract int vocabSize();

    /** The model's Hugging Face config.json contents. */
    public abstract Map<String, Object> configJson();

    /** The longest sequence the model accepts (learned positions limit GPT-2; LLaMA's is its config's). */
    public abstract int maxPositions();

    /** The stack of transformer blocks. */
    protected abstract jlisa.nn.ModuleList<? extends Module> blocks();

    /** The blocks' dotted path in the checkpoint, e.g. "transformer.h" or "model.layers". */
    protected abstract String blocksPath();

    /** Number of transformer blocks. */
    public final int numLayers() { return blocks().size(); }

    /** The parameters of block {@code i} by their dotted names. */
    public final Map<String, Parameter> blockParameters(int i) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        blocks().get(i).namedParameters().forEach((k, v) -> out.put(blocksPath() + "." + i + "." + k, v));
        return out;
    }

    /**
     * Parameter groups in model order: "embedding" (token and position tables), "layer.0" …
     * "layer.N-1", "head" (final norm and, when not tied, the output projection). Every parameter is
     * in exactly one group (a tied head lives with the embedding).
     */
    public final Map<String, Map<String, Parameter>> layerGroups() {
        Map<String, Parameter> all = new LinkedHashMap<>(namedParameters());
        Map<String, Map<String, Parameter>> groups = new LinkedHashMap<>();
        List<Map<String, Parameter>> blocks = new ArrayList<>();
        for (int i = 0; i < numLayers(); i++) {
            Map<String, Parameter> b = blockParameters(i);
            blocks.add(b);
            all.keySet().removeAll(b.keySet());
        }
        Map<String, Parameter> embedding = new LinkedHashMap<>(), head = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : all.entrySet()) {
            if (isEmbedding(e.getKey())) embedding.put(e.getKey(), e.getValue());
            else head.put(e.getKey(), e.getValue());
        }
        groups.put("embedding", embedding);
        for (int i = 0; i < blocks.size(); i++) groups.put("layer." + i, blocks.get(i));
        groups.put("head", head);
        return groups;
    }

    /** True for the names of token/position embedding tables. */
    protected abstract boolean isEmbedding(String parameterName);

    /**
     * Mean next-token cross-entropy of {@code ids} (B, T): position t predicts token t+1; positions
     * whose target is {@code ignoreIndex} do not count.
     */
    public final Variable loss(Tensor ids, int ignoreIndex) {
        checkOpen("loss");
        int B = ids.size(0), T = ids.size(1);
        if (T < 2) throw new IllegalArgumentException("loss: need at least 2 tokens per row, got shape " + Shapes.str(ids.shape()));
        Tensor inputs = ids.narrow(1, 0, T - 1).contiguous();
        Tensor targets = ids.narrow(1, 1, T - 1).contiguous();
        return loss(inputs, targets, ignoreIndex);
    }

    /**
     * Mean cross-entropy of the logits of {@code inputs} (B, T) against I32 {@code targets} (B, T), already
     * aligned (HF's pre-shifted labels); targets equal to {@code ignoreIndex} do not count. A plain LM head is fused
     * with the loss ({@link LinearCrossEntropy}), so the (B·T) × V logits are never held whole.
     */
    public final Variable loss(Tensor inputs, Tensor targets, int ignoreIndex) {
        if (targets.dim() != 2 || targets.size(0) != inputs.size(0) || targets.size(1) != inputs.size(1)) {
            throw new IllegalArgumentException("loss: targets " + Shapes.str(targets.shape()) + " must have the inputs' shape "
                    + Shapes.str(inputs.shape()));
        }
        checkOpen("loss");
        int rows = inputs.size(0) * inputs.size(1);
        Tensor flatTargets = targets.contiguous().reshape(rows);
        try (var charge = memory.charge()) {
            Variable hidden = hiddenStates(inputs, null);
            Variable weight = plainHeadWeight();
            if (weight == null) return head(hidden).reshape(rows, vocabSize()).crossEntropy(flatTargets, ignoreIndex);
            return LinearCrossEntropy.apply(hidden.reshape(rows, hidden.data().size(-1)), weight, flatTargets, ignoreIndex);
        }
    }

    /** Checks ids: I32, rank 2, within the vocabulary and the position limit. */
    protected final void checkIds(Tensor ids, int start) {
        if (ids.dtype() != DType.I32 || ids.dim() != 2) {
            throw new IllegalArgumentException("forward: expected I32 token ids of shape (B, T), got " + ids.dtype() + " "
                    + Shapes.str(ids.shape()));
        }
        if (start + ids.size(1) > maxPositions()) {
            throw new IllegalArgumentException("forward: positions up to " + (start + ids.size(1)) + " exceed the model's "
                    + maxPositions());
        }
    }

    /**
     * Checks ids (B, T) against the cache and returns each row's first position: the row's cached length (rows of a
     * batched cache may differ), 0 without a cache.
     */
    protected final int[] startPositions(Tensor ids, KvCache cache) {
        checkIds(ids, 0);
        int B = ids.size(0);
        if (cache == null) return new int[B];
        if (cache.batch() != B) {
            throw new IllegalArgumentException("forward: ids " + Shapes.str(ids.shape()) + " have " + B
                    + " rows but the KV cache holds " + cache.batch());
        }
        int[] starts = cache.lengths();
        for (int b = 0; b < B; b++) {
            if (starts[b] + ids.size(1) > maxPositions()) {
                throw new IllegalArgumentException("forward: positions up to " + (starts[b] + ids.size(1)) + " in row " + b
                        + " exceed the model's " + maxPositions());
            }
        }
        return starts;
    }

    /** Greedy or sampled decoding lives in {@code jlisa.transformer.generate}; this is the no-grad logits step it uses. */
    public final Tensor logitsNoGrad(Tensor ids, KvCache cache) {
        try (var noGrad = GradMode.disabled()) {
            return forward(ids, cache).data();
        }
    }

    /**
     * The logits (B, V) of the last position of each row of {@code ids} (B, T), no grad: what generation needs after
     * a prompt. Every position runs through the blocks (the cache advances by T), but the LM head multiplies only
     * the last one, so a prompt of T tokens pays for one row of the V × C head, not T.
     */
    public final Tensor lastLogitsNoGrad(Tensor ids, KvCache cache) {
        checkOpen("forward");
        int T = ids.dim() == 2 ? ids.size(1) : 0;
        if (T < 1) throw new IllegalArgumentException("forward: ids must be (B, T) with T ≥ 1, got " + Shapes.str(ids.shape()));
        try (var noGrad = GradMode.disabled(); var charge = memory.charge()) {
            Variable hidden = hiddenStates(ids, cache);
            if (T > 1) hidden = hidden.narrow(1, T - 1, 1);
            return head(hidden).data().reshape(ids.size(0), vocabSize());
        }
    }

    /**
     * The bytes of weights one decode step reads, as stored (a BF16 weight counts 2 bytes an element): every
     * parameter once, except the embedding tables, of which a step reads only the rows it looks up (not counted),
     * unless a table is also the LM head ({@link #tiedHead()}), which reads it whole. Weight bytes over this
     * is the bandwidth floor of decoding: no engine that streams its weights each token can go faster.
     */
    public final long weightBytesPerToken() {
        long bytes = 0;
        for (Map.Entry<String, Parameter> e : namedParameters().entrySet()) {
            Tensor w = e.getValue().data();
            if (!isEmbedding(e.getKey()) || (tiedHead() && e.getValue() == tokenEmbedding())) {
                bytes += (long) w.numel() * w.dtype().byteSize();
            }
        }
        return bytes;
    }

    /** The bytes of all parameters as stored (the weights' size in memory). */
    public final long weightBytes() {
        long bytes = 0;
        for (Parameter p : namedParameters().values()) bytes += (long) p.data().numel() * p.data().dtype().byteSize();
        return bytes;
    }

    /** True when the LM head is the token embedding table itself (tied weights). */
    protected abstract boolean tiedHead();

    /** The token embedding table (V, C). */
    public abstract Parameter tokenEmbedding();
}
