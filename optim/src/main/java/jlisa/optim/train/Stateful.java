package jlisa.optim.train;

/**
 * Something whose position a checkpoint must record: a data loader, a sampler, an RNG.
 *
 * <p>Implementations are, like the training loop that owns them, used from one thread.
 */
public interface Stateful {
    long[] state();

    void restore(long[] state);
}
