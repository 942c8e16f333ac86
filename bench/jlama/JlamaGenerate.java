// Reference harness: Jlama 0.8.4's prefill and greedy-decode speed on a Hugging Face Llama directory, fed the same
// token ids as jlisa's `bench generate` (jlisa.bench.GenerationTiming): id i = 1 + (i * 7919) % (vocab - 1).
// Run it through bench/jlama/run.sh DIR PROMPT_TOKENS NEW_TOKENS THREADS ROUNDS, which supplies the class path and flags.
//
// stdout: one JSON line per round, then one with "round":"median" (medians of rounds 2..ROUNDS; round 1 is JIT
// warm-up). A round: fresh KV cache; prefill = batchForward(prompt) + output projection/argmax of the last position
// (so tokens[0] comes from the prompt); decode = NEW_TOKENS steps forward(previous token) + argmax. tokens has
// NEW_TOKENS + 1 ids, as jlisa's. Jlama's own logging (slf4j-simple) goes to stderr.
//
// Threads: Jlama computes on PhysicalCoreExecutor's ForkJoinPool, sized max(2, cpus / 2) unless
// PhysicalCoreExecutor.overrideThreadCount(n) runs before its first use (what ModelSupport.loadModel's threadCount
// does; there is no system property). MLPBlock also runs its activation as an IntStream.parallel() on the common pool,
// so run.sh passes -Djava.util.concurrent.ForkJoinPool.common.parallelism=THREADS-1 (caller + THREADS-1 workers).
//
// Dtypes: working memory (activations, KV cache, logits) is F32. Weights stay as stored: Jlama's quantize() never
// widens (BF16 -> F32 is a no-op) and modelQType == stored dtype converts nothing. Passing modelQType = BF16 for a BF16
// checkpoint also matters: with it empty, AbstractModel silently sets the "quantized memory type" to BF16, i.e. rounds
// activations to BF16 before every matmul (GemmerBF16). With it set, matmuls are F32 x BF16 (GemmerF32BF16). Setting
// -Djlama.bench.bf16acts=true restores Jlama's default for BF16 checkpoints.
//
// The model is built here rather than by ModelSupport.loadModel because (1) jlisa's random-weight directories have
// no tokenizer files and ids are fed directly, so a stub tokenizer stands in; (2) their config.json has no
// bos/eos_token_id and LlamaConfig throws (List.of(null)) without eos; the defaults 1/2 are filled in, in memory only.
// No working directory is set, so the KV cache lives in memory (TensorCache buffers), not in mmap'd temp files.

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tjake.jlama.model.AbstractModel;
import com.github.tjake.jlama.model.ModelSupport;
import com.github.tjake.jlama.safetensors.Config;
import com.github.tjake.jlama.safetensors.DType;
import com.github.tjake.jlama.safetensors.SafeTensorSupport;
import com.github.tjake.jlama.safetensors.WeightLoader;
import com.github.tjake.jlama.safetensors.tokenizer.Tokenizer;
import com.github.tjake.jlama.tensor.AbstractTensor;
import com.github.tjake.jlama.tensor.KvBufferCache;
import com.github.tjake.jlama.util.JsonSupport;
import com.github.tjake.jlama.util.PhysicalCoreExecutor;
import java.io.File;
import java.lang.reflect.Proxy;
import java.util.*;
import java.util.concurrent.ForkJoinPool;

