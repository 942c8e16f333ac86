package jlisa.transformer.io;

import java.util.Arrays;
import java.util.stream.Collectors;

import jlisa.tensor.DType;

/**
 * The element types a safetensors header may name (the byte-sized ones of the spec), with their size
 * in bytes and the jlisa {@link DType} a tensor of that type loads as.
 *
 * <p>F32, BF16, F64 and I32 load without a copy, as views of the mapped file. F16 widens to F32 on
 * load (jlisa has no F16). The other integer types widen to I32 on load, with a range check for
 * U32, I64 and U64. FP8 tensors can be listed but not loaded.
 *
 * <p>Immutable; safe to share between threads.
 */
public enum SafeTensorsDType {
    BOOL(1, DType.I32), U8(1, DType.I32), I8(1, DType.I32), I16(2, DType.I32), U16(2, DType.I32),
    F16(2, DType.F32), BF16(2, DType.BF16), I32(4, DType.I32), U32(4, DType.I32), F32(4, DType.F32),
    F64(8, DType.F64), I64(8, DType.I32), U64(8, DType.I32),
    F8_E5M2(1, null), F8_E4M3(1, null);

    private final int byteSize;
    private final DType loadsAs;

    SafeTensorsDType(int byteSize, DType loadsAs) {
        this.byteSize = byteSize;
        this.loadsAs = loadsAs;
    }

    /** Bytes per element in the file. */
    public int byteSize() { return byteSize; }

    /** The dtype of the tensor this type loads as, or null when jlisa cannot load it. */
    public DType loadsAs() { return loadsAs; }

    /** True when the file's bytes are used as they are (a view of the mapped file, no copy). */
    public boolean isZeroCopy() { return this == F32 || this == BF16 || this == F64 || this == I32; }

    /** The file dtype a jlisa tensor is written as (the same name for all four jlisa dtypes). */
    public static SafeTensorsDType of(DType dtype) {
        return switch (dtype) {
            case F32 -> F32;
            case BF16 -> BF16;
            case F64 -> F64;
            case I32 -> I32;
        };
    }

    /** The type named {@code name} in a header, or null when the name is not one of the spec's byte-sized types. */
    static SafeTensorsDType parse(String name) {
        for (SafeTensorsDType t : values()) if (t.name().equals(name)) return t;
        return null;
    }

    /** "BOOL, U8, …": for error messages. */
    static String known() { return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", ")); }
}
