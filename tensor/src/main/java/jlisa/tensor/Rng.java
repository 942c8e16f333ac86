package jlisa.tensor;

import java.util.Arrays;

/**
 * The one random number generator of jlisa: xoshiro256** seeded through SplitMix64. Same seed,
 * same numbers, on every machine. Its whole state (including a pending normal deviate) can be
 * saved with {@link #state()} and restored with {@link #restore(long[])}, so a resumed training run
 * draws what it would have drawn.
 *
 * <p>Not thread-safe: give each thread its own generator (same seed, same numbers).
 */
public final class Rng {
    private long s0, s1, s2, s3;
    private boolean hasSpareNormal;
    private double spareNormal;

    public Rng(long seed) {
        long x = seed;
        s0 = splitMix(x += 0x9E3779B97F4A7C15L);
        s1 = splitMix(x += 0x9E3779B97F4A7C15L);
        s2 = splitMix(x += 0x9E3779B97F4A7C15L);
        s3 = splitMix(x + 0x9E3779B97F4A7C15L);
    }

    private static long splitMix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** 64 random bits. */
    public long nextLong() {
        long result = Long.rotateLeft(s1 * 5, 7) * 9;
        long t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = Long.rotateLeft(s3, 45);
        return result;
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public double nextDouble() { return (nextLong() >>> 11) * 0x1.0p-53; }

    /** Uniform in [0, 1) with 24 random bits. */
    public float nextFloat() { return (nextLong() >>> 40) * 0x1.0p-24f; }

    /** Uniform integer in [0, bound). */
    public int nextInt(int bound) {
        if (bound <= 0) throw new IllegalArgumentException("nextInt: bound must be > 0, got " + bound);
        // Lemire's multiply-shift with rejection: unbiased.
        long m = (nextLong() >>> 32) * bound;
        long low = m & 0xFFFFFFFFL;
        if (low < bound) {
            long threshold = (0x100000000L - bound) % bound;
            while (low < threshold) {
                m = (nextLong() >>> 32) * bound;
                low = m & 0xFFFFFFFFL;
            }
        }
        return (int) (m >>> 32);
    }

    /** Standard normal deviate (Box–Muller; the second deviate of each pair is kept for the next call). */
    public double nextGaussian() {
        if (hasSpareNormal) {
            hasSpareNormal = false;
            return spareNormal;
        }
        double u1;
        do u1 = nextDouble(); while (u1 == 0.0);
        double u2 = nextDouble();
        double r = Math.sqrt(-2.0 * Math.log(u1));
        spareNormal = r * Math.sin(2 * Math.PI * u2);
        hasSpareNormal = true;
        return r * Math.cos(2 * Math.PI * u2);
    }

    /** The full state, for checkpoints. */
    public long[] state() {
        return new long[] {s0, s1, s2, s3, hasSpareNormal ? 1 : 0, Double.doubleToRawLongBits(spareNormal)};
    }

    /** Restores a state returned by {@link #state()}. */
    public void restore(long[] state) {
        if (state == null || state.length != 6) {
            throw new IllegalArgumentException("Rng state must have 6 longs, got "
                    + (state == null ? "null" : Arrays.toString(state)));
        }
        s0 = state[0]; s1 = state[1]; s2 = state[2]; s3 = state[3];
        hasSpareNormal = state[4] != 0;
        spareNormal = Double.longBitsToDouble(state[5]);
    }
}
