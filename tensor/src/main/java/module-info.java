/**
 * Tensors, storage, the memory ledger and the backend seam ({@link jlisa.tensor.Tensor},
 * {@link jlisa.tensor.MemoryLedger}, {@link jlisa.tensor.Backends}).
 *
 * <p>The SIMD kernels in {@code jlisa.tensor.kernels} are internal: they are exported only to the jlisa
 * modules that call them, so their signatures can change without breaking users.
 */
module jlisa.tensor {
    // Every kernel is written on the Vector API; requiring it here resolves it on the module path without a flag.
    requires jdk.incubator.vector;
    // Jit keeps C1 off the kernels through the DiagnosticCommand MBean; jdk.management, which provides it, joins
    // the module graph by service binding (it provides java.management's PlatformMBeanProvider).
    requires java.management;

    exports jlisa.tensor;
    exports jlisa.tensor.kernels to jlisa.autograd, jlisa.nn, jlisa.transformer, jlisa.optim, jlisa.gpu;
}
