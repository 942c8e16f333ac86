package jlisa.finetune;

import java.util.Collection;
import java.util.List;
import java.util.Map;

import jlisa.autograd.Parameter;
import jlisa.distributed.Collective;
import jlisa.optim.train.Trainer;
import jlisa.tensor.DType;
import jlisa.tensor.Tensor;

/**
 * One process's part of a data-parallel fine-tune: each step's gradients are summed over all ranks in buckets of
 * at most {@link #BUCKET_FLOATS} floats (each process's loss was already weighted by its share of the batch's
 * counted targets, so the sum is the job's mean). Only the parameters that have gradients this step go over the
 * wire, so a LISA step sends the active layers, the embedding and the head, not the frozen layers. Every
 * {@code checkEvery} steps the trained parameters' checksum is compared across ranks.
 *
 * <p>Not thread-safe: the trainer's thread calls it, as the collective requires.
 */
final class GradientAllReduce implements Trainer.DataParallel {
    /** 16 MiB per all-reduce call: large enough that latency is small beside the payload, small enough to stage. */
    static final int BUCKET_FLOATS = 1 << 22;
    /** Floats ahead of the gradients in the first bucket: the loss (high and low parts) and a layout check. */
    private static final int HEADER = 3;

    private final Collective collective;
    private final Collection<Parameter> trained;
    private final int checkEvery;
    private float[] bucket = new float[0];

    GradientAllReduce(Collective collective, Map<String, Parameter> trained, int checkEvery) {
        this.collective = collective;
        this.trained = List.copyOf(trained.values());
        this.checkEvery = checkEvery;
    }

    @Override public double allReduce(List<Parameter> params, double loss) {
        long total = 0;
        for (Parameter p : params) total += gradient(p).numel();
        // The header rides in the first bucket: the loss as two floats (a double's precision survives the sum) and a
        // check that every rank sends the same layout (its sum must be size × this rank's value).
        float hi = (float) loss, lo = (float) (loss - hi);
        float layout = (float) ((total * 31 + params.size()) % (1 << 20));
        int need = (int) Math.min(BUCKET_FLOATS, total + HEADER);
        if (bucket.length < need) bucket = new float[need];
        bucket[0] = hi;
        bucket[1] = lo;
        bucket[2] = layout;
        int filled = HEADER, first = 0;   // params[first ...] have floats in the bucket
        long firstOffset = 0;             // where params[first]'s floats in the bucket begin, within it
        double summedLoss = 0;
        boolean headerRead = false;
        for (int i = 0; i < params.size(); i++) {
            Tensor g = gradient(params.get(i));
            float[] a = g.floatArray();
            long n = g.numel(), done = 0;
            while (done < n) {
                int take = (int) Math.min(n - done, BUCKET_FLOATS - filled);
                System.arraycopy(a, g.offset() + (int) done, bucket, filled, take);
                filled += take;
                done += take;
                if (filled == BUCKET_FLOATS || (i == params.size() - 1 && done == n)) {
                    collective.allReduceSum(bucket, 0, filled);
                    if (!headerRead) summedLoss = header(layout);
                    headerRead = true;
                    scatter(params, first, firstOffset, i, done, filled);
                    first = i;
                    firstOffset = done;
                    filled = 0;
                }
            }
        }
        if (params.isEmpty()) {
            collective.allReduceSum(bucket, 0, HEADER);
            summedLoss = header(layout);
        }
        return summedLoss;
    }

    /** Reads the summed header of the first bucket: checks the layout, returns the job's loss. */
    private double header(float layout) {
        if (bucket[2] != layout * collective.size()) {
            throw new IllegalStateException("data-parallel: the ranks sent different sets of gradients this step (rank "
                    + collective.rank() + "'s layout check " + layout + ", summed " + bucket[2] + "); the ranks must train "
                    + "the same parameters — the same options and LISA seed on every rank");
        }
        return (double) bucket[0] + bucket[1];
    }

    /**
     * Copies the summed bucket back: from {@code params[from]} at element {@code fromOffset} up to {@code params[to]}
     * at element {@code toEnd} (exclusive). The first bucket's header is skipped.
     */
    private void scatter(List<Parameter> params, int from, long fromOffset, int to, long toEnd, int filled) {
        int pos = from == 0 && fromOffset == 0 ? HEADER : 0;
        for (int i = from; i <= to; i++) {
            Tensor g = gradient(params.get(i));
            long start = i == from ? fromOffset : 0, end = i == to ? toEnd : g.numel();
            System.arraycopy(bucket, pos, g.floatArray(), g.offset() + (int) start, (int) (end - start));
            pos += (int) (end - start);
        }
        if (pos != filled) throw new IllegalStateException("data-parallel: bucket bookkeeping: " + pos + " of " + filled);
    }

    private static Tensor gradient(Parameter p) {
        Tensor g = p.grad();
        if (!g.isDense() || g.dtype() != DType.F32) {
            throw new IllegalStateException("data-parallel: the gradient of " + p.name() + " is " + g.describe()
                    + "; the MPI all-reduce sums dense F32 gradients on the heap (a model on a GPU needs NCCL, which jlisa "
                    + "does not have yet)");
        }
        return g;
    }

    @Override public void afterUpdate(long stepsDone) {
        if (checkEvery > 0 && stepsDone % checkEvery == 0) {
            collective.checkSame("the trained parameters after step " + stepsDone, checksum(trained));
        }
    }

    @Override public boolean writesCheckpoints() { return collective.rank() == 0; }

    @Override public long bytesSent() { return collective.bytesSent(); }

    /** A hash of the parameters' float bits, in order: equal on two ranks when they hold the same values. */
    static long checksum(Collection<Parameter> params) {
        long h = 1125899906842597L;
        for (Parameter p : params) {
            Tensor t = p.data().dense();
            float[] a = t.floatArray();
            for (int i = t.offset(), end = t.offset() + (int) t.numel(); i < end; i++) h = 31 * h + Float.floatToRawIntBits(a[i]);
        }
        return h;
    }
}
