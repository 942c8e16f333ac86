package jlisa.optim.data;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import jlisa.tensor.Rng;

/**
 * Reads training data into {@link Example}s, and splits off a held-out set. Three formats, all UTF-8
 * text (a leading byte-order mark is ignored); a bad line throws {@link IllegalArgumentException}
 * naming {@code file:line}.
 *
 * <ul>
 *   <li><b>Token files</b> ({@link #readTokens}): one sequence per line, ids separated by whitespace;
 *       blank lines are skipped; every token counts; nothing is appended (the file is the data).</li>
 *   <li><b>Plain text</b> ({@link #readText}): one document per paragraph — lines up to the next
 *       blank (or whitespace-only) line, joined with {@code "\n"}; every token counts; the EOS id,
 *       if given, is appended to each document (so packed documents are separated by it).</li>
 *   <li><b>Instruction JSONL</b> ({@link #readJsonl}): one flat JSON object per line (blank lines
 *       skipped), either {@code {"prompt": P, "response": R}} or Alpaca's
 *       {@code {"instruction": I, "input": X, "output": R}} ({@code input} optional; other keys
 *       ignored). The template is
 *       <pre>   prompt text = P + "\n\n"            or   I + "\n\n" + X + "\n\n"   (just I + "\n\n" when X is empty)
 *   ids         = encode(prompt text) ++ encode(R) ++ [EOS if given]
 *   loss mask   = false on the prompt ids, true on the response ids and the EOS</pre>
 *       Prompt and response are encoded separately so the mask boundary is exact.</li>
 * </ul>
 *
 * <p>EOS is appended by the readers, never by the {@link DataLoader}: an example holds exactly the
 * tokens it trains on.
 *
 * <p>Stateless; safe to call from any thread (with a thread-safe encoder).
 */
public final class Datasets {
    private Datasets() {}

    /** A held-out split: both lists keep the original order. */
    public record Split(List<Example> train, List<Example> eval) {}

