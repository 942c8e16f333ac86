package jlisa.tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Properties;

import jdk.incubator.vector.FloatVector;

/**
 * The GEMM's micro-kernel, cache blocking and loop order for the CPU it runs on, chosen once when the class loads.
 *
 * <p>The choice follows from what the CPU reports, never from timing: the depth block decides the order in which each
 * element's products are summed, so a timed choice could change a result's bits between two runs on one machine (and
 * break bit-exact resume). The facts used are the width of the JVM's preferred float species, the architecture (which
 * says how many vector registers there are), the vendor ({@code vendor_id} in {@code /proc/cpuinfo}) and the L3 size
 * from {@code /sys}; L1d and L2 are reported beside them.
 * <ul>
 *   <li><b>32 vector registers</b> (AVX-512, aarch64): a 6 × 4-vector tile, 24 accumulators; KC 1024, MC 96, NC 2048;
 *       the B micro-panel outermost in the macro-kernel. A row-major or transposed A is read where it lies, except on
 *       Intel: on Zen 4 that was the faster choice, on an Ice Lake Xeon its six row streams ran at 97 GFLOP/s against
 *       128 with A packed (same JVM, interleaved). Where A lies does not change the sums, so the bits are the same.
 *       Measured on Zen 4 and Ice Lake (bench/RESULTS.md).</li>
 *   <li><b>16 vector registers</b> (AVX2): a 5 × 2-vector tile, 10 accumulators. 6 × 4 and 6 × 2 leave too few
 *       registers for the B vectors and the broadcasts C2 schedules ahead, and an accumulator spills to the stack on
 *       every depth step (43 GFLOP/s in L1 on Zen 3, against 99). A always packed: read in place, 5 rows at a time,
 *       it ran at a third of the packed speed. The A micro-panel outermost (it stays in L1 while the tile moves along
 *       C's rows, which the hardware prefetchers follow), KC 1024, MC 250, and NC so that the packed B panel
 *       (KC × NC) takes a quarter of L3. Measured on Zen 3.</li>
 * </ul>
 * The kernel can be forced with {@code -Djlisa.gemm.kernel=6x4|5x2} (it brings its own blocking and order), reading A
 * in place with {@code jlisa.gemm.ainplace=true|false} (6 × 4 only), and each block size with {@code jlisa.gemm.kc},
 * {@code jlisa.gemm.mc}, {@code jlisa.gemm.nc}; the reason then says so. {@code jlisa info} prints {@link #describe()}.
 *
 * <p>Immutable; thread-safe.
 *
 * @param rows          rows of C per tile (MR)
 * @param vectorsPerRow vectors of C per tile row (NV): the tile is MR × NV·lanes
 * @param kc            largest depth of a packed block
 * @param mc            rows of a packed A block (rounded up to a multiple of MR where used)
 * @param nc            columns of a packed B panel (rounded up to a multiple of the tile's columns where used)
 * @param aInPlace      read a row-major or transposed A held in an array where it lies instead of packing it
 * @param aPanelOuter   macro-kernel order: true walks each A micro-panel along all of the B panel (C row by row),
 *                      false each B micro-panel down all of the A block (C column by column)
 * @param reason        why, in a line: the facts read and what they chose
 */
