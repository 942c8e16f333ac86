package jlisa.bench;

import java.util.Locale;

import jlisa.distributed.Collective;

/**
 * Open MPI all-reduce through jlisa's {@link Collective}, run under {@code mpirun -np N}: for each size (floats) 3
 * warm-up calls, then 10 timed ones between barriers; rank 0 prints ms per call and the payload's GB/s (bytes of
 * one rank's buffer per second, the figure a data-parallel step's gradient bytes divide by). See bench/data-parallel.sh.
 *
 * <p>Not thread-safe: a main that runs once per process, on one thread, as MPI requires.
 */
public final class AllReduceBench {
    private AllReduceBench() {}

    public static void main(String[] args) {
        try (Collective c = Collective.fromEnvironment()) {
            for (String a : args.length > 0 ? args : new String[] {"65536", "1048576", "4194304", "16777216"}) {
                int n = Integer.parseInt(a);
                float[] buf = new float[n];
                for (int i = 0; i < 3; i++) c.allReduceSum(buf, 0, n);
                c.barrier();
                long t0 = System.nanoTime();
                for (int i = 0; i < 10; i++) c.allReduceSum(buf, 0, n);
                c.barrier();
                double ms = (System.nanoTime() - t0) / 1e6 / 10;
                if (c.rank() == 0) {
                    System.out.printf(Locale.ROOT, "allreduce ranks=%d floats=%d MB=%.1f ms=%.2f GB/s=%.2f%n", c.size(), n,
                            n * 4 / 1e6, ms, n * 4 / 1e6 / ms);
                }
            }
        }
    }
}
