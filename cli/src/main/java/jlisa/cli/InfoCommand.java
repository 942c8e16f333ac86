package jlisa.cli;

import jdk.incubator.vector.FloatVector;
import jlisa.tensor.Parallel;
import picocli.CommandLine.Command;

/** {@code jlisa info}: what this machine gives jlisa. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Show the JVM, SIMD width and thread count jlisa uses.")
final class InfoCommand implements Runnable {
    @Override public void run() {
        System.out.println("java      " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")");
        System.out.println("simd      " + FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit, "
                + FloatVector.SPECIES_PREFERRED.length() + " floats per vector");
        System.out.println("threads   " + Parallel.defaultThreads() + " (set with -Djlisa.threads or JLISA_THREADS)");
        System.out.println("max heap  " + Runtime.getRuntime().maxMemory() / (1024 * 1024) + " MiB");
        System.out.println("gpu       none (the GPU backend has not been built yet)");
    }
}