public record GemmPlan(int rows, int vectorsPerRow, int kc, int mc, int nc, boolean aInPlace, boolean aPanelOuter,
                       String reason) {

    /** The plan in use, fixed when this class loads. */
    public static final GemmPlan CHOSEN = choose(FloatVector.SPECIES_PREFERRED.vectorBitSize(),
            System.getProperty("os.arch", ""), vendor(), cacheBytes(1, "Data"), cacheBytes(2, "Unified"),
            cacheBytes(3, "Unified"), System.getProperties());

    /** Only the two kernels exist, and only the 6 × 4 one has a twin that reads A in place. */
    public GemmPlan {
        if (!(rows == 6 && vectorsPerRow == 4) && !(rows == 5 && vectorsPerRow == 2))
            throw new IllegalArgumentException("GemmPlan: the kernel is 6 × 4 or 5 × 2 vectors, got " + rows + " × "
                    + vectorsPerRow);
        if (aInPlace && rows != 6)
            throw new IllegalArgumentException("GemmPlan: only the 6 × 4 kernel reads A in place, got " + rows + " × "
                    + vectorsPerRow + " with aInPlace");
    }

    /** One line for {@code jlisa info}: the tile, the blocks and why. */
    public String describe() {
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        return String.format(Locale.ROOT, "%d × %d tile (%d × %d vectors), KC %d, MC %d, NC %d, %s, %s: %s",
                rows, vectorsPerRow * lanes, rows, vectorsPerRow, kc, mc, nc, aInPlace ? "A read in place" : "A packed",
                aPanelOuter ? "A micro-panel outer" : "B micro-panel outer", reason);
    }

    /**
     * The plan for a CPU with this preferred vector width, architecture, vendor ({@code vendor_id}: "GenuineIntel",
     * "AuthenticAMD", or "" when unknown) and cache sizes (bytes, 0 when unknown).
     */
    static GemmPlan choose(int vectorBits, String arch, String vendor, long l1d, long l2, long l3) {
        return choose(vectorBits, arch, vendor, l1d, l2, l3, new Properties());
    }

    /**
     * As {@link #choose(int, String, String, long, long, long)}, with {@code jlisa.gemm.kernel}, {@code .ainplace},
     * {@code .kc}, {@code .mc} and {@code .nc} from {@code props} applied (a forced kernel brings its own blocks and
     * order; the reason says what was forced).
     */
    static GemmPlan choose(int vectorBits, String arch, String vendor, long l1d, long l2, long l3, Properties props) {
        int registers = vectorBits >= 512 || arch.equals("aarch64") ? 32 : 16;
        String facts = vectorBits + "-bit vectors, " + registers + " vector registers (" + (arch.isEmpty() ? "?" : arch)
                + (vendor.isEmpty() ? "" : ", " + vendor) + "), L1d " + size(l1d) + ", L2 " + size(l2) + ", L3 "
                + size(l3);
        String kernel = props.getProperty("jlisa.gemm.kernel", registers == 32 ? "6x4" : "5x2");
        GemmPlan p = switch (kernel) {
            case "6x4" -> wide(vendor, facts);
            case "5x2" -> narrow(vectorBits, l3, facts);
            default -> throw new IllegalArgumentException("jlisa.gemm.kernel must be 6x4 or 5x2, got " + kernel);
        };
        String forced = (registers == 32) == kernel.equals("6x4") ? "" : " kernel=" + kernel;
        int kc = positive(props, "jlisa.gemm.kc", p.kc), mc = positive(props, "jlisa.gemm.mc", p.mc);
        int nc = positive(props, "jlisa.gemm.nc", p.nc);
        boolean inPlace = bool(props, "jlisa.gemm.ainplace", p.aInPlace);
        if (inPlace != p.aInPlace) forced += " ainplace=" + inPlace;
        if (kc != p.kc) forced += " kc=" + kc;
        if (mc != p.mc) forced += " mc=" + mc;
        if (nc != p.nc) forced += " nc=" + nc;
        if (forced.isEmpty()) return p;
        return new GemmPlan(p.rows, p.vectorsPerRow, kc, mc, nc, inPlace, p.aPanelOuter,
                p.reason + "; forced by -Djlisa.gemm.*:" + forced);
    }

    private static GemmPlan wide(String vendor, String facts) {
        if (vendor.equals("GenuineIntel"))
            return new GemmPlan(6, 4, 1024, 96, 2048, false, false,
                    facts + " → 6 × 4 kernel, A packed (Intel), blocks measured on Zen 4 and Ice Lake");
        return new GemmPlan(6, 4, 1024, 96, 2048, true, false, facts + " → 6 × 4 kernel, blocks measured on Zen 4");
    }

    private static GemmPlan narrow(int vectorBits, long l3, String facts) {
        int kc = 1024, nr = 2 * Math.max(1, vectorBits / 32);
        long panel = (l3 > 0 ? l3 : 32L << 20) / 4;
        int nc = (int) Math.max(256, Math.min(4096, panel / (4L * kc))) / nr * nr;
        return new GemmPlan(5, 2, kc, 250, nc, false, true,
                facts + " → 5 × 2 kernel (6 × 4 would spill), B panel in a quarter of L3, blocks measured on Zen 3");
    }

    private static int positive(Properties props, String key, int fallback) {
        String v = props.getProperty(key);
        if (v == null) return fallback;
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1) return n;
        } catch (NumberFormatException e) {
            // falls through to the error below
        }
        throw new IllegalArgumentException(key + " must be a whole number ≥ 1, got '" + v + "'");
    }

    private static boolean bool(Properties props, String key, boolean fallback) {
        String v = props.getProperty(key);
        if (v == null) return fallback;
        return switch (v.trim()) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException(key + " must be true or false, got '" + v + "'");
        };
    }

    private static String size(long bytes) {
        if (bytes <= 0) return "unknown";
        return bytes >= 1L << 20 && bytes % (1L << 20) == 0 ? (bytes >> 20) + " MiB" : (bytes >> 10) + " KiB";
    }

    /** {@code vendor_id} of the first CPU in {@code /proc/cpuinfo} (Linux, x86), or "" when it is not there. */
    static String vendor() {
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("vendor_id")).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("");
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /**
     * Size in bytes of cpu0's cache of this level and type, from {@code /sys/devices/system/cpu/cpu0/cache} (Linux),
     * or 0 when it is not there.
     */
    static long cacheBytes(int level, String type) {
        Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache");
        try (var entries = Files.list(dir)) {
            for (Path index : (Iterable<Path>) entries.filter(p -> p.getFileName().toString().startsWith("index"))::iterator) {
                if (firstLine(index.resolve("level")).equals(Integer.toString(level))
                        && firstLine(index.resolve("type")).equals(type))
                    return parseSize(firstLine(index.resolve("size")));
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    /** sysfs's spelling of a size ("32K", "1024K", "32M") in bytes; 0 when it cannot be read. */
    static long parseSize(String s) {
        if (s.isEmpty()) return 0;
        long unit = switch (Character.toUpperCase(s.charAt(s.length() - 1))) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            default -> 1;
        };
        String digits = unit == 1 ? s : s.substring(0, s.length() - 1);
        try {
            return Long.parseLong(digits.trim()) * unit;
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static String firstLine(Path p) throws IOException {
        List<String> lines = Files.readAllLines(p);
        return lines.isEmpty() ? "" : lines.get(0).trim();
    }
}