    /** Token ids, one sequence per line. */
    public static List<Example> readTokens(Path file) throws IOException {
        List<String> lines = lines(file);
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String s = lines.get(i).strip();
            if (s.isEmpty()) continue;
            String[] parts = s.split("\\s+");
            int[] ids = new int[parts.length];
            for (int j = 0; j < parts.length; j++) {
                try {
                    ids[j] = Integer.parseInt(parts[j]);
                } catch (NumberFormatException e) {
                    throw bad(file, i + 1, "expected integer token ids separated by whitespace, got '" + parts[j]
                            + "' (token " + (j + 1) + ")");
                }
                if (ids[j] < 0) throw bad(file, i + 1, "token ids must be >= 0, got " + ids[j] + " (token " + (j + 1) + ")");
            }
            out.add(Example.of(ids));
        }
        return out;
    }

    /** Plain text through {@code encoder}, one document per blank-line-separated paragraph, EOS after each if given. */
    public static List<Example> readText(Path file, TextEncoder encoder, OptionalInt eosId) throws IOException {
        checkEos(eosId);
        List<String> lines = lines(file);
        List<Example> out = new ArrayList<>();
        int start = -1;
        for (int i = 0; i <= lines.size(); i++) {
            boolean blank = i == lines.size() || lines.get(i).isBlank();
            if (!blank && start < 0) start = i;
            if (blank && start >= 0) {
                String doc = String.join("\n", lines.subList(start, i));
                int[] ids = encode(encoder, doc, file, start + 1);
                int[] withEos = eosId.isPresent() ? append(ids, eosId.getAsInt()) : ids;
                if (withEos.length > 0) out.add(Example.of(withEos));
                start = -1;
            }
        }
        return out;
    }

    /** Instruction data, one flat JSON object per line; the loss counts only the response (and EOS). */
    public static List<Example> readJsonl(Path file, TextEncoder encoder, OptionalInt eosId) throws IOException {
        checkEos(eosId);
        List<String> lines = lines(file);
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) continue;
            int lineNo = i + 1;
            Map<String, String> fields;
            try {
                fields = FlatJson.parseObject(line);
            } catch (IllegalArgumentException e) {
                throw bad(file, lineNo, e.getMessage());
            }
            String prompt, response;
            if (fields.containsKey("instruction")) {
                String instruction = field(fields, "instruction", file, lineNo);
                String input = fields.containsKey("input") ? field(fields, "input", file, lineNo) : "";
                prompt = input.isEmpty() ? instruction + "\n\n" : instruction + "\n\n" + input + "\n\n";
                response = field(fields, "output", file, lineNo);
            } else if (fields.containsKey("prompt")) {
                prompt = field(fields, "prompt", file, lineNo) + "\n\n";
                response = field(fields, "response", file, lineNo);
            } else {
                throw bad(file, lineNo, "expected {\"prompt\", \"response\"} or {\"instruction\", \"input\", \"output\"}, got keys "
                        + fields.keySet());
            }
            int[] p = encode(encoder, prompt, file, lineNo);
            int[] r = encode(encoder, response, file, lineNo);
            int n = p.length + r.length + (eosId.isPresent() ? 1 : 0);
            int[] ids = Arrays.copyOf(p, n);
            System.arraycopy(r, 0, ids, p.length, r.length);
            if (eosId.isPresent()) ids[n - 1] = eosId.getAsInt();
            boolean[] mask = new boolean[n];
            Arrays.fill(mask, p.length, n, true);
            out.add(new Example(ids, mask));
        }
        return out;
    }

    /**
     * Holds out {@code round(evalFraction · n)} examples drawn with {@code seed} (at least one when the
     * fraction is positive and there are two or more examples; never all of them). Train and eval are
     * disjoint, together are all examples, and each keeps the original order.
     */
    public static Split split(List<Example> examples, double evalFraction, long seed) {
        if (!(evalFraction >= 0 && evalFraction < 1)) {
            throw new IllegalArgumentException("split: eval fraction must be in [0, 1), got " + evalFraction);
        }
        int n = examples.size();
        int k = (int) Math.round(evalFraction * n);
        if (evalFraction > 0 && n >= 2) k = Math.max(k, 1);
        k = Math.min(k, Math.max(n - 1, 0));
        int[] order = DataLoader.permutation(n, new Rng(seed));
        boolean[] held = new boolean[n];
        for (int i = 0; i < k; i++) held[order[i]] = true;
        List<Example> train = new ArrayList<>(n - k), eval = new ArrayList<>(k);
        for (int i = 0; i < n; i++) (held[i] ? eval : train).add(examples.get(i));
        return new Split(List.copyOf(train), List.copyOf(eval));
    }

    private static String field(Map<String, String> fields, String key, Path file, int lineNo) {
        if (!fields.containsKey(key)) throw bad(file, lineNo, "missing field \"" + key + "\"");
        String v = fields.get(key);
        if (v == null) throw bad(file, lineNo, "field \"" + key + "\" must be a string");
        return v;
    }

    private static int[] encode(TextEncoder encoder, String text, Path file, int lineNo) {
        int[] ids;
        try {
            ids = encoder.encode(text);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ":" + lineNo + ": the encoder failed: " + e.getMessage(), e);
        }
        if (ids == null) throw bad(file, lineNo, "the encoder returned null");
        return ids;
    }

    private static int[] append(int[] ids, int id) {
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = id;
        return out;
    }

    private static void checkEos(OptionalInt eosId) {
        if (eosId == null) throw new IllegalArgumentException("eosId: pass OptionalInt.empty() for none");
        if (eosId.isPresent() && eosId.getAsInt() < 0) throw new IllegalArgumentException("eosId must be >= 0, got " + eosId.getAsInt());
    }

    private static List<String> lines(Path file) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (CharacterCodingException e) {
            throw new IOException(file + ": not valid UTF-8 text", e);
        }
        if (!lines.isEmpty() && lines.getFirst().startsWith("\uFEFF")) lines.set(0, lines.getFirst().substring(1));
        return lines;
    }

    private static IllegalArgumentException bad(Path file, int lineNo, String message) {
        return new IllegalArgumentException(file + ":" + lineNo + ": " + message);
    }
}
