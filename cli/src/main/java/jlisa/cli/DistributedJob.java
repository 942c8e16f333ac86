package jlisa.cli;

import java.time.Duration;

import jlisa.distributed.Collective;

/**
 * This process's place in a data-parallel job: the {@link Collective} mpirun started it in (joined once, on first
 * use, as MPI allows one MPI_Init per process), or a single process. {@link Main} leaves the job when the command
 * is done.
 *
 * <p>Not thread-safe: the command's thread uses it.
 */
final class DistributedJob {
    private static Collective collective;

    private DistributedJob() {}

    /** True when this process was started by mpirun (the environment Open MPI sets names the job's size). */
    static boolean launchedByMpirun() { return System.getenv("OMPI_COMM_WORLD_SIZE") != null; }

    /** This process's rank, read from mpirun's environment without joining the job (0 alone). */
    static int rank() {
        String r = System.getenv("OMPI_COMM_WORLD_RANK");
        return r == null ? 0 : Integer.parseInt(r);
    }

    /** Joins the job (the first call decides the timeout of every collective call). */
    static Collective collective(Duration timeout) {
        if (collective == null) collective = Collective.fromEnvironment(timeout);
        return collective;
    }

    /**
     * Leaves the job: MPI_Finalize after a command that succeeded. After a failure the process just exits, and mpirun
     * stops the job (finalizing would wait for ranks that may never get there).
     */
    static void finish(int exitCode) {
        if (collective != null && exitCode == 0) collective.close();
        collective = null;
    }
}