public class JlamaGenerate {
    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: JlamaGenerate DIR PROMPT_TOKENS NEW_TOKENS THREADS ROUNDS");
            System.exit(2);
        }
        File dir = new File(args[0]);
        int promptTokens = Integer.parseInt(args[1]), newTokens = Integer.parseInt(args[2]);
        int threads = Integer.parseInt(args[3]), rounds = Integer.parseInt(args[4]);
        if (promptTokens < 1 || newTokens < 1 || threads < 1 || rounds < 2)
            throw new IllegalArgumentException("PROMPT_TOKENS, NEW_TOKENS, THREADS must be >= 1 and ROUNDS >= 2");

        PhysicalCoreExecutor.overrideThreadCount(threads);   // before anything starts Jlama's pool
        System.err.printf("jlama threads: PhysicalCoreExecutor=%d, common pool parallelism=%s (property %s)%n", threads,
                ForkJoinPool.getCommonPoolParallelism(), System.getProperty("java.util.concurrent.ForkJoinPool.common.parallelism"));

        AbstractModel model = load(dir);
        Config c = model.getConfig();
        if (promptTokens + newTokens > c.contextLength)
            throw new IllegalArgumentException(promptTokens + " + " + newTokens + " exceeds context " + c.contextLength);
        int[] prompt = new int[promptTokens];
        for (int i = 0; i < promptTokens; i++) prompt[i] = 1 + (int) ((long) i * 7919 % (c.vocabularySize - 1));

        KvBufferCache kvCache = new KvBufferCache(model);
        double[] prefill = new double[rounds - 1], decode = new double[rounds - 1];
        int[] first = null;
        boolean same = true;
        for (int r = 1; r <= rounds; r++) {
            int[] tokens = new int[newTokens + 1];
            long t0, t1, t2;
            try (KvBufferCache.KvBuffer kv = kvCache.getKvBuffer(UUID.randomUUID());   // fresh cache per round
                 AbstractTensor logits = model.makeDenseTensor(c.vocabularySize)) {
                t0 = System.nanoTime();
                AbstractTensor out = model.batchForward(prompt, 0, kv);
                // As AbstractModel.generate: final norm + output projection + argmax (temperature 0) of the last row.
                tokens[0] = model.sample(out.slice(out.shape().first() - 1), 0f, 0f, logits);
                out.close();
                t1 = System.nanoTime();
                for (int s = 1; s <= newTokens; s++) {
                    AbstractTensor o = model.forward(tokens[s - 1], promptTokens + s - 1, kv, Optional.empty());
                    tokens[s] = model.sample(o, 0f, 0f, logits);
                    o.close();
                    kv.incrementContextPosition();
                }
                t2 = System.nanoTime();
            }
            double p = promptTokens / ((t1 - t0) / 1e9), d = newTokens / ((t2 - t1) / 1e9);
            if (r > 1) { prefill[r - 2] = p; decode[r - 2] = d; }
            if (first == null) first = tokens; else same &= Arrays.equals(first, tokens);
            System.out.println(line(r, threads, promptTokens, newTokens, p, d) + ",\"tokens\":" + Arrays.toString(tokens).replace(" ", "") + "}");
        }
        System.out.println(line(-1, threads, promptTokens, newTokens, median(prefill), median(decode))
                + ",\"weights_dtype\":\"" + model.getWeights().getModelDType() + "\",\"working_dtype\":\"" + model.getWorkingDType()
                + "\",\"matmul_input_dtype\":\"" + matmulInputDType(model) + "\",\"tokens_same_every_round\":" + same + ",\"tokens\":" + Arrays.toString(first).replace(" ", "") + "}");
        System.out.flush();
        System.exit(0);   // Jlama's pool threads are not daemons
    }

    /** What ModelSupport.loadModel does, minus the tokenizer files and with bos/eos defaults. */
    static AbstractModel load(File dir) throws Exception {
        File cfg = new File(dir, "config.json");
        ModelSupport.ModelType type = SafeTensorSupport.detectModel(cfg);
        ObjectNode json = (ObjectNode) JsonSupport.om.readTree(cfg);
        if (!json.has("bos_token_id")) json.put("bos_token_id", 1);
        if (!json.has("eos_token_id")) json.put("eos_token_id", 2);
        Config config = JsonSupport.om.treeToValue(json, type.configClass);
        WeightLoader weights = SafeTensorSupport.loadWeights(dir);
        DType stored = weights.getModelDType();
        boolean bf16Acts = Boolean.getBoolean("jlama.bench.bf16acts");
        Optional<DType> modelQType = stored == DType.BF16 && !bf16Acts ? Optional.of(DType.BF16) : Optional.empty();
        Tokenizer noTokenizer = (Tokenizer) Proxy.newProxyInstance(Tokenizer.class.getClassLoader(), new Class<?>[] {Tokenizer.class},
                (proxy, m, a) -> switch (m.getName()) {
                    case "toString" -> "no tokenizer (ids are fed directly)";
                    case "hashCode" -> 0;
                    case "equals" -> proxy == a[0];
                    case "promptSupport" -> Optional.empty();
                    default -> throw new UnsupportedOperationException("JlamaGenerate feeds ids; no tokenizer: " + m.getName());
                });
        System.err.printf("jlama model: %s, weights %s, working F32, modelQType %s%n", type, stored, modelQType);
        return type.modelClass.getConstructor(AbstractModel.InferenceType.class, Config.class, WeightLoader.class, Tokenizer.class,
                        DType.class, DType.class, Optional.class)
                .newInstance(AbstractModel.InferenceType.FULL_GENERATION, config, weights, noTokenizer, DType.F32, DType.F32, modelQType);
    }

    /** AbstractModel.workingQType: the dtype activations are converted to before each matmul (no public getter). */
    static Object matmulInputDType(AbstractModel m) throws ReflectiveOperationException {
        var f = AbstractModel.class.getDeclaredField("workingQType");
        f.setAccessible(true);
        return f.get(m);
    }

    static String line(int round, int threads, int prompt, int fresh, double prefill, double decode) {
        return String.format(Locale.ROOT, "{\"engine\":\"jlama\",\"round\":%s,\"threads\":%d,\"prompt_tokens\":%d,\"new_tokens\":%d,"
                + "\"prefill_tok_s\":%.2f,\"decode_tok_s\":%.2f", round < 0 ? "\"median\"" : round, threads, prompt, fresh, prefill, decode);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
