package jlisa.tensor;

/**
 * An accelerator that takes work off the CPU kernels: matrix products, optimizer state kept in its
 * own memory with the fused AdamW update over it, and the reductions gradient clipping needs. The gpu
 * module provides one (CUDA). Model code never names a backend: {@link jlisa.tensor.kernels.MatMul}
 * and the optimizers ask {@link Backends#active()} (the calling thread's choice), and work on memory a backend owns goes to that
 * backend ({@link DeviceStorage#backend()}). With no active backend every path is the CPU's, unchanged.
 *
 * <p>A backend that also runs the model's other kernels on its memory ({@link DeviceKernels}) lets a whole training
 * step stay there (device-resident training); an op it has no kernel for fails, naming the op.
 *
 * <p>Threads choose their backend independently ({@link Backends}), so one backend may be called from every thread
 * that activated it or holds a model in its memory; an implementation says whether it serves several at once.
 */
public interface Backend extends DeviceKernels {

    /** A short name for messages, e.g. "cuda". */
    @Override String name();

    /** One line for logs and reports: the device, its memory, library versions, the precision of products. */
    String description();

    /**
     * {@code c = alpha · a @ b + beta · c} with {@link jlisa.tensor.kernels.MatMul#gemm}'s conventions (its
     * shape checks have passed; the batch dims of {@code a} and {@code b} broadcast to {@code c}'s). {@code a}
     * and {@code b} are host or device tensors of any layout; {@code c} is a dense host tensor or a tensor in
     * this backend's memory.
     *
     * @return true when the product was done here; false to leave it to the CPU (F64, too small to pay for
     *         the transfers, or a layout this backend does not take) — then nothing was written
     */
    boolean gemm(double alpha, Tensor a, Tensor b, double beta, Tensor c);

    /** A zero-filled contiguous F32 tensor of {@code shape} in this backend's memory, counted under {@code kind}. */
    Tensor zeros(MemoryKind kind, int... shape);

    /** A contiguous F32 copy of {@code t} (host or device) in this backend's memory, counted under {@code kind}. */
    Tensor toDevice(Tensor t, MemoryKind kind);

    /**
     * One AdamW update of a parameter whose moments {@code m} and {@code v} live in this backend's memory
     * (contiguous, as many elements as the parameter): the formula of {@code jlisa.optim.AdamW.update}, element
     * by element. {@code param} and {@code grad} are contiguous F32 tensors on the host or on this device;
     * {@code param} is updated in place wherever it lives.
     */
    void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, AdamWStep step);

    /** Σ x² over a tensor in this backend's memory, accumulated in double (for the global gradient norm). */
    double sumOfSquares(Tensor t);

    /**
     * Σ x² of each of {@code tensors} (all in this backend's memory), added in list order: what
     * {@link #sumOfSquares(Tensor)} one by one gives, which is the default; a backend may gather the partial sums
     * of all of them and bring them to the host at once.
     */
    default double sumOfSquares(java.util.List<Tensor> tensors) {
        double sum = 0;
        for (Tensor t : tensors) sum += sumOfSquares(t);
        return sum;
    }

    /** {@code t *= factor} in place, for a tensor in this backend's memory (gradient clipping). */
    void scale(Tensor t, double factor);

    /**
     * One AdamW step's constants, as the CPU kernel holds them in float: {@code decay = 1 − lr·λ},
     * {@code stepSize = lr / (1 − β₁ᵗ)}, {@code bc2Sqrt = √(1 − β₂ᵗ)}. The update is
     * {@code m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p·decay − m / (√v / bc2Sqrt + ε) · stepSize}.
     */
    record AdamWStep(float lr, float beta1, float beta2, float eps, float weightDecay, float stepSize, float bc2Sqrt) {
        /** {@code 1 − lr·λ}, rounded as the CPU kernel rounds it. */
        public float decay() { return 1 - lr * weightDecay; }

        /** {@code 1 − β₁} in float. */
        public float oneMinusBeta1() { return 1 - beta1; }

        /** {@code 1 − β₂} in float. */
        public float oneMinusBeta2() { return 1 - beta2; }
    }
}
