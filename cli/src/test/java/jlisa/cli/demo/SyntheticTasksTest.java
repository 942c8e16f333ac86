package jlisa.cli.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jlisa.cli.demo.SyntheticTasks.Family;
import jlisa.cli.demo.SyntheticTasks.Split;
import jlisa.cli.demo.SyntheticTasks.Task;
import jlisa.optim.data.Example;
import jlisa.tensor.Rng;
import org.junit.jupiter.api.Test;

class SyntheticTasksTest {
    private static final Pattern ADD = Pattern.compile("add (\\d{1,2})\\+(\\d{1,2})=");
    private static final Pattern COPY = Pattern.compile("copy ([a-h]{2,6}|[0-9]{2,6})\\|");
    private static final Pattern REV = Pattern.compile("rev ([a-h]{2,6}|[0-9]{2,6})\\|");
    private static final Pattern SORT = Pattern.compile("sort ([0-9]{3,5})\\|");
    private static final Pattern REVSORT = Pattern.compile("revsort ([0-9]{3,5})\\|");
    private static final Pattern KV = Pattern.compile("kv((?: [a-h][0-9]){2,4}) \\?([a-h])\\|");
    private static final Pattern SENTENCE = Pattern.compile(
            "NP (?:(?:sleeps|runs)|(?:sees|likes|chases) NP) \\."
                    .replace("NP", "(?:the|a) (?:(?:big|small|red) )?(?:cat|dog|bird|fox)"));

    @Test
    void sameSeedGivesTheSameDataAndAnotherSeedDoesNot() {
        assertThat(SyntheticTasks.pretrainingDocuments(7, 500)).isEqualTo(SyntheticTasks.pretrainingDocuments(7, 500));
        assertThat(SyntheticTasks.finetuneTasks(7, 300)).isEqualTo(SyntheticTasks.finetuneTasks(7, 300));
        assertThat(SyntheticTasks.finetuneSplit(7, 100, 50)).isEqualTo(SyntheticTasks.finetuneSplit(7, 100, 50));
        assertThat(SyntheticTasks.pretrainingDocuments(8, 500)).isNotEqualTo(SyntheticTasks.pretrainingDocuments(7, 500));
        assertThat(SyntheticTasks.finetuneTasks(8, 300)).isNotEqualTo(SyntheticTasks.finetuneTasks(7, 300));
        // A longer list starts with the shorter one.
        assertThat(SyntheticTasks.pretrainingDocuments(7, 1000).subList(0, 500)).isEqualTo(SyntheticTasks.pretrainingDocuments(7, 500));
    }

    @Test
    void everyPretrainingAnswerIsRightAndEveryFamilyAppears() {
        Map<Family, Integer> seen = new EnumMap<>(Family.class);
        for (Task t : SyntheticTasks.pretrainingTasks(1, 3000)) {
            Family f = familyOf(t.prompt());
            seen.merge(f, 1, Integer::sum);
            assertThat(t.answer()).as(t.text()).isEqualTo(expectedAnswer(f, t.prompt(), t.answer()));
        }
        assertThat(seen.keySet()).containsExactlyInAnyOrderElementsOf(Family.pretraining());
        // Equal mixing: each of the 6 families near 500 of 3000.
        assertThat(seen.values()).allSatisfy(n -> assertThat(n).isBetween(400, 600));
    }

    @Test
    void everyHeldOutAnswerIsTheDigitsInDescendingOrder() {
        for (Task t : SyntheticTasks.finetuneTasks(2, 2000)) {
            assertThat(familyOf(t.prompt())).isEqualTo(Family.REVSORT);
            assertThat(t.answer()).as(t.text()).isEqualTo(expectedAnswer(Family.REVSORT, t.prompt(), t.answer()));
        }
        assertThat(new Task("revsort 3142|", "4321").text()).isEqualTo("revsort 3142|4321\n");
    }

