package jlisa.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/** A shared library opened through the FFM API, and downcall handles to its functions. */
final class NativeLibrary {
    private static final Linker LINKER = Linker.nativeLinker();

    /** The path or name it was opened by. */
    final String location;
    private final SymbolLookup lookup;

    private NativeLibrary(String location, SymbolLookup lookup) {
        this.location = location;
        this.lookup = lookup;
    }

    /**
     * Opens {@code location} (a path, or a bare name the system loader resolves) for as long as {@code arena}
     * lives; throws with the loader's reason when it cannot.
     */
    static NativeLibrary open(String location, Arena arena) {
        try {
            return new NativeLibrary(location, SymbolLookup.libraryLookup(location, arena));
        } catch (IllegalArgumentException e) {   // the JDK's message only repeats the name
            throw new IllegalStateException("the dynamic loader could not open " + location, e);
        }
    }

    /** A handle to {@code name} with the given C signature ({@code result} null for void). */
    MethodHandle function(String name, MemoryLayout result, MemoryLayout... args) {
        return optionalFunction(name, result, args).orElseThrow(() -> new IllegalStateException(
                location + " has no function " + name + " (is it an older version than jlisa needs?)"));
    }

    /** Like {@link #function}, for functions that older library versions lack. */
    Optional<MethodHandle> optionalFunction(String name, MemoryLayout result, MemoryLayout... args) {
        FunctionDescriptor signature = result == null ? FunctionDescriptor.ofVoid(args) : FunctionDescriptor.of(result, args);
        return lookup.find(name).map(symbol -> LINKER.downcallHandle(symbol, signature));
    }

    /** One native call, as a lambda: {@code () -> handle.invoke(args)}. */
    @FunctionalInterface
    interface Call {
        Object run() throws Throwable;
    }

    /** Runs a call that returns a C int (a status code). */
    static int status(Call call) { return (int) run(call); }

    /** Runs a call that returns a C pointer. */
    static MemorySegment pointer(Call call) { return (MemorySegment) run(call); }

    private static Object run(Call call) {
        try {
            return call.run();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {   // invoke() declares Throwable; a downcall throws nothing checked
            throw new IllegalStateException(t);
        }
    }

    /** The NUL-terminated C string at {@code address}, or null for a null pointer. */
    static String string(MemorySegment address) {
        if (address == null || address.equals(MemorySegment.NULL)) return null;
        return address.reinterpret(4096).getString(0);
    }

    /** A fresh out-parameter cell for a pointer. */
    static MemorySegment pointerCell(Arena arena) { return arena.allocate(ValueLayout.ADDRESS); }
}
