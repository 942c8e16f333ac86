// Start at the offset, then step strides[d] slots for each unit of index d.
int flatIndex(Tensor t, int... idx) {
    int[] strides = t.strides();
    int slot = t.offset();
    for (int d = 0; d < idx.length; d++) slot += idx[d] * strides[d];
    return slot;
}
