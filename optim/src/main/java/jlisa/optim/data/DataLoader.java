package jlisa.optim.data;

import java.util.Arrays;
import java.util.List;

import jlisa.tensor.Rng;
import jlisa.tensor.Tensor;

/**
 * Turns examples into an endless, deterministic stream of {@link Batch}es of shape (B, T), epoch
 * after epoch. Each epoch visits the examples in a fresh order (a seeded permutation drawn from
 * {@link Rng}, or file order without shuffling) and cuts them into rows of T + 1 tokens; a row gives
 * inputs {@code row[0..T)} and targets {@code row[1..T+1)}, with {@link Batch#IGNORE} wherever the
 * target token's loss mask is false or the row has run out.
 *
 * <ul>
 *   <li>{@link Layout#PACK}: the epoch's examples are concatenated (EOS, if wanted, is already in them
 *       — see {@link Datasets}) and cut into consecutive, non-overlapping rows of T + 1 tokens; masks
 *       follow their tokens; the last row is padded if short. Rows per epoch = ⌈tokens / (T + 1)⌉.</li>
 *   <li>{@link Layout#PAD}: one example per row, truncated to T + 1 tokens, padded with the pad id
 *       (pad targets are ignored). Rows per epoch = number of examples.</li>
 * </ul>
 *
 * Batches hold B consecutive rows and never straddle an epoch; the last batch of an epoch holds the
 * leftover rows (fewer than B) when B does not divide the rows. {@link #ALL} puts every row of an
 * epoch in one batch: with equal-length token lines of length L and T = L − 1 each line is one row,
 * exactly as {@code jlisa score} reads them.
 *
 * <p>{@link #state()} / {@link #restore(long[])} capture the epoch, the position, the RNG and the
 * epoch's order, so a resumed run sees exactly the batches an uninterrupted one would.
 *
 * <p>Not thread-safe: one loader feeds one training loop.
 */
public final class DataLoader {
    /** How examples become rows. */
    public enum Layout { PACK, PAD }

    /** Batch size meaning "every row of an epoch in one batch". */
    public static final int ALL = -1;

    private static final long STATE_VERSION = 1;
    private static final int HEADER = 11;

    /**
     * T (block size: input positions per row), B (rows per batch, or {@link #ALL}), the layout, the
     * pad id (inputs past the end of a row; ignored as targets), and whether and with which seed to shuffle.
     */
    public record Options(int blockSize, int batchSize, Layout layout, int padId, boolean shuffle, long seed) {
        public Options {
            if (blockSize < 1) throw new IllegalArgumentException("DataLoader: block size must be >= 1, got " + blockSize);
            if (batchSize < 1 && batchSize != ALL) {
                throw new IllegalArgumentException("DataLoader: batch size must be >= 1 or ALL, got " + batchSize);
            }
            if (layout == null) throw new IllegalArgumentException("DataLoader: layout is required");
            if (padId < 0) throw new IllegalArgumentException("DataLoader: pad id must be >= 0, got " + padId);
        }

        /** Packed, shuffled with {@code seed}, pad id 0. */
        public static Options packed(int blockSize, int batchSize, long seed) {
            return new Options(blockSize, batchSize, Layout.PACK, 0, true, seed);
        }

        /** One example per row, padded with {@code padId}, shuffled with {@code seed}. */
        public static Options padded(int blockSize, int batchSize, int padId, long seed) {
            return new Options(blockSize, batchSize, Layout.PAD, padId, true, seed);
        }

        public Options withShuffle(boolean on) { return new Options(blockSize, batchSize, layout, padId, on, seed); }
    }

    private final List<Example> examples;
    private final Options options;
    private final int blockSize, batchSize, rowsPerEpoch, batchesPerEpoch;
    private final long totalTokens, fingerprint;
    private final Rng rng;

    private int[] order;
    private int epoch;
    private int batchInEpoch;
    private int cursorExample, cursorOffset;   // next unread token: order[cursorExample], offset cursorOffset

