package jlisa.gpu;

import java.util.Locale;

/**
 * How offloaded matrix products compute. Always an explicit choice: jlisa never lowers precision on its own.
 *
 * <p>Immutable; safe to share between threads.
 */
public enum Precision {
    /** IEEE float32 inputs and arithmetic (cuBLAS's default math). */
    FP32,
    /** float32 storage, tensor cores with TF32 inputs (10-bit mantissa), float32 accumulation. */
    TF32,
    /** Inputs rounded to bfloat16 on the device, tensor cores, float32 accumulation and output. */
    BF16;

    /** {@code fp32}, {@code tf32} or {@code bf16} (any case). */
    public static Precision parse(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException("--precision must be fp32, tf32 or bf16, got '" + s + "'");
        }
    }

    /** The lower-case name, as the command line spells it. */
    public String label() { return name().toLowerCase(Locale.ROOT); }
}
