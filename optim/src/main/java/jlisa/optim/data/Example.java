package jlisa.optim.data;

import java.util.Arrays;

/**
 * One training sequence: token ids and, per token, whether predicting that token counts toward the
 * loss. Plain text counts everywhere; instruction data counts only on the response (and its EOS).
 * The first token of a sequence is never predicted from inside it, so its mask matters only when
 * packing puts another example in front of it.
 *
 * <p>Treat as immutable: the arrays are not copied, so do not change them once the example is made; then safe to share between threads.
 */
public record Example(int[] ids, boolean[] lossMask) {
    public Example {
        if (ids == null || lossMask == null) throw new IllegalArgumentException("Example: ids and lossMask are required");
        if (ids.length != lossMask.length) {
            throw new IllegalArgumentException("Example: " + ids.length + " ids but " + lossMask.length + " mask entries");
        }
    }

    /** Every token counts (plain text, token files). */
    public static Example of(int... ids) {
        boolean[] mask = new boolean[ids.length];
        Arrays.fill(mask, true);
        return new Example(ids, mask);
    }

    public int length() { return ids.length; }

    @Override public String toString() {
        StringBuilder sb = new StringBuilder("Example[");
        for (int i = 0; i < ids.length; i++) {
            if (i > 0) sb.append(' ');
            sb.append(ids[i]);
            if (!lossMask[i]) sb.append('*');
        }
        return sb.append("] (* = not a target)").toString();
    }
}
