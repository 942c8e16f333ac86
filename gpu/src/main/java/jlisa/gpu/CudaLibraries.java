package jlisa.gpu;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Finds the CUDA driver, cuBLAS and NVRTC. For each library, in order: a system property, then an
 * environment variable (either one, when set, is the only place tried: an explicit choice that does not
 * exist is reported, not silently replaced), then the usual folders, then versioned names that the
 * system loader resolves through LD_LIBRARY_PATH and ldconfig. {@link #open} says which it took, or why
 * none would load.
 *
 * <p>Stateless lookups; safe to call from any thread.
 */
public final class CudaLibraries {
    private CudaLibraries() {}

    /** The three libraries, with the property, the environment variable and the file names (newest first) for each. */
    public enum Library {
        DRIVER("the CUDA driver", "jlisa.cuda.driver", "JLISA_CUDA_DRIVER", "libcuda.so.1", "libcuda.so"),
        CUBLAS("cuBLAS", "jlisa.cuda.cublas", "JLISA_CUBLAS", "libcublas.so.13", "libcublas.so.12", "libcublas.so"),
        NVRTC("NVRTC", "jlisa.cuda.nvrtc", "JLISA_NVRTC", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so");

        final String description, property, environment;
        final List<String> fileNames;

        Library(String description, String property, String environment, String... fileNames) {
            this.description = description;
            this.property = property;
            this.environment = environment;
            this.fileNames = List.of(fileNames);
        }
    }

    /** A place to load a library from — a path, or a bare name for the system loader — and how it was found. */
    public record Candidate(String location, String how) {}

    /** A library that loaded: where from, and how it was found. */
    record Opened(NativeLibrary library, Candidate candidate) {}

    /** The folders searched after the property and the environment variable, in order. */
    public static List<Path> usualFolders() {
        boolean arm = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT).contains("aarch64");
        String target = arm ? "sbsa-linux" : "x86_64-linux", multiarch = arm ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
        List<Path> folders = new ArrayList<>();
        List<Path> toolkits = new ArrayList<>();
        toolkits.add(Path.of("/usr/local/cuda"));
        toolkits.addAll(versionedToolkits(Path.of("/usr/local")));
        for (Path toolkit : toolkits) {
            folders.add(toolkit.resolve("targets").resolve(target).resolve("lib"));
            folders.add(toolkit.resolve("lib64"));
        }
        for (String f : List.of("/usr/lib/" + multiarch, "/usr/lib64", "/usr/lib", "/usr/local/nvidia/lib64",
                "/usr/local/nvidia/lib", "/usr/lib/wsl/lib")) {
            folders.add(Path.of(f));
        }
        // PyTorch's CUDA wheels (cu13 puts every library in one folder; cu12 one folder per library)
        Path wheels = Path.of("/opt/torch/.venv/lib/python3.12/site-packages/nvidia");
        for (String f : List.of("cu13/lib", "cublas/lib", "cuda_nvrtc/lib")) folders.add(wheels.resolve(f));
        return folders;
    }

    /** /usr/local/cuda-X.Y folders, newest version first. */
    private static List<Path> versionedToolkits(Path parent) {
        try (Stream<Path> s = Files.list(parent)) {
            return s.filter(p -> p.getFileName().toString().matches("cuda-\\d+(\\.\\d+)*"))
                    .sorted(Comparator.comparing((Path p) -> version(p.getFileName().toString().substring(5))).reversed())
                    .toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static String version(String dotted) {
        StringBuilder key = new StringBuilder();
        for (String part : dotted.split("\\.")) key.append(String.format(Locale.ROOT, "%06d", Long.parseLong(part)));
        return key.toString();
    }

    /** Where this process would look for {@code library}, in order (system properties, environment, usual folders). */
    public static List<Candidate> candidates(Library library) {
        return candidates(library, System::getProperty, System::getenv, usualFolders());
    }

    /** Where to look for {@code library}, in order, given the properties, the environment and the folders to search. */
    static List<Candidate> candidates(Library library, Function<String, String> properties,
                                      Function<String, String> environment, List<Path> folders) {
        String chosen = properties.apply(library.property);
        if (chosen != null && !chosen.isBlank()) return List.of(new Candidate(chosen, "-D" + library.property));
        chosen = environment.apply(library.environment);
        if (chosen != null && !chosen.isBlank()) return List.of(new Candidate(chosen, "$" + library.environment));
        List<Candidate> found = new ArrayList<>();
        for (String name : library.fileNames) {
            for (Path folder : folders) {
                Path file = folder.resolve(name);
                if (Files.isRegularFile(file)) found.add(new Candidate(file.toString(), "found in " + folder));
            }
        }
        for (String name : library.fileNames) found.add(new Candidate(name, "system loader"));
        return found;
    }

    /**
     * Opens the first candidate that loads, for the life of {@code arena}; throws with every candidate's reason
     * when none does. Before cuBLAS or NVRTC from a folder, the libraries they load themselves from that folder
     * (cuBLASLt, NVRTC's builtins) are loaded first, so the folder need not be on LD_LIBRARY_PATH.
     */
    static Opened open(Library library, List<Candidate> candidates, Arena arena) {
        List<String> missing = new ArrayList<>(), unloadable = new ArrayList<>();
        for (Candidate c : candidates) {
            boolean isPath = c.location().contains("/");
            if (isPath && !Files.isRegularFile(Path.of(c.location()))) {
                missing.add(c.location() + " (" + c.how() + "): no such file");
                continue;
            }
            try {
                if (isPath) loadCompanions(library, Path.of(c.location()), arena);
                return new Opened(NativeLibrary.open(c.location(), arena), c);
            } catch (IllegalStateException e) {
                unloadable.add(c.location() + " (" + c.how() + ")");
            }
        }
        List<String> why = new ArrayList<>(missing);
        if (!unloadable.isEmpty()) {
            why.add(String.join(", ", unloadable) + " would not load"
                    + " (not there, or a library it needs is not)");
        }
        throw new IllegalStateException("cannot load " + library.description + ": " + String.join("; ", why)
                + "; give its path with -D" + library.property + " or $" + library.environment);
    }

    private static void loadCompanions(Library library, Path file, Arena arena) {
        String name = file.getFileName().toString();
        Path folder = file.toAbsolutePath().getParent();
        List<Path> companions = new ArrayList<>();
        if (library == Library.CUBLAS && name.startsWith("libcublas.so")) {
            companions.add(folder.resolve("libcublasLt.so" + name.substring("libcublas.so".length())));
        } else if (library == Library.NVRTC) {
            try (Stream<Path> s = Files.list(folder)) {
                s.filter(p -> p.getFileName().toString().startsWith("libnvrtc-builtins.so")).sorted().forEach(companions::add);
            } catch (IOException e) {
                return;
            }
        }
        for (Path c : companions) {
            if (!Files.isRegularFile(c)) continue;
            try {
                NativeLibrary.open(c.toString(), arena);
            } catch (IllegalStateException e) {
                // the library itself may still find it; its own error will say so
            }
        }
    }
}