    public DataLoader(List<Example> examples, Options options) {
        if (examples == null || examples.isEmpty()) throw new IllegalArgumentException("DataLoader: no examples");
        if (options == null) throw new IllegalArgumentException("DataLoader: options are required");
        this.examples = List.copyOf(examples);
        this.options = options;
        this.blockSize = options.blockSize();
        long tokens = 0, hash = 1125899906842597L;
        for (Example e : this.examples) {
            tokens += e.length();
            hash = 31 * hash + e.length();
            for (int i = 0; i < e.length(); i++) hash = 31 * hash + (e.ids()[i] * 2L + (e.lossMask()[i] ? 1 : 0));
        }
        if (tokens == 0) throw new IllegalArgumentException("DataLoader: all " + this.examples.size() + " examples are empty");
        this.totalTokens = tokens;
        this.fingerprint = hash;
        long rows = options.layout() == Layout.PACK ? (tokens + blockSize) / (blockSize + 1) : this.examples.size();
        if (rows > Integer.MAX_VALUE) throw new IllegalArgumentException("DataLoader: " + rows + " rows per epoch is too many");
        this.rowsPerEpoch = (int) rows;
        this.batchSize = options.batchSize() == ALL ? rowsPerEpoch : options.batchSize();
        if ((long) batchSize * blockSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("DataLoader: a batch of (" + batchSize + ", " + blockSize + ") tokens is too large");
        }
        this.batchesPerEpoch = (rowsPerEpoch + batchSize - 1) / batchSize;
        this.rng = new Rng(options.seed());
        this.order = drawOrder();
    }

    public Options options() { return options; }

    /** A hash of the examples' tokens and loss masks, in order: processes that must train on the same data compare it. */
    public long fingerprint() {
        long h = 1469598103934665603L;
        for (Example e : examples) {
            h = h * 1099511628211L + e.length();
            for (int i = 0; i < e.length(); i++) h = (h * 1099511628211L + e.ids()[i]) * 3 + (e.lossMask()[i] ? 1 : 0);
        }
        return h;
    }

    /** Rows (sequences of T + 1 tokens) in one epoch. */
    public int rowsPerEpoch() { return rowsPerEpoch; }

    /** Batches in one epoch (the last may be smaller than B). */
    public int batchesPerEpoch() { return batchesPerEpoch; }

    /** B as resolved ({@link #ALL} becomes the rows per epoch). */
    public int batchSize() { return batchSize; }

    /** Epoch (0-based) of the most recent batch (0 before the first). */
    public int epoch() { return epoch; }

    /** Batches returned so far in {@link #epoch()}. */
    public int position() { return batchInEpoch; }

    /** The next batch; after the last batch of an epoch comes the first of the next, in a new order. */
    public Batch next() {
        if (batchInEpoch == batchesPerEpoch) {
            epoch++;
            batchInEpoch = 0;
            cursorExample = 0;
            cursorOffset = 0;
            order = drawOrder();
        }
        int rows = Math.min(batchSize, rowsPerEpoch - batchInEpoch * batchSize);
        int t = blockSize;
        int[] inputs = new int[rows * t], targets = new int[rows * t];
        int[] row = new int[t + 1];
        boolean[] mask = new boolean[t + 1];
        for (int b = 0; b < rows; b++) {
            int len = options.layout() == Layout.PACK ? fillPacked(row, mask) : fillPadded(row, mask);
            for (int i = 0; i < t; i++) {
                inputs[b * t + i] = i < len ? row[i] : options.padId();
                targets[b * t + i] = i + 1 < len && mask[i + 1] ? row[i + 1] : Batch.IGNORE;
            }
        }
        batchInEpoch++;
        return new Batch(Tensor.of(inputs, rows, t), Tensor.of(targets, rows, t));
    }

    /** The next T + 1 tokens of the epoch's concatenation (fewer at its end); returns how many. */
    private int fillPacked(int[] row, boolean[] mask) {
        int len = 0;
        while (len < row.length && cursorExample < order.length) {
            Example e = examples.get(order[cursorExample]);
            int n = Math.min(row.length - len, e.length() - cursorOffset);
            System.arraycopy(e.ids(), cursorOffset, row, len, n);
            System.arraycopy(e.lossMask(), cursorOffset, mask, len, n);
            len += n;
            cursorOffset += n;
            if (cursorOffset == e.length()) {
                cursorExample++;
                cursorOffset = 0;
            }
        }
        return len;
    }

