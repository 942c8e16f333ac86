package jlisa.cli.demo;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import jlisa.optim.data.Example;
import jlisa.tensor.Rng;

/**
 * The built-in corpus of {@code jlisa demo}: a small language of tasks, generated from a seed, so the
 * demo needs no download. Same seed, same lines, bit for bit (everything is drawn from one {@link Rng}).
 *
 * <p>The vocabulary is byte-level: ids 0–255 are UTF-8 bytes (every line here is ASCII) and
 * {@link #EOS} = 256 ends a text ({@link #VOCAB_SIZE} = 257). Every example is one line
 * {@code tag prompt-part + answer + "\n"}, then EOS; none is longer than {@link #MAX_EXAMPLE_TOKENS}
 * tokens with EOS, and most are 12–25. The prompt ends at the separator ({@code |} or {@code =}); generation
 * stops at the newline.
 *
 * <h2>Pretraining families</h2> (drawn with equal probability by {@link #pretrainingDocuments})
 * <pre>
 *   add 23+58=81          sum of two numbers 0–99
 *   copy cafe|cafe        2–6 symbols, all letters a–h or all digits
 *   rev cafe|efac         the same strings, reversed
 *   sort 3142|1234        3–5 digits (repeats allowed), ascending
 *   kv a3 g7 c1 ?g|7      2–4 distinct keys a–h with digit values; recall the queried key's value
 *   say the big dog chases a cat .
 *                         a sentence of a tiny grammar:
 *                         S → NP VP "." ; NP → Det [Adj] N ; VP → Vi | Vt NP ;
 *                         Det → the | a ; Adj → big | small | red ; N → cat | dog | bird | fox ;
 *                         Vi → sleeps | runs ; Vt → sees | likes | chases
 * </pre>
 *
 * <h2>The held-out fine-tuning family</h2>
 * <pre>
 *   revsort 3142|4321     3–5 digits (repeats allowed), descending
 * </pre>
 * Pretraining never shows the tag {@code revsort} (nor any descending sort), but everything around the
 * answer is already known: the digit alphabet, the {@code |} separator, emitting exactly the prompt's
 * digits as a multiset and then a newline (from {@code sort}), and reversing a digit string (from
 * {@code rev}). So a pretrained model starts well above a random one and can get to high exact-match
 * accuracy within a few hundred steps, while an untrained one cannot. What has to change is the
 * order of selection — which remaining digit each output position attends to — and that behaviour is
 * spread over the attention of several layers rather than being a relabelling of output tokens,
 * which is where updating whole layers (full fine-tuning, LISA) has room to beat a rank-r adapter.
 * The answer is unique, so exact match is a fair score; a Caesar shift or a subtraction were passed
 * over because the first is a per-token lookup a low-rank adapter learns as easily as anything, and
 * the second is too hard for a model pretrained for a minute or two.
 *
 * <p>Stateless; each task draws from the Rng it is given, so threads with their own Rng may share it.
 */
public final class SyntheticTasks {
    private SyntheticTasks() {}

    /** End-of-text id, right after the 256 byte ids. */
    public static final int EOS = 256;

    /** Byte ids plus EOS. */
    public static final int VOCAB_SIZE = 257;

    /** No example of any family is longer than this, counting the newline and EOS. */
    public static final int MAX_EXAMPLE_TOKENS = 48;

    /** Tag of the held-out family; no pretraining line starts with it. */
    public static final String HELD_OUT_TAG = "revsort";

    static final String LETTERS = "abcdefgh";
    static final int MIN_SORT_DIGITS = 3, MAX_SORT_DIGITS = 5;
    /** The held-out task is as long as sort. */
    static final int MAX_REVSORT_DIGITS = MAX_SORT_DIGITS;

    /** The longest held-out answer, in tokens (one per digit). */
    public static final int MAX_ANSWER_TOKENS = MAX_REVSORT_DIGITS;

    /** The longest held-out example with its newline and EOS: {@code "revsort ddddd|ddddd\n"} + EOS. */
    public static final int MAX_FINETUNE_TOKENS = HELD_OUT_TAG.length() + 1 + MAX_REVSORT_DIGITS + 1 + MAX_ANSWER_TOKENS + 2;
    static final int MIN_COPY_SYMBOLS = 2, MAX_COPY_SYMBOLS = 6;
    static final int MIN_KEYS = 2, MAX_KEYS = 4;

    private static final String[] DETERMINERS = {"the", "a"};
    private static final String[] ADJECTIVES = {"big", "small", "red"};
    private static final String[] NOUNS = {"cat", "dog", "bird", "fox"};
    private static final String[] INTRANSITIVE = {"sleeps", "runs"};
    private static final String[] TRANSITIVE = {"sees", "likes", "chases"};

    // Streams for pretraining and fine-tuning differ even under the same seed.
    private static final long PRETRAIN_SALT = 0x5EED_0001L, FINETUNE_SALT = 0x5EED_0002L;

