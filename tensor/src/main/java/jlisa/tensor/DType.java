package jlisa.tensor;

/**
 * Element types. F32 is what kernels compute in; F64 is for reference computations and gradcheck
 * (plain loops); BF16 is a storage format for weights, widened to F32 when read; I32 holds
 * indices (token ids, argmax results) and computes in F32 when used in arithmetic.
 *
 * <p>Immutable; safe to share between threads.
 */
public enum DType {
    F32(4), F64(8), BF16(2), I32(4);

    private final int byteSize;

    DType(int byteSize) { this.byteSize = byteSize; }

    /** Bytes per element. */
    public int byteSize() { return byteSize; }

    /** The dtype a binary op between {@code a} and {@code b} computes in: F64 wins, BF16 computes in F32. */
    public static DType promote(DType a, DType b) {
        if (a == F64 || b == F64) return F64;
        return F32;
    }

    /** The dtype kernels read this dtype as: BF16 widens to F32; the others stay. */
    public DType computeType() { return this == BF16 ? F32 : this; }

    /** bfloat16 bits to float: the bf16 value is the top half of a float32. */
    public static float bf16ToFloat(short bits) { return Float.intBitsToFloat((bits & 0xFFFF) << 16); }

    /** float to bfloat16 bits, rounding to nearest even (NaN stays NaN). */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x40);
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
