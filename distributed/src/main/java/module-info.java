/**
 * Collectives for data-parallel training ({@link jlisa.distributed.Collective}): all-reduce, broadcast, barrier,
 * over Open MPI through the FFM API, with no JNI and no native build.
 *
 * <p>It calls native code: on the module path start java with {@code --enable-native-access=jlisa.distributed}
 * (on the class path, {@code --enable-native-access=ALL-UNNAMED}).
 */
module jlisa.distributed {
    exports jlisa.distributed;
}