    /**
     * One example: the prompt (tag, input, separator) and the answer that follows it. {@link #text()} is
     * the line the model sees; neither part holds a newline.
     */
    public record Task(String prompt, String answer) {
        public Task {
            if (prompt == null || answer == null) throw new IllegalArgumentException("Task: prompt and answer are required");
            if (prompt.isEmpty()) throw new IllegalArgumentException("Task: empty prompt");
            if (prompt.indexOf('\n') >= 0 || answer.indexOf('\n') >= 0) {
                throw new IllegalArgumentException("Task: prompt and answer must be one line, got '" + prompt + "' / '" + answer + "'");
            }
        }

        /** {@code prompt + answer + "\n"}: one line of the corpus. */
        public String text() { return prompt + answer + "\n"; }
    }

    /** The task families; all but {@link #REVSORT} are in the pretraining mix. */
    public enum Family {
        ADD("add"), COPY("copy"), REV("rev"), SORT("sort"), KV("kv"), SAY("say"), REVSORT(HELD_OUT_TAG);

        private final String tag;

        Family(String tag) { this.tag = tag; }

        /** The first word of each of this family's lines. */
        public String tag() { return tag; }

        /** Whether this family is kept out of pretraining. */
        public boolean heldOut() { return this == REVSORT; }

        /** The families of the pretraining mix, in a fixed order. */
        public static List<Family> pretraining() {
            return Arrays.stream(values()).filter(f -> !f.heldOut()).toList();
        }

        /** One random task of this family ({@link #SAY}: prompt {@code "say "}, answer a sentence). */
        public Task draw(Rng rng) {
            return switch (this) {
                case ADD -> {
                    int a = rng.nextInt(100), b = rng.nextInt(100);
                    yield new Task("add " + a + "+" + b + "=", Integer.toString(a + b));
                }
                case COPY -> {
                    String s = symbols(rng);
                    yield new Task("copy " + s + "|", s);
                }
                case REV -> {
                    String s = symbols(rng);
                    yield new Task("rev " + s + "|", reverse(s));
                }
                case SORT -> {
                    String s = digits(rng, MIN_SORT_DIGITS, MAX_SORT_DIGITS);
                    yield new Task("sort " + s + "|", sorted(s));
                }
                case REVSORT -> {
                    String s = digits(rng, MIN_SORT_DIGITS, MAX_REVSORT_DIGITS);
                    yield new Task(HELD_OUT_TAG + " " + s + "|", reverse(sorted(s)));
                }
                case KV -> keyValue(rng);
                case SAY -> new Task("say ", sentence(rng));
            };
        }
    }

