package jlisa.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import jlisa.tensor.Parallel;
import jlisa.transformer.generate.Decoder;
import jlisa.transformer.generate.Sampler;
import jlisa.transformer.model.CausalLM;

/**
 * Prefill and decode speed of greedy generation, beside the bandwidth floor of decoding on the same machine: the
 * figures {@code jlisa bench generate} prints and {@code bench/vs-jlama.sh} sets beside Jlama's.
 *
 * <p>A round feeds a fixed prompt ({@link #prompt}, the ids {@code bench/jlama/JlamaGenerate.java} feeds too) into a
 * fresh KV cache and times it (prefill, up to the first token's logits), then times {@code newTokens} decode steps,
 * each feeding the token the step before picked (argmax). Decoding a token reads every weight once
 * ({@link CausalLM#weightBytesPerToken()}), so {@linkplain #readBandwidth the read bandwidth} over those bytes bounds
 * its tokens per second from above: the floor, in time per token.
 *
 * <p>Not thread-safe: one measurement at a time (it owns the model while it runs).
 */
public final class GenerationTiming {
    private GenerationTiming() {}

    /** One round: tokens per second of the prompt and of the decode steps, and the ids picked (first from the prompt). */
    public record Round(double prefillTokensPerSecond, double decodeTokensPerSecond, int[] tokens) {}

    /** The prompt of every engine in the comparison: id i is 1 + (i · 7919) mod (vocab − 1), never 0. */
    public static int[] prompt(int length, int vocab) {
        int[] ids = new int[length];
        for (int i = 0; i < length; i++) ids[i] = 1 + (int) ((long) i * 7919 % (vocab - 1));
        return ids;
    }

    /** One round on {@code threads} threads: prefill of {@code prompt}, then {@code newTokens} greedy decode steps. */
    public static Round round(CausalLM model, int[] prompt, int newTokens, int threads) {
        Round[] out = new Round[1];
        Parallel.withThreads(threads, () -> {
            int[] tokens = new int[newTokens + 1];
            try (Decoder decoder = new Decoder(model, prompt.length + newTokens)) {
                long t0 = System.nanoTime();
                tokens[0] = Sampler.argmax(decoder.feed(prompt));
                long t1 = System.nanoTime();
                for (int s = 1; s <= newTokens; s++) tokens[s] = Sampler.argmax(decoder.feed(tokens[s - 1]));
                long t2 = System.nanoTime();
                out[0] = new Round(prompt.length / ((t1 - t0) / 1e9), newTokens / ((t2 - t1) / 1e9), tokens);
            }
        });
        return out[0];
    }

    /** Rounds on {@code threads} threads; the first is JIT warm-up and is returned too, first in the list. */
    public static List<Round> rounds(CausalLM model, int promptTokens, int newTokens, int threads, int rounds) {
        int[] prompt = prompt(promptTokens, model.vocabSize());
        List<Round> out = new ArrayList<>();
        for (int r = 0; r < rounds; r++) out.add(round(model, prompt, newTokens, threads));
        return out;
    }

    /** The median of {@code values}. */
    public static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /**
     * 256-bit vectors, as the decoding kernels (jlisa.tensor.kernels.MatVec) use, even where the CPU has 512: on
     * Zen 4 the same sum read memory at 23.9 GB/s with 256-bit loads and 20.4 with 512-bit ones (one thread,
     * jlisa.bench.RowStreams), so the narrower loads give the higher, stricter floor.
     */
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.vectorBitSize() > 256
            ? FloatVector.SPECIES_256 : FloatVector.SPECIES_PREFERRED;

    /**
     * Bytes per second {@code threads} threads read from memory: the best of five passes summing 256 MiB (far
     * beyond the caches) with four independent vector sums each, split as the kernels split work, once from a Java
     * array and once from off-heap memory (which reads faster here: the heap's pages are small), the higher of the
     * two. The buffers are allocated here and dropped after, so call it after reading the resident memory.
     */
    public static double readBandwidth(int threads) {
        int floats = 64 << 20, step = 4 * F.length();
        double[] sink = new double[1];
        float[] array = new float[floats];
        Arrays.fill(array, 1f);   // touch every page before timing
        double best = bestOfFive(threads, floats / step, sink, (lo, hi) -> {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int v = lo; v < hi; v++) {
                int at = v * step;
                a0 = a0.add(FloatVector.fromArray(F, array, at));
                a1 = a1.add(FloatVector.fromArray(F, array, at + F.length()));
                a2 = a2.add(FloatVector.fromArray(F, array, at + 2 * F.length()));
                a3 = a3.add(FloatVector.fromArray(F, array, at + 3 * F.length()));
            }
            return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
        });
        try (Arena arena = Arena.ofShared()) {
            MemorySegment offHeap = arena.allocate(4L * floats, 64);
            offHeap.fill((byte) 0);
            long vectorBytes = 4L * F.length();
            best = Math.max(best, bestOfFive(threads, floats / step, sink, (lo, hi) -> {
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                for (long at = lo * 4L * step, end = hi * 4L * step; at < end; at += 4 * vectorBytes) {
                    a0 = a0.add(FloatVector.fromMemorySegment(F, offHeap, at, ByteOrder.nativeOrder()));
                    a1 = a1.add(FloatVector.fromMemorySegment(F, offHeap, at + vectorBytes, ByteOrder.nativeOrder()));
                    a2 = a2.add(FloatVector.fromMemorySegment(F, offHeap, at + 2 * vectorBytes, ByteOrder.nativeOrder()));
                    a3 = a3.add(FloatVector.fromMemorySegment(F, offHeap, at + 3 * vectorBytes, ByteOrder.nativeOrder()));
                }
                return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
            }));
        }
        if (!(sink[0] > 0)) throw new IllegalStateException("read bandwidth: the sums came out wrong: " + sink[0]);
        return best;
    }

    /** A sum over the blocks [lo, hi) of a 256 MiB buffer. */
    private interface BlockSum { float sum(int lo, int hi); }

    private static double bestOfFive(int threads, int blocks, double[] sink, BlockSum body) {
        double best = 0;
        for (int pass = 0; pass < 5; pass++) {
            long t0 = System.nanoTime();
            Parallel.withThreads(threads, () -> Parallel.forRange(0, blocks, 1 << 12, (lo, hi) -> {
                float s = body.sum(lo, hi);
                synchronized (sink) { sink[0] += s; }   // keeps the sums alive
            }));
            best = Math.max(best, (256.0 * (1 << 20)) / ((System.nanoTime() - t0) / 1e9));
        }
        return best;
    }

    /** This process's resident memory now and at its peak (VmRSS, VmHWM of /proc/self/status), in bytes; -1 where unknown. */
    public static long[] residentBytes() {
        long[] out = {-1, -1};
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) return out;
        try {
            for (String line : Files.readAllLines(status)) {
                String[] f = line.trim().split("\\s+");
                if (f.length >= 2 && f[0].equals("VmRSS:")) out[0] = Long.parseLong(f[1]) * 1024;
                if (f.length >= 2 && f[0].equals("VmHWM:")) out[1] = Long.parseLong(f[1]) * 1024;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + status, e);
        }
        return out;
    }
}
