/**
 * A CUDA backend for jlisa through the FFM API (driver, cuBLAS, NVRTC), with no JNI and no native build.
 *
 * <p>It calls native code: on the module path start java with {@code --enable-native-access=jlisa.gpu}
 * (on the class path, {@code --enable-native-access=ALL-UNNAMED}).
 */
module jlisa.gpu {
    requires transitive jlisa.tensor;

    exports jlisa.gpu;
}
