package jlisa.distributed;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;

/**
 * Starts a test's main class under {@code mpirun -np N} on this machine (the test class path, one thread per rank),
 * for the tests of every module that need real ranks; skips the calling test with one line when mpirun is absent.
 */
public final class MpiLaunch {
    private MpiLaunch() {}

    /** What a launch gave: mpirun's exit code, its stdout and stderr together, and how long it took. */
    public record Result(int exitCode, String output, Duration took) {
        /** The output lines starting with {@code prefix}, sorted (ranks print in any order). */
        public List<String> lines(String prefix) { return output.lines().filter(l -> l.startsWith(prefix)).sorted().toList(); }
    }

    /** mpirun on the PATH, if there is one. */
    public static Optional<Path> mpirun() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, "mpirun");
            if (Files.isExecutable(p)) return Optional.of(p);
        }
        return Optional.empty();
    }

    /** Skips the calling test, saying why, when mpirun is absent. */
    public static Path requireMpirun() {
        Optional<Path> mpirun = mpirun();
        Assumptions.assumeTrue(mpirun.isPresent(), "mpirun is not on the PATH: the MPI tests are skipped (Debian/Ubuntu: "
                + "apt-get install openmpi-bin libopenmpi-dev)");
        return mpirun.get();
    }

    /** Runs {@code main} with {@code args} on {@code ranks} ranks; fails if it is still running after {@code limit}. */
    public static Result run(int ranks, Class<?> main, List<String> args, Duration limit) throws IOException, InterruptedException {
        Path mpirun = requireMpirun();
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(mpirun.toString(), "--allow-run-as-root", "--oversubscribe",
                "-np", String.valueOf(ranks), java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Djlisa.threads=1", "-cp", cp, main.getName()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMPI_MCA_btl_vader_single_copy_mechanism", "none");   // containers forbid ptrace-based CMA
        long t0 = System.nanoTime();
        Process p = pb.start();
        // read while it runs, so a chatty job cannot fill the pipe and stall
        var out = new java.util.concurrent.CompletableFuture<String>();
        Thread reader = new Thread(() -> {
            try {
                out.complete(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                out.completeExceptionally(e);
            }
        });
        reader.start();
        if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            reader.join(5000);
            throw new AssertionError("mpirun -np " + ranks + " " + main.getSimpleName() + " did not finish in " + limit.toSeconds()
                    + " s:\n" + out.getNow("(no output)"));
        }
        reader.join();
        return new Result(p.exitValue(), out.join(), Duration.ofNanos(System.nanoTime() - t0));
    }
}
