package jlisa.cli;

import java.util.Locale;

import jlisa.gpu.Cuda;
import jlisa.gpu.CudaBackend;
import jlisa.gpu.Precision;
import jlisa.tensor.Backend;
import jlisa.tensor.Backends;
import picocli.CommandLine.Option;

/**
 * {@code --device} and {@code --precision}, for the commands that can offload to a GPU (a picocli mixin).
 * Asking for {@code cuda} where there is none is an error that says why, never a silent CPU run; {@code auto}
 * takes the GPU when there is one and otherwise says once why it runs on the CPU.
 */
final class DeviceOptions {
    @Option(names = "--device", defaultValue = "cpu",
            description = "cpu, cuda (training steps run in GPU memory: the model, its gradients, optimizer state and "
                    + "activations stay there; an op without a GPU kernel stops with its name) or auto (cuda when one is usable) "
                    + "(default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--precision", defaultValue = "fp32",
            description = "how GPU matrix products compute: fp32, tf32 or bf16 (tensor cores; default: ${DEFAULT-VALUE})")
    String precision;

    private Backend resolved;
    private boolean resolvedOnce;

    /** The backend asked for, or null for the CPU; worked out once per command. */
    Backend backend() {
        if (resolvedOnce) return resolved;
        Precision p = Precision.parse(precision);
        String d = device.toLowerCase(Locale.ROOT);
        switch (d) {
            case "cpu" -> {
                if (p != Precision.FP32) {
                    throw new IllegalArgumentException("--precision " + p.label() + " applies to GPU products; add --device cuda");
                }
                resolved = null;
            }
            case "cuda" -> {
                if (!(Cuda.availability() instanceof Cuda.Available)) {
                    throw new IllegalArgumentException("--device cuda: no usable CUDA GPU: "
                            + ((Cuda.Unavailable) Cuda.availability()).reason());
                }
                resolved = Cuda.backend(p);
            }
            case "auto" -> {
                if (Cuda.availability() instanceof Cuda.Unavailable u) {
                    System.err.println("jlisa: running on the CPU: no usable CUDA GPU (" + u.reason() + ")");
                    resolved = null;
                } else {
                    resolved = Cuda.backend(p);
                }
            }
            default -> throw new IllegalArgumentException("--device must be cpu, cuda or auto, got '" + device + "'");
        }
        resolvedOnce = true;
        return resolved;
    }

    /** True once {@link #backend()} has worked out the device. */
    boolean resolvedOnce() { return resolvedOnce; }

    /** The CUDA backend asked for; fails when the options ask for the CPU (for GPU-only measurements). */
    CudaBackend cuda(String what) {
        if (!(backend() instanceof CudaBackend c)) throw new IllegalArgumentException(what + " needs --device cuda");
        return c;
    }

    /** Makes the backend asked for active until closed (nothing changes for the CPU). */
    Backends.Scope activate() { return Backends.use(backend()); }

    /** "cpu", or the GPU and its precision, for reports. */
    String describe() {
        Backend b = backend();
        return b == null ? "cpu" : b.description();
    }
}
