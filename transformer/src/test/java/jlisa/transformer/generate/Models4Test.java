package jlisa.transformer.generate;

import java.nio.file.Path;

import jlisa.tensor.Rng;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.GPT2;
import jlisa.transformer.model.Llama;
import jlisa.transformer.model.Models;

/** Small models for the generation tests. */
final class Models4Test {
    private Models4Test() {}

    static CausalLM gpt2(int positions) {
        GPT2 m = new GPT2(GPT2.Config.of(61, positions, 32, 2, 4), new Rng(1));
        m.eval();
        return m;
    }

    /** GQA: 4 query heads over 2 kv heads. */
    static CausalLM llama() {
        Llama m = new Llama(Llama.Config.of(67, 32, 64, 2, 4, 2, 128), new Rng(2));
        m.eval();
        return m;
    }

    static CausalLM golden(String name) {
        return Models.load(Path.of("src/test/resources/golden", name));
    }
}