    @Test
    void documentsAreOneLineEachAndExamplesAreShort() {
        List<String> docs = SyntheticTasks.pretrainingDocuments(3, 5000);
        int total = 0;
        for (String d : docs) {
            assertThat(d).endsWith("\n");
            assertThat(d.indexOf('\n')).isEqualTo(d.length() - 1);
            assertThat(d.chars()).allMatch(c -> c >= 32 && c < 127 || c == '\n');
            Example e = SyntheticTasks.documentExample(d);
            assertThat(e.length()).isLessThanOrEqualTo(SyntheticTasks.MAX_EXAMPLE_TOKENS);
            total += e.length();
        }
        for (Task t : SyntheticTasks.finetuneTasks(3, 2000)) {
            assertThat(SyntheticTasks.toExample(t, true).length()).isLessThanOrEqualTo(SyntheticTasks.MAX_EXAMPLE_TOKENS);
        }
        assertThat((double) total / docs.size()).isBetween(12.0, 30.0);
    }

    @Test
    void heldOutFamilyNeverAppearsInPretraining() {
        Set<String> heldOutPrompts = new HashSet<>();
        for (Task t : SyntheticTasks.finetuneTasks(4, 2000)) heldOutPrompts.add(t.prompt());
        for (long seed = 0; seed < 3; seed++) {
            for (String d : SyntheticTasks.pretrainingDocuments(seed, 3000)) {
                assertThat(d).doesNotContain(SyntheticTasks.HELD_OUT_TAG).doesNotStartWith("revsort");
                assertThat(heldOutPrompts).noneMatch(d::startsWith);
            }
        }
        assertThat(Family.pretraining()).doesNotContain(Family.REVSORT).allMatch(f -> !f.heldOut());
    }

    @Test
    void trainAndEvalSplitsAreDisjointAndSized() {
        Split split = SyntheticTasks.finetuneSplit(5, 1000, 300);
        assertThat(split.train()).hasSize(1000);
        assertThat(split.eval()).hasSize(300);
        Set<String> trainPrompts = new HashSet<>();
        for (Task t : split.train()) trainPrompts.add(t.prompt());
        assertThat(trainPrompts).hasSize(1000);   // distinct within train
        assertThat(split.eval()).noneMatch(t -> trainPrompts.contains(t.prompt()));
        assertThat(split.eval().stream().map(Task::prompt).distinct().count()).isEqualTo(300);
    }

    @Test
    void exampleMasksThePromptAndEndsWithNewlineAndEos() {
        Task t = new Task("revsort 3142|", "4321");
        Example masked = SyntheticTasks.toExample(t, true);
        int p = t.prompt().length();
        assertThat(masked.length()).isEqualTo(p + 4 + 2);
        for (int i = 0; i < p; i++) {
            assertThat(masked.ids()[i]).isEqualTo(t.prompt().charAt(i));
            assertThat(masked.lossMask()[i]).as("prompt token %d", i).isFalse();
        }
        for (int i = p; i < masked.length(); i++) assertThat(masked.lossMask()[i]).as("target token %d", i).isTrue();
        assertThat(masked.ids()[p]).isEqualTo('4');
        assertThat(masked.ids()[masked.length() - 2]).isEqualTo('\n');
        assertThat(masked.ids()[masked.length() - 1]).isEqualTo(SyntheticTasks.EOS);

        Example unmasked = SyntheticTasks.toExample(t, false);
        assertThat(unmasked.ids()).isEqualTo(masked.ids());
        assertThat(unmasked.lossMask()).containsOnly(true);
        assertThat(SyntheticTasks.promptIds(t)).isEqualTo(java.util.Arrays.copyOf(masked.ids(), p));

        Example doc = SyntheticTasks.documentExample(t.text());
        assertThat(doc.ids()).isEqualTo(masked.ids());   // a document is the same tokens as its task
        assertThat(doc.lossMask()).containsOnly(true);
        assertThat(SyntheticTasks.documentExample("").ids()).containsExactly(SyntheticTasks.EOS);
    }

