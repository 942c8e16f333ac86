package jlisa.tensor;

/**
 * What a block of memory is for; the {@link MemoryLedger} counts bytes per kind.
 *
 * <p>Immutable; safe to share between threads.
 */
public enum MemoryKind {
    PARAMETER, GRADIENT, OPTIMIZER_STATE, ACTIVATION, OTHER,
    /** Optimizer state moved out of the working set (LISA's park policy): held, but not in use. */
    PARKED_STATE
}
