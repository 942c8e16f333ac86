package jlisa.transformer.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * GPT-2's real vocabulary and merges (from OpenAI's encoder.json + vocab.bpe, written as an
 * HF tokenizer.json) against ids produced by transformers.js, an independent implementation
 * of the HF tokenizers spec. See transformer/src/test/golden/tokenizer/generate.mjs.
 */
class BpeTokenizerGoldenTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static JsonNode gpt2Tree;
    private static BpeTokenizer gpt2;
    private static BpeTokenizer llama3Style;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = new GZIPInputStream(resource("gpt2.tokenizer.json.gz"))) {
            gpt2Tree = JSON.readTree(in);
        }
        gpt2 = BpeTokenizer.fromJson(gpt2Tree.toString());
        // GPT-2's vocabulary with Llama 3's pre-tokenizer, ignore_merges, BOS template (same overrides as the generator).
        ObjectNode llama = gpt2Tree.deepCopy();
        JsonNode overrides = JSON.readTree(resource("llama3-style.overrides.json"));
        for (Map.Entry<String, JsonNode> e : overrides.properties()) {
            if (e.getKey().equals("model")) ((ObjectNode) llama.get("model")).setAll((ObjectNode) e.getValue());
            else llama.set(e.getKey(), e.getValue());
        }
        llama3Style = BpeTokenizer.fromJson(llama.toString());
    }

    private static InputStream resource(String name) {
        InputStream in = BpeTokenizerGoldenTest.class.getResourceAsStream("/tokenizer/" + name);
        if (in == null) throw new UncheckedIOException(new IOException("missing test resource tokenizer/" + name));
        return in;
    }

    record Case(String text, int[] ids, int[] idsWithSpecial) {}

    private static List<Case> cases(String name) throws IOException {
        List<Case> out = new ArrayList<>();
        for (JsonNode c : JSON.readTree(resource(name)).get("cases")) {
            out.add(new Case(c.get("text").asText(), JSON.treeToValue(c.get("ids"), int[].class),
                    JSON.treeToValue(c.get("ids_with_special"), int[].class)));
        }
        return out;
    }

    @Test
    void gpt2MatchesPublishedEncodings() {
        assertThat(gpt2.vocabSize()).isEqualTo(50257);
        assertThat(gpt2.mergeCount()).isEqualTo(50000);
        assertThat(gpt2.encode("Hello world")).containsExactly(15496, 995);
        assertThat(gpt2.eosId()).hasValue(50256);
        assertThat(gpt2.bosId()).isEmpty();
        assertThat(gpt2.token(995)).isEqualTo("Ġworld");
        assertThat(gpt2.id("Ġworld")).hasValue(995);
    }

    @Test
    void gpt2MatchesTransformersJsOnTrickyAndRandomStrings() throws IOException {
        List<Case> cases = cases("gpt2.golden.json");
        assertThat(cases).hasSizeGreaterThan(100);
        for (Case c : cases) {
            assertThat(gpt2.encode(c.text())).as("ids of %s", quoted(c.text())).containsExactly(c.ids());
            assertThat(gpt2.encode(c.text(), true)).as("ids+special of %s", quoted(c.text())).containsExactly(c.idsWithSpecial());
            assertThat(gpt2.decode(c.ids())).as("decode of %s", quoted(c.text())).isEqualTo(c.text());
        }
    }

    @Test
    void llama3StylePipelineMatchesTransformersJs() throws IOException {
        for (Case c : cases("llama3-style.golden.json")) {
            assertThat(llama3Style.encode(c.text())).as("ids of %s", quoted(c.text())).containsExactly(c.ids());
            assertThat(llama3Style.encode(c.text(), true)).as("ids+BOS of %s", quoted(c.text())).containsExactly(c.idsWithSpecial());
            assertThat(llama3Style.decode(c.ids())).isEqualTo(c.text());
        }
        assertThat(llama3Style.bosId()).hasValue(50257);
        assertThat(llama3Style.eosId()).hasValue(50258);
    }

    @Test
    void randomUnicodeRoundTrips() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int n = 0; n < 300; n++) {
            String s = randomText(rnd, 1 + rnd.nextInt(40));
            assertThat(gpt2.decode(gpt2.encode(s))).isEqualTo(s);
            assertThat(llama3Style.decode(llama3Style.encode(s, true))).isEqualTo("<|begin_of_text|>" + s);
        }
    }

    @Test
    void streamingDecodeHoldsBackSplitCharacters() {
        String text = "emoji 😀🎉 and 中文 and 👩‍💻!";
        int[] ids = gpt2.encode(text);
        StreamDecoder stream = gpt2.streamDecoder();
        StringBuilder sb = new StringBuilder();
        boolean heldSomething = false;
        for (int id : ids) {
            String piece = stream.next(id);
            heldSomething |= stream.hasPending();
            assertThat(piece).doesNotContain("\uFFFD");
            sb.append(piece);
        }
        sb.append(stream.flush());
        assertThat(heldSomething).as("some token of an emoji ends mid-character").isTrue();
        assertThat(sb.toString()).isEqualTo(text);
    }

    @Test
    void longRepetitiveWordMergesAndCachesConsistently() {
        String word = "a".repeat(5000);
        int[] first = gpt2.encode(word);
        assertThat(gpt2.decode(first)).isEqualTo(word);
        assertThat(gpt2.encode(word)).containsExactly(first);
        String text = "the quick brown fox ".repeat(200);
        assertThat(gpt2.encode(text)).containsExactly(gpt2.encode(text));
    }

    /** Random code points from mixed scripts, whitespace and emoji; never a lone surrogate. */
    static String randomText(SplittableRandom rnd, int length) {
        int[][] ranges = {{0x20, 0x7E}, {0x09, 0x0D}, {0xA0, 0x24F}, {0x370, 0x3FF}, {0x400, 0x4FF}, {0x600, 0x6FF},
                {0x900, 0x97F}, {0x3000, 0x303F}, {0x4E00, 0x4FFF}, {0xAC00, 0xAD00}, {0x1F300, 0x1F6FF}, {0x1, 0x1F}};
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < length; i++) {
            if (rnd.nextInt(20) == 0) {
                sb.append("<|endoftext|>");
                continue;
            }
            int[] r = ranges[rnd.nextInt(ranges.length)];
            sb.appendCodePoint(r[0] + rnd.nextInt(r[1] - r[0] + 1));
        }
        return sb.toString();
    }

    static String quoted(String s) {
        return "\"" + s.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "\"";
    }
}