    @Test
    void exactMatchCutsAtTheFirstNewlineAndForgivesNothingElse() {
        Task t = new Task("revsort 3142|", "4321");
        assertThat(SyntheticTasks.isCorrect(t, "4321")).isTrue();
        assertThat(SyntheticTasks.isCorrect(t, "4321\n")).isTrue();
        assertThat(SyntheticTasks.isCorrect(t, "4321\nrevsort 11|11")).isTrue();
        assertThat(SyntheticTasks.isCorrect(t, "432")).isFalse();
        assertThat(SyntheticTasks.isCorrect(t, "43210")).isFalse();
        assertThat(SyntheticTasks.isCorrect(t, " 4321")).isFalse();
        assertThat(SyntheticTasks.isCorrect(t, "1234\n4321")).isFalse();
        assertThat(SyntheticTasks.isCorrect(t, "")).isFalse();
        assertThat(SyntheticTasks.isCorrect(t, null)).isFalse();
        assertThat(SyntheticTasks.accuracy(List.of(t, t), List.of("4321\n", "1234"))).isEqualTo(0.5);
    }

    @Test
    void badArgumentsSayWhatWasExpected() {
        assertThatThrownBy(() -> new Task("add 1+1=", "2\n")).hasMessageContaining("one line");
        assertThatThrownBy(() -> SyntheticTasks.finetuneSplit(1, -1, 5)).hasMessageContaining("-1 train");
        assertThatThrownBy(() -> SyntheticTasks.pretrainingDocuments(1, -2)).hasMessageContaining("-2");
        assertThatThrownBy(() -> SyntheticTasks.accuracy(List.of(), List.of("x"))).hasMessageContaining("0 tasks but 1");
    }

    @Test
    void familiesDrawFromTheGivenRng() {
        List<Task> a = new ArrayList<>(), b = new ArrayList<>();
        Rng r1 = new Rng(9), r2 = new Rng(9);
        for (Family f : Family.values()) {
            a.add(f.draw(r1));
            b.add(f.draw(r2));
        }
        assertThat(a).isEqualTo(b);
    }

    // ---- independent reference: parse the prompt and recompute the answer ----

    private static Family familyOf(String prompt) {
        String tag = prompt.substring(0, prompt.indexOf(' '));
        for (Family f : Family.values()) if (f.tag().equals(tag)) return f;
        throw new AssertionError("unknown tag in '" + prompt + "'");
    }

    private static String expectedAnswer(Family f, String prompt, String answer) {
        switch (f) {
            case ADD -> {
                Matcher m = match(ADD, prompt);
                return String.valueOf(Integer.parseInt(m.group(1)) + Integer.parseInt(m.group(2)));
            }
            case COPY -> { return match(COPY, prompt).group(1); }
            case REV -> {
                String s = match(REV, prompt).group(1);
                StringBuilder r = new StringBuilder();
                for (int i = s.length() - 1; i >= 0; i--) r.append(s.charAt(i));
                return r.toString();
            }
            case SORT, REVSORT -> {
                String s = match(f == Family.SORT ? SORT : REVSORT, prompt).group(1);
                int[] counts = new int[10];
                for (char c : s.toCharArray()) counts[c - '0']++;
                StringBuilder r = new StringBuilder();
                for (int k = 0; k < 10; k++) {
                    int d = f == Family.SORT ? k : 9 - k;
                    r.append(String.valueOf((char) ('0' + d)).repeat(counts[d]));
                }
                return r.toString();
            }
            case KV -> {
                Matcher m = match(KV, prompt);
                String[] pairs = m.group(1).strip().split(" ");
                Set<Character> keys = new HashSet<>();
                String value = null;
                for (String pair : pairs) {
                    assertThat(keys.add(pair.charAt(0))).as("distinct keys in '%s'", prompt).isTrue();
                    if (pair.charAt(0) == m.group(2).charAt(0)) value = pair.substring(1);
                }
                assertThat(value).as("queried key present in '%s'", prompt).isNotNull();
                return value;
            }
            case SAY -> {
                assertThat(prompt).isEqualTo("say ");
                assertThat(answer).matches(SENTENCE);
                return answer;
            }
        }
        throw new AssertionError(f);
    }

    private static Matcher match(Pattern p, String prompt) {
        Matcher m = p.matcher(prompt);
        assertThat(m.matches()).as("'%s' matches %s", prompt, p).isTrue();
        return m;
    }
}
