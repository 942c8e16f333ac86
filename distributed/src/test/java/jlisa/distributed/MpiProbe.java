package jlisa.distributed;

import java.util.Arrays;

/**
 * Run by {@link MpiCollectiveTest} under {@code mpirun -np N}: each rank checks the collectives' results itself and
 * prints one line; any wrong value exits non-zero.
 */
public final class MpiProbe {
    public static void main(String[] args) {
        try (Collective c = Collective.fromEnvironment()) {
            int r = c.rank(), n = c.size();
            // sums of odd sizes, past the staging buffer's first size, at an offset
            for (int len : new int[] {1, 7, 100_003}) {
                float[] buf = new float[len + 3];
                for (int i = 0; i < len; i++) buf[3 + i] = (r + 1) * (i % 97);
                c.allReduceSum(buf, 3, len);
                float ranks = n * (n + 1) / 2f;
                for (int i = 0; i < len; i++) {
                    if (buf[3 + i] != ranks * (i % 97)) fail(r, "allReduceSum len " + len + " [" + i + "] = " + buf[3 + i]);
                }
                if (buf[0] != 0 || buf[2] != 0) fail(r, "allReduceSum wrote outside its range");
            }
            float[] mean = {r, 2 * r};
            c.allReduceMean(mean, 0, 2);
            if (mean[0] != (n - 1) / 2f || mean[1] != (n - 1f)) fail(r, "allReduceMean " + Arrays.toString(mean));
            float[] b = new float[5];
            if (r == n - 1) Arrays.fill(b, 42f);
            c.broadcast(b, 1, 4, n - 1);
            if (b[0] != (r == n - 1 ? 42f : 0f) || b[1] != 42f || b[4] != 42f) fail(r, "broadcast " + Arrays.toString(b));
            c.barrier();
            System.out.println("rank " + r + " of " + n + " ok, sent " + c.bytesSent() + " bytes");
        }
    }

    private static void fail(int rank, String what) {
        System.out.println("rank " + rank + " FAILED: " + what);
        System.exit(1);
    }
}
