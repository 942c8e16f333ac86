package jlisa.optim.train;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.stream.Stream;

import jlisa.autograd.Parameter;
import jlisa.optim.Lisa;
import jlisa.optim.Optimizer;
import jlisa.tensor.Tensor;

/**
 * Training checkpoints: {@code DIR/step-000123/} holding the trainable parameters
 * ({@code model.safetensors}), the optimizer state ({@code optimizer.safetensors}) and everything
 * else that decides what comes next — step, learning-rate position, sampler, data position, RNGs —
 * in {@code trainer.properties}. LISA's parked optimizer state goes into {@code optimizer.safetensors} too,
 * its names prefixed with {@value #LISA_PARKED} (one file, so the live and parked state are saved together).
 * A checkpoint is written into a temporary directory and renamed
 * into place, so a crash leaves either the whole checkpoint or none of it.
 *
 * <p>Holds no mutable state; safe to use from several threads, but not for two writers into the same directory at once.
 */
public final class Checkpoints {
    private static final String MODEL = "model.safetensors", OPTIMIZER = "optimizer.safetensors", STATE = "trainer.properties";

    /** Prefix of LISA's parked state in the optimizer file: {@code lisa_parked.<param name>.<role>}. */
    public static final String LISA_PARKED = "lisa_parked.";

    private final Path dir;
    private final TensorStore store;

    public Checkpoints(Path dir, TensorStore store) {
        this.dir = dir;
        this.store = store;
    }

    /** What a checkpoint holds besides tensors: the step to run next and named long arrays (RNGs, loader, sampler). */
    public record Saved(long nextStep, Map<String, long[]> states, Path path) {}

    public Path directory() { return dir; }

    /** Writes a checkpoint for the state after {@code nextStep} steps; returns its directory. */
    public Path save(long nextStep, Map<String, Parameter> params, Optimizer optimizer, Map<String, long[]> states)
            throws IOException {
        return write(nextStep, params, optimizer, null, states);
    }

    /** As {@link #save(long, Map, Optimizer, Map)}, with {@code lisa}'s parked state. */
    public Path save(long nextStep, Map<String, Parameter> params, Optimizer optimizer, Lisa lisa, Map<String, long[]> states)
            throws IOException {
        return write(nextStep, params, optimizer, Objects.requireNonNull(lisa, "checkpoint: lisa is null; use the save without it"), states);
    }

    private Path write(long nextStep, Map<String, Parameter> params, Optimizer optimizer, Lisa lisa, Map<String, long[]> states)
            throws IOException {
        Files.createDirectories(dir);
        Path target = dir.resolve(String.format("step-%09d", nextStep));
        // a plain createDirectory, so the checkpoint gets the umask's mode (createTempDirectory would make it 0700)
        Path tmp = Files.createDirectory(dir.resolve(".tmp-step-" + Long.toHexString(System.nanoTime())
                + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong())));
        try {
            Map<String, Tensor> weights = new LinkedHashMap<>();
            params.forEach((n, p) -> weights.put(n, p.data()));
            store.write(tmp.resolve(MODEL), weights);
            Map<String, Tensor> optimizerState = new LinkedHashMap<>(optimizer.stateDict());
            if (lisa != null) lisa.stateDict().forEach((k, t) -> optimizerState.put(LISA_PARKED + k, t));
            store.write(tmp.resolve(OPTIMIZER), optimizerState);
            Properties props = new Properties();
            props.setProperty("next_step", Long.toString(nextStep));
            states.forEach((k, v) -> props.setProperty("state." + k, join(v)));
            try (Writer w = Files.newBufferedWriter(tmp.resolve(STATE))) {
                props.store(w, "jlisa training checkpoint");
            }
            if (Files.exists(target)) deleteTree(target);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } finally {
            if (Files.exists(tmp)) deleteTree(tmp);
        }
    }

    /** The newest complete checkpoint, if any (temporary directories of interrupted saves are ignored). */
    public Optional<Path> latest() throws IOException {
        if (!Files.isDirectory(dir)) return Optional.empty();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("step-\\d{9}") && Files.isRegularFile(p.resolve(STATE)))
                    .max(Comparator.comparing(p -> p.getFileName().toString()));
        }
    }

    /**
     * Loads checkpoint {@code path} into the parameters (copied in place: the tensors keep their
     * identity) and the optimizer, and returns the rest for the caller to restore.
     */
    public Saved load(Path path, Map<String, Parameter> params, Optimizer optimizer) throws IOException {
        return read(path, params, optimizer, null);
    }

    /**
     * As {@link #load(Path, Map, Optimizer)}, and loads LISA's parked state into {@code lisa} (replacing what it
     * parked). A checkpoint with parked state needs a {@code lisa} to take it; one without leaves nothing parked.
     */
    public Saved load(Path path, Map<String, Parameter> params, Optimizer optimizer, Lisa lisa) throws IOException {
        return read(path, params, optimizer, Objects.requireNonNull(lisa, "checkpoint: lisa is null; use the load without it"));
    }

    private Saved read(Path path, Map<String, Parameter> params, Optimizer optimizer, Lisa lisa) throws IOException {
        Properties props = new Properties();
        try (Reader r = Files.newBufferedReader(path.resolve(STATE))) {
            props.load(r);
        }
        Map<String, Tensor> weights = store.read(path.resolve(MODEL));
        java.util.TreeSet<String> missing = new java.util.TreeSet<>(params.keySet());
        missing.removeAll(weights.keySet());
        if (!missing.isEmpty()) throw new IllegalArgumentException(path + ": checkpoint lacks parameters " + missing);
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            Tensor t = weights.get(e.getKey());
            if (!Arrays.equals(t.shape(), e.getValue().data().shape())) {
                throw new IllegalArgumentException(path + ": " + e.getKey() + " has shape " + Arrays.toString(t.shape())
                        + " in the checkpoint but " + Arrays.toString(e.getValue().data().shape()) + " in the model");
            }
            e.getValue().data().copyFrom(t);
        }
        Map<String, Tensor> optimizerState = new LinkedHashMap<>(), parked = new LinkedHashMap<>();
        store.read(path.resolve(OPTIMIZER)).forEach((k, t) -> {
            if (k.startsWith(LISA_PARKED)) parked.put(k.substring(LISA_PARKED.length()), t);
            else optimizerState.put(k, t);
        });
        if (lisa == null && !parked.isEmpty()) {
            throw new IllegalArgumentException(path + ": checkpoint holds LISA parked optimizer state; load it with its Lisa");
        }
        optimizer.loadStateDict(optimizerState);
        if (lisa != null) lisa.loadStateDict(parked);
        Map<String, long[]> states = new LinkedHashMap<>();
        for (String k : props.stringPropertyNames()) if (k.startsWith("state.")) states.put(k.substring(6), split(props.getProperty(k)));
        String next = props.getProperty("next_step");
        if (next == null) throw new IllegalArgumentException(path.resolve(STATE) + ": no next_step");
        return new Saved(Long.parseLong(next), states, path);
    }

    private static String join(long[] v) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < v.length; i++) sb.append(i == 0 ? "" : ",").append(v[i]);
        return sb.toString();
    }

    private static long[] split(String s) {
        if (s.isEmpty()) return new long[0];
        return Arrays.stream(s.split(",")).mapToLong(Long::parseLong).toArray();
    }

    private static void deleteTree(Path p) throws IOException {
        if (Files.isDirectory(p)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                for (Path c : ds) deleteTree(c);
            }
        }
        Files.deleteIfExists(p);
    }
}
