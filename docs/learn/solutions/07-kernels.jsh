float[] nt(float[] x, float[] y) {
    float[] c = new float[n * n];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            FloatVector acc = FloatVector.zero(S);
            for (int k = 0; k < n; k += L) acc = FloatVector.fromArray(S, x, i * n + k).fma(FloatVector.fromArray(S, y, j * n + k), acc);
            c[i * n + j] = acc.reduceLanes(VectorOperators.ADD);
        }
    return c;
}
