package jlisa.tensor;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

import javax.management.ObjectName;

/**
 * Keeps HotSpot's C1 compiler away from the Vector API micro-kernels. C1 does not intrinsify vector
 * operations, so C1 code is no faster than the interpreter for them, and it can trap a kernel: a
 * register-blocked GEMM tile is compiled at tier 2, its tier-3 compile fails ("out of virtual
 * registers in linear scan"), and the method then never reaches C2 — measured at 2.4 GFLOP/s
 * instead of 150 on one run out of several, depending on compile timing. Excluding C1 for these
 * methods sends them from the interpreter straight to C2, every time.
 *
 * <p>The directive is added at run time through the DiagnosticCommand MBean (what
 * {@code jcmd <pid> Compiler.directives_add} does), so it applies wherever jlisa is used, without
 * JVM flags. It must run before the kernel is first called: kernel classes call it from their
 * static initialiser.
 *
 * <p>Thread-safe: directives are added under a lock.
 */
public final class Jit {
    private static boolean warned;

    private Jit() {}

    /** Excludes C1 for methods matching {@code pattern} (HotSpot's "pkg/Class.method" pattern syntax). */
    public static void c2Only(String pattern) { c2Only(pattern, new String[0]); }

    /**
     * As {@link #c2Only(String)}, and when C2 compiles those methods it follows the {@code inline} rules, each a
     * pattern with "+" (always inline: a helper that takes or returns vectors must be, or its vectors are boxed) or
     * "-" (never inline: keeps a vector-heavy tile routine a compile unit of its own, so its caller does not run out
     * of C2's inlining budget halfway through it).
     */
    public static synchronized void c2Only(String pattern, String... inline) {
        Path file = null;
        try {
            file = Files.createTempFile("jlisa-directive", ".json");
            StringBuilder rules = new StringBuilder();
            for (String r : inline) rules.append(rules.isEmpty() ? "" : ", ").append('"').append(r).append('"');
            Files.writeString(file, "[{match: \"" + pattern + "\", c1: {Exclude: true}"
                    + (inline.length == 0 ? "" : ", c2: {inline: [" + rules + "]}") + "}]");
            ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName("com.sun.management:type=DiagnosticCommand"),
                    "compilerDirectivesAdd", new Object[] {new String[] {file.toString()}},
                    new String[] {String[].class.getName()});
        } catch (Exception | LinkageError e) {
            if (!warned) {
                warned = true;
                System.err.println("jlisa: could not keep C1 off the vector kernels (" + e + "); they may stay slow "
                        + "if HotSpot's tiered compilation stalls on them");
            }
        } finally {
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (java.io.IOException ignored) {
                    // a leftover temp file is harmless
                }
            }
        }
    }
}
