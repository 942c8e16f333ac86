package jlisa.transformer.tokenizer;

import static jlisa.transformer.tokenizer.BpeTokenizerGoldenTest.quoted;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Llama 2's and Gemma 3's real tokenizer.json cut down to ~900 tokens (normalizer, decoder, byte_fallback,
 * fuse_unk and added tokens as the real files have them) against ids and decodes produced by transformers.js.
 * The fixtures and goldens come from transformer/src/test/golden/tokenizer/sentencepiece.mjs.
 */
class SentencePieceGoldenTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    record Case(String text, int[] ids, int[] idsWithSpecial, String decoded, String decodedWithSpecial,
            String decodedSkipSpecial, String decodedCleanUp) {}

    record ByteRun(List<String> tokens, int[] ids, String decoded) {}

    private static InputStream resource(String name) {
        InputStream in = SentencePieceGoldenTest.class.getResourceAsStream("/tokenizer/" + name);
        if (in == null) throw new UncheckedIOException(new IOException("missing test resource tokenizer/" + name));
        return in;
    }

    private static String text(String name) {
        try (InputStream in = resource(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static BpeTokenizer fixture(String style) {
        return BpeTokenizer.fromJson(text(style + ".tokenizer.json"))
                .withConfig(TokenizerConfig.parse(text(style + ".tokenizer_config.json"), style + ".tokenizer_config.json"));
    }

    private static JsonNode golden(String style) throws IOException {
        return JSON.readTree(text(style + ".golden.json"));
    }

    private static List<Case> cases(String style) throws IOException {
        List<Case> out = new ArrayList<>();
        for (JsonNode c : golden(style).get("cases")) {
            out.add(new Case(c.get("text").asText(), JSON.treeToValue(c.get("ids"), int[].class),
                    JSON.treeToValue(c.get("ids_with_special"), int[].class), c.get("decoded").asText(),
                    c.get("decoded_with_special").asText(), c.get("decoded_skip_special").asText(),
                    c.get("decoded_clean_up").asText()));
        }
        return out;
    }

    private static List<ByteRun> byteRuns(String style) throws IOException {
        List<ByteRun> out = new ArrayList<>();
        for (JsonNode r : golden(style).get("byte_runs")) {
            List<String> tokens = new ArrayList<>();
            r.get("tokens").forEach(t -> tokens.add(t.asText()));
            out.add(new ByteRun(tokens, JSON.treeToValue(r.get("ids"), int[].class), r.get("decoded").asText()));
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama2-style", "gemma3-style"})
    void encodeMatchesTransformersJsWithAndWithoutSpecialTokens(String style) throws IOException {
        BpeTokenizer tok = fixture(style);
        List<Case> cases = cases(style);
        assertThat(cases).hasSizeGreaterThan(130);
        int unk = tok.id("<unk>").orElseThrow(), reordered = 0;
        for (Case c : cases) {
            int[] ids = hfUnkOrder(tok, unk, c.ids()), withSpecial = hfUnkOrder(tok, unk, c.idsWithSpecial());
            if (ids.length != c.ids().length) reordered++;
            assertThat(tok.encode(c.text())).as("%s ids of %s", style, quoted(c.text())).containsExactly(ids);
            assertThat(tok.encode(c.text(), true)).as("%s ids+special of %s", style, quoted(c.text()))
                    .containsExactly(withSpecial);
        }
        assertThat(reordered).as("cases where an unknown character precedes a byte-fallback one").isBetween(1, 5);
    }

    /**
     * transformers.js and HF tokenizers differ in one corner: an unknown character (no token, no byte tokens: here any
     * emoji, since the fixture lacks {@code <0xF0>}) followed by a character that falls back to bytes. HF's
     * {@code BPE::merge_word} adds the byte tokens while the unk is still pending, so the unk comes after them and fuses
     * with a following unk; transformers.js emits the unk first. {@code 👩‍💻} (woman, ZWJ, laptop) is
     * {@code <unk> <0xE2><0x80><0x8D> <unk>} in transformers.js and {@code <0xE2><0x80><0x8D> <unk>} in HF.
     * This rewrites transformers.js's ids into HF's order; every other case is compared as it is.
     */
    static int[] hfUnkOrder(BpeTokenizer tok, int unk, int[] ids) {
        List<Integer> out = new ArrayList<>();
        boolean pending = false;
        for (int i = 0; i < ids.length; i++) {
            boolean byteToken = tok.token(ids[i]).matches("<0x[0-9A-F]{2}>");
            if (ids[i] == unk && i + 1 < ids.length && (pending || tok.token(ids[i + 1]).matches("<0x[0-9A-F]{2}>"))) {
                pending = true;                  // held back behind the byte run
                continue;
            }
            if (ids[i] == unk && pending) pending = false;   // the held unk fuses into this one
            else if (!byteToken && pending) {
                out.add(unk);
                pending = false;
            }
            out.add(ids[i]);
        }
        if (pending) out.add(unk);
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama2-style", "gemma3-style"})
    void unknownCharacterBeforeByteFallbackFollowsHf(String style) {
        BpeTokenizer tok = fixture(style);
        int unk = tok.id("<unk>").orElseThrow();
        int[] zwj = {tok.id("<0xE2>").orElseThrow(), tok.id("<0x80>").orElseThrow(), tok.id("<0x8D>").orElseThrow()};
        // Llama 2 prepends ▁ (a token of its own before an emoji); Gemma 3 does not
        int[] ids = tok.encode("\uD83D\uDC69\u200D\uD83D\uDCBB");
        int[] word = java.util.Arrays.copyOfRange(ids, ids.length - 4, ids.length);
        assertThat(word).containsExactly(zwj[0], zwj[1], zwj[2], unk);
        assertThat(tok.encode("\uD83D\uDC69\uD83D\uDCBB")).endsWith(unk).doesNotContain(zwj[0]);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama2-style", "gemma3-style"})
    void decodeMatchesTransformersJs(String style) throws IOException {
        BpeTokenizer tok = fixture(style);
        BpeTokenizer cleaning = tok.withConfig(TokenizerConfig.parse(
                "{\"clean_up_tokenization_spaces\": true}", "clean-up config"));
        for (Case c : cases(style)) {
            assertThat(tok.decode(c.ids())).as("%s decode of %s", style, quoted(c.text())).isEqualTo(c.decoded());
            assertThat(tok.decode(c.idsWithSpecial())).as("%s decode+special of %s", style, quoted(c.text()))
                    .isEqualTo(c.decodedWithSpecial());
            assertThat(tok.decode(c.idsWithSpecial(), true)).as("%s decode skipping special of %s", style, quoted(c.text()))
                    .isEqualTo(c.decodedSkipSpecial());
            assertThat(cleaning.decode(c.ids())).as("%s clean-up decode of %s", style, quoted(c.text()))
                    .isEqualTo(c.decodedCleanUp());
        }
    }

    /**
     * Where a run of byte tokens is not valid UTF-8, HF tokenizers' ByteFallback decoder gives one U+FFFD per byte
     * token (tokenizers/src/decoders/byte_fallback.rs: "you will get � instead for each inconvertible byte token"),
     * while transformers.js reads the run with TextDecoder (one U+FFFD per maximal bad subsequence). jlisa follows
     * HF; for these runs the expected text is written out here, for the others it is transformers.js's.
     */
    private static final Map<String, String> HF_WHERE_TRANSFORMERS_JS_DIFFERS = Map.of(
            "[<0xE4>, <0xB8>]", "\uFFFD\uFFFD",
            "[<0xE4>, <0xB8>, <0xAD>, <0xFF>]", "\uFFFD\uFFFD\uFFFD\uFFFD",
            "[<0xC3>, <0xA9>, <0xFF>, <0x41>]", "\uFFFD\uFFFD\uFFFD\uFFFD",
            "[<0xF1>, <0x80>, <0x80>]", "\uFFFD\uFFFD\uFFFD",
            "[<0xE4>, <0xB8>, \u2581a, <0xAD>]", "\uFFFD\uFFFD a\uFFFD",
            "[<0x41>, <0xE4>, <0x42>]", "\uFFFD\uFFFD\uFFFD");

    @ParameterizedTest
    @ValueSource(strings = {"llama2-style", "gemma3-style"})
    void invalidByteRunsDecodeToOneReplacementPerByteAsHfDoes(String style) throws IOException {
        BpeTokenizer tok = fixture(style);
        List<ByteRun> runs = byteRuns(style);
        assertThat(runs).hasSizeGreaterThan(10);
        int differing = 0;
        for (ByteRun r : runs) {
            String hf = HF_WHERE_TRANSFORMERS_JS_DIFFERS.get(r.tokens().toString());
            String want;
            if (hf == null) {
                want = r.decoded();
            } else {
                differing++;
                // transformers.js really does differ here (else this table is stale): fewer U+FFFD than HF
                assertThat(count(r.decoded())).as("transformers.js U+FFFD in %s", r.tokens()).isLessThan(count(hf));
                // the Strip decoder of Llama 2 removes one leading space, Gemma 3 has none
                want = style.equals("llama2-style") ? hf.replaceFirst("^ ", "") : hf;
            }
            assertThat(tok.decode(r.ids())).as("%s decode of %s", style, r.tokens()).isEqualTo(want);
            assertThat(count(tok.decode(r.ids()))).as("%s U+FFFD count of %s", style, r.tokens()).isEqualTo(count(want));
        }
        assertThat(differing).isEqualTo(HF_WHERE_TRANSFORMERS_JS_DIFFERS.size());
    }

    private static long count(String s) {
        return s.chars().filter(c -> c == 0xFFFD).count();
    }
}