    /** The next example, truncated to T + 1 tokens; returns its length. */
    private int fillPadded(int[] row, boolean[] mask) {
        Example e = examples.get(order[cursorExample++]);
        int len = Math.min(row.length, e.length());
        System.arraycopy(e.ids(), 0, row, 0, len);
        System.arraycopy(e.lossMask(), 0, mask, 0, len);
        return len;
    }

    private int[] drawOrder() {
        if (!options.shuffle()) {
            int[] identity = new int[examples.size()];
            Arrays.setAll(identity, i -> i);
            return identity;
        }
        return permutation(examples.size(), rng);
    }

    /** A uniformly random permutation of 0 … n−1 (Fisher–Yates). */
    static int[] permutation(int n, Rng rng) {
        int[] p = new int[n];
        Arrays.setAll(p, i -> i);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        return p;
    }

    /**
     * Everything needed to continue exactly here: a header identifying the data and options (checked by
     * {@link #restore}), the epoch, the position, the RNG state and the epoch's order.
     */
    public long[] state() {
        long[] rngState = rng.state();
        long[] s = new long[HEADER + rngState.length + order.length];
        s[0] = STATE_VERSION;
        s[1] = examples.size();
        s[2] = totalTokens;
        s[3] = fingerprint;
        s[4] = blockSize;
        s[5] = batchSize;
        s[6] = options.layout().ordinal();
        s[7] = epoch;
        s[8] = batchInEpoch;
        s[9] = cursorExample;
        s[10] = cursorOffset;
        System.arraycopy(rngState, 0, s, HEADER, rngState.length);
        for (int i = 0; i < order.length; i++) s[HEADER + rngState.length + i] = order[i];
        return s;
    }

    /** Continues from a {@link #state()} taken on a loader over the same examples with the same T, B and layout. */
    public void restore(long[] s) {
        int rngLength = rng.state().length;
        int n = examples.size();
        if (s == null || s.length < HEADER || s[0] != STATE_VERSION) {
            throw new IllegalArgumentException("DataLoader.restore: not a version-" + STATE_VERSION + " data loader state");
        }
        check(s[1] == n && s[2] == totalTokens && s[3] == fingerprint, "the data differ: state is for " + s[1]
                + " examples / " + s[2] + " tokens, this loader has " + n + " / " + totalTokens
                + (s[1] == n && s[2] == totalTokens ? " (same sizes, different contents)" : ""));
        check(s[4] == blockSize && s[5] == batchSize && s[6] == options.layout().ordinal(), "state is for T=" + s[4]
                + ", B=" + s[5] + ", " + Layout.values()[(int) Math.floorMod(s[6], 2)] + "; this loader has T=" + blockSize
                + ", B=" + batchSize + ", " + options.layout());
        check(s.length == HEADER + rngLength + n, "expected " + (HEADER + rngLength + n) + " longs, got " + s.length);
        check(s[7] >= 0 && s[8] >= 0 && s[8] <= batchesPerEpoch && s[9] >= 0 && s[9] <= n && s[10] >= 0,
                "position out of range: epoch " + s[7] + ", batch " + s[8] + " of " + batchesPerEpoch);
        int[] restored = new int[n];
        boolean[] seen = new boolean[n];
        for (int i = 0; i < n; i++) {
            long v = s[HEADER + rngLength + i];
            check(v >= 0 && v < n && !seen[(int) v], "the saved order is not a permutation of 0.." + (n - 1));
            seen[(int) v] = true;
            restored[i] = (int) v;
        }
        rng.restore(Arrays.copyOfRange(s, HEADER, HEADER + rngLength));
        order = restored;
        epoch = (int) s[7];
        batchInEpoch = (int) s[8];
        cursorExample = (int) s[9];
        cursorOffset = (int) s[10];
    }

    private static void check(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException("DataLoader.restore: " + message);
    }
}
