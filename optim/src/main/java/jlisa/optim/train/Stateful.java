package jlisa.optim.train;

/** Something whose position a checkpoint must record: a data loader, a sampler, an RNG. */
public interface Stateful {
    long[] state();

    void restore(long[] state);
}