    /**
     * {@code count} pretraining tasks, each family drawn with equal probability; the same seed gives the
     * same list. Useful for scoring the pretrained model per family (except {@code say}, whose answer
     * is one of many grammatical sentences).
     */
    public static List<Task> pretrainingTasks(long seed, int count) {
        checkCount(count);
        Rng rng = new Rng(seed ^ PRETRAIN_SALT);
        List<Family> families = Family.pretraining();
        List<Task> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) out.add(families.get(rng.nextInt(families.size())).draw(rng));
        return List.copyOf(out);
    }

    /** The {@link Task#text()} of {@link #pretrainingTasks}: one line per document, ending in a newline. */
    public static List<String> pretrainingDocuments(long seed, int count) {
        return pretrainingTasks(seed, count).stream().map(Task::text).toList();
    }

    /** {@code count} held-out ({@code revsort}) tasks with distinct prompts; the same seed gives the same list. */
    public static List<Task> finetuneTasks(long seed, int count) {
        checkCount(count);
        Rng rng = new Rng(seed ^ FINETUNE_SALT);
        Set<String> prompts = new LinkedHashSet<>();
        List<Task> out = new ArrayList<>(count);
        long attempts = 0, maxAttempts = 100L * count + 1000;
        while (out.size() < count) {
            if (attempts++ == maxAttempts) {
                throw new IllegalArgumentException("finetuneTasks: found only " + out.size() + " distinct tasks of the "
                        + count + " asked for in " + maxAttempts + " draws");
            }
            Task t = Family.REVSORT.draw(rng);
            if (prompts.add(t.prompt())) out.add(t);
        }
        return List.copyOf(out);
    }

    /** Train and eval tasks of the held-out family, disjoint by prompt. */
    public record Split(List<Task> train, List<Task> eval) {}

    /**
     * {@code nTrain} training and {@code nEval} evaluation tasks of the held-out family: no prompt is in
     * both. The first {@code nTrain} of {@code finetuneTasks(seed, nTrain + nEval)} train, the rest evaluate.
     */
    public static Split finetuneSplit(long seed, int nTrain, int nEval) {
        if (nTrain < 0 || nEval < 0) {
            throw new IllegalArgumentException("finetuneSplit: counts must be >= 0, got " + nTrain + " train, " + nEval + " eval");
        }
        List<Task> all = finetuneTasks(seed, Math.addExact(nTrain, nEval));
        return new Split(all.subList(0, nTrain), all.subList(nTrain, all.size()));
    }

    /**
     * A training example: the bytes of prompt and answer, then {@code '\n'} and {@link #EOS}. With
     * {@code maskPrompt} the prompt's tokens are not targets; the answer, the newline and EOS always are.
     */
    public static Example toExample(Task t, boolean maskPrompt) {
        int[] prompt = bytes(t.prompt()), answer = bytes(t.answer());
        int n = prompt.length + answer.length + 2;
        int[] ids = Arrays.copyOf(prompt, n);
        System.arraycopy(answer, 0, ids, prompt.length, answer.length);
        ids[n - 2] = '\n';
        ids[n - 1] = EOS;
        boolean[] mask = new boolean[n];
        Arrays.fill(mask, maskPrompt ? prompt.length : 0, n, true);
        return new Example(ids, mask);
    }

    /** A plain document: its bytes, then {@link #EOS}; every token is a target. */
    public static Example documentExample(String doc) {
        if (doc == null) throw new IllegalArgumentException("documentExample: doc is required");
        int[] b = bytes(doc);
        int[] ids = Arrays.copyOf(b, b.length + 1);
        ids[b.length] = EOS;
        return Example.of(ids);
    }

    /** The prompt's byte ids: what generation starts from. */
    public static int[] promptIds(Task t) { return bytes(t.prompt()); }

    /**
     * Exact match: the text generated after the prompt, cut at its first newline (if any), equals the
     * answer. Nothing else is forgiven (no trimming, no case folding).
     */
    public static boolean isCorrect(Task t, String generated) {
        if (generated == null) return false;
        int nl = generated.indexOf('\n');
        return (nl < 0 ? generated : generated.substring(0, nl)).equals(t.answer());
    }

    /** Fraction of {@code tasks} whose generation (same index) {@link #isCorrect is correct}. */
    public static double accuracy(List<Task> tasks, List<String> generated) {
        if (tasks.size() != generated.size()) {
            throw new IllegalArgumentException("accuracy: " + tasks.size() + " tasks but " + generated.size() + " generations");
        }
        if (tasks.isEmpty()) return 0;
        int correct = 0;
        for (int i = 0; i < tasks.size(); i++) if (isCorrect(tasks.get(i), generated.get(i))) correct++;
        return (double) correct / tasks.size();
    }

    // ---- generators ----

    /** 2–6 symbols, all letters or all digits. */
    private static String symbols(Rng rng) {
        String alphabet = rng.nextInt(2) == 0 ? LETTERS : "0123456789";
        int n = MIN_COPY_SYMBOLS + rng.nextInt(MAX_COPY_SYMBOLS - MIN_COPY_SYMBOLS + 1);
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) sb.append(alphabet.charAt(rng.nextInt(alphabet.length())));
        return sb.toString();
    }

    private static String digits(Rng rng, int min, int max) {
        int n = min + rng.nextInt(max - min + 1);
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) sb.append((char) ('0' + rng.nextInt(10)));
        return sb.toString();
    }

    /** {@code kv a3 g7 c1 ?g|} → {@code 7}: distinct keys, digit values, one queried. */
    private static Task keyValue(Rng rng) {
        int n = MIN_KEYS + rng.nextInt(MAX_KEYS - MIN_KEYS + 1);
        char[] keys = LETTERS.toCharArray();
        for (int i = 0; i < n; i++) {   // partial Fisher–Yates: the first n keys are a random draw without repeats
            int j = i + rng.nextInt(keys.length - i);
            char tmp = keys[i];
            keys[i] = keys[j];
            keys[j] = tmp;
        }
        StringBuilder sb = new StringBuilder("kv");
        char[] values = new char[n];
        for (int i = 0; i < n; i++) {
            values[i] = (char) ('0' + rng.nextInt(10));
            sb.append(' ').append(keys[i]).append(values[i]);
        }
        int q = rng.nextInt(n);
        sb.append(" ?").append(keys[q]).append('|');
        return new Task(sb.toString(), String.valueOf(values[q]));
    }

    /** S → NP VP "." */
    private static String sentence(Rng rng) {
        StringBuilder sb = new StringBuilder();
        nounPhrase(rng, sb);
        if (rng.nextInt(3) == 0) {
            sb.append(' ').append(pick(rng, INTRANSITIVE));
        } else {
            sb.append(' ').append(pick(rng, TRANSITIVE)).append(' ');
            nounPhrase(rng, sb);
        }
        return sb.append(" .").toString();
    }

    /** NP → Det [Adj] N */
    private static void nounPhrase(Rng rng, StringBuilder sb) {
        sb.append(pick(rng, DETERMINERS));
        if (rng.nextInt(2) == 0) sb.append(' ').append(pick(rng, ADJECTIVES));
        sb.append(' ').append(pick(rng, NOUNS));
    }

    private static String pick(Rng rng, String[] words) { return words[rng.nextInt(words.length)]; }

    private static String sorted(String s) {
        char[] c = s.toCharArray();
        Arrays.sort(c);
        return new String(c);
    }

    private static String reverse(String s) { return new StringBuilder(s).reverse().toString(); }

    private static int[] bytes(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) ids[i] = b[i] & 0xFF;
        return ids;
    }

    private static void checkCount(int count) {
        if (count < 0) throw new IllegalArgumentException("count must be >= 0, got " + count);
    }
}
