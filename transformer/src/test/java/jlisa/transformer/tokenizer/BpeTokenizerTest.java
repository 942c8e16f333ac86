package jlisa.transformer.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hand-made Llama-3-style tokenizer.json (resources/tokenizer/tiny-llama3-style.tokenizer.json):
 * ids 0–255 are the bytes, then these merges by rank, then added tokens:
 * <pre>
 * 256 he   257 ll   258 hell   259 hello   260 Ġw   261 or   262 Ġwor   263 ld   264 Ġworld
 * 265 12   266 34   267 Ġhello (no merge makes it: only ignore_merges reaches it)
 * 268 &lt;|begin_of_text|&gt;  269 &lt;|end_of_text|&gt;  270 &lt;mask&gt; (normal, lstrip)
 * 271 &lt;|end|&gt; (rstrip)  272 &lt;|end|&gt;!  273 cat (normal, single_word)
 * </pre>
 * Expected ids below are worked out by hand from that table.
 */
class BpeTokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static ObjectNode tree;
    private static BpeTokenizer tiny;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = BpeTokenizerTest.class.getResourceAsStream("/tokenizer/tiny-llama3-style.tokenizer.json")) {
            tree = (ObjectNode) JSON.readTree(in);
        }
        tiny = BpeTokenizer.fromJson(tree.toString());
    }

    private static BpeTokenizer variant(Consumer<ObjectNode> edit) {
        ObjectNode copy = tree.deepCopy();
        edit.accept(copy);
        return BpeTokenizer.fromJson(copy.toString());
    }

    @Test
    void mergesByRankAndEmitsWholeVocabularyWordsWithIgnoreMerges() {
        assertThat(tiny.vocabSize()).isEqualTo(274);
        assertThat(tiny.encode("hello world")).containsExactly(259, 264);
        assertThat(tiny.encode(" hello")).containsExactly(267);                 // ignore_merges: "Ġhello" is in vocab
        BpeTokenizer merging = variant(t -> ((ObjectNode) t.get("model")).put("ignore_merges", false));
        assertThat(merging.encode(" hello")).containsExactly(32, 259);         // Ġ + (he ll → hell, o → hello)
        assertThat(merging.encode("hello world")).containsExactly(259, 264);
    }

    @Test
    void llama3SplitCapsDigitRunsAtThreeAndKeepsContractionsCaseInsensitive() {
        assertThat(tiny.encode("12345")).containsExactly(265, '3', '4', '5');    // "123" "45": 34 cannot merge
        BpeTokenizer gpt2Regex = variant(t -> t.set("pre_tokenizer", JSON.createObjectNode()
                .put("type", "ByteLevel").put("add_prefix_space", false).put("use_regex", true)));
        assertThat(gpt2Regex.encode("12345")).containsExactly(265, 266, '5');   // one digit run: 12, 34, 5
        assertThat(tiny.encode("I'M")).containsExactly('I', '\'', 'M');
        assertThat(tiny.encode("a\n\nb")).containsExactly('a', '\n', '\n', 'b');
    }

    @Test
    void mergesAsStringsEqualMergesAsPairs() {
        BpeTokenizer strings = variant(t -> {
            ArrayNode merges = (ArrayNode) t.get("model").get("merges");
            ArrayNode asStrings = JSON.createArrayNode();
            for (JsonNode m : merges) asStrings.add(m.get(0).asText() + " " + m.get(1).asText());
            ((ObjectNode) t.get("model")).set("merges", asStrings);
        });
        for (String s : List.of("hello world", " hello", "12345", "I'M <mask> cat"))
            assertThat(strings.encode(s)).containsExactly(tiny.encode(s));
    }

    @Test
    void addedTokensAreCutOutOfRawTextLongestFirst() {
        assertThat(tiny.encode("<|begin_of_text|>hello")).containsExactly(268, 259);
        assertThat(tiny.encode("<|end|>!")).containsExactly(272);               // longest match wins
        assertThat(tiny.encode("<|end|>?")).containsExactly(271, '?');
        assertThat(tiny.encode("x <mask> y")).containsExactly('x', 270, ' ', 'y');   // lstrip eats the space before
        assertThat(tiny.encode("<|end|>  next")).containsExactly(271, 'n', 'e', 'x', 't');   // rstrip eats after
        assertThat(tiny.encode("<|end_of_text")).containsExactly(bytesOf("<|end_of_text"));   // unterminated: plain text
    }

    private static int[] bytesOf(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) ids[i] = b[i] & 0xFF;
        return ids;
    }

    @Test
    void singleWordTokensMatchOnlyBetweenNonWordCharacters() {
        assertThat(tiny.encode("cat")).containsExactly(273);
        assertThat(tiny.encode("a cat.")).containsExactly('a', ' ', 273, '.');
        assertThat(tiny.encode("concatenate")).containsExactly(bytesOf("concatenate"));
    }

    @Test
    void postProcessorAddsBosOnlyWhenAsked() {
        assertThat(tiny.encode("hello", true)).containsExactly(268, 259);
        assertThat(tiny.encode("hello", false)).containsExactly(259);
        assertThat(tiny.encode("hello")).containsExactly(259);
        assertThat(tiny.encode("", true)).containsExactly(268);
        assertThat(tiny.bosId()).hasValue(268);
        assertThat(tiny.eosId()).hasValue(269);
    }

    @Test
    void decodeGivesSpecialTokensTheirContentOrSkipsThem() {
        int[] ids = {268, 259, 270, 264, 269};
        assertThat(tiny.decode(ids)).isEqualTo("<|begin_of_text|>hello<mask> world<|end_of_text|>");
        assertThat(tiny.decode(ids, true)).isEqualTo("hello<mask> world");     // <mask> is not special
        assertThat(tiny.isSpecial(268)).isTrue();
        assertThat(tiny.isSpecial(270)).isFalse();
        assertThat(tiny.token(264)).isEqualTo("Ġworld");
        assertThat(tiny.token(268)).isEqualTo("<|begin_of_text|>");
        assertThat(tiny.id("<mask>")).hasValue(270);
        assertThat(tiny.id("nope")).isEmpty();
        assertThat(tiny.bytes(264)).containsExactly(" world".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void roundTripsTrickyStrings() {
        for (String s : List.of("", " ", "   ", "\t\n\r\n", "héllo wörld", "中文 テキスト", "😀👍🏽👩‍💻", "a\u00a0b\u3000c",
                "<mask><mask>", "  <|end|>  x", "1234567890", "'s'S'll", "\u0000\u007f")) {
            assertThat(tiny.decode(tiny.encode(s))).as(BpeTokenizerGoldenTest.quoted(s))
                    .isEqualTo(s.replaceAll("(?<=<\\|end\\|>)\\s+", ""));   // rstrip drops what follows <|end|>
        }
    }

    @Test
    void splitBehaviorsFollowHuggingFace() {
        assertThat(split("-", "Isolated", false, "a-b--c")).containsExactly("a", "-", "b", "-", "-", "c");
        assertThat(split("-", "Removed", false, "a-b--c")).containsExactly("a", "b", "c");
        assertThat(split("-", "MergedWithPrevious", false, "a-b--c")).containsExactly("a-", "b-", "-", "c");
        assertThat(split("-", "MergedWithNext", false, "a-b--c")).containsExactly("a", "-b", "-", "-c");
        assertThat(split("-", "Contiguous", false, "a-b--c")).containsExactly("a", "-", "b", "--", "c");
        assertThat(split("\\p{L}+", "Removed", true, "ab, cd")).containsExactly("ab", "cd");
        assertThat(split("\\s+", "Isolated", false, "a\u3000b")).containsExactly("a", "\u3000", "b");   // Unicode \s
    }

    private static List<String> split(String regex, String behavior, boolean invert, String text) {
        ObjectNode node = JSON.createObjectNode().put("type", "Split").put("behavior", behavior).put("invert", invert);
        node.putObject("pattern").put("Regex", regex);
        List<String> out = new ArrayList<>();
        PreTokenizer.parse(node).split(text, out);
        return out;
    }

    @Test
    void digitsIsolatesNumeralsOneByOneOrInRuns() {
        List<String> out = new ArrayList<>();
        new PreTokenizer.Digits(true).split("ab123c٣4", out);
        assertThat(out).containsExactly("ab", "1", "2", "3", "c", "٣", "4");
        out.clear();
        new PreTokenizer.Digits(false).split("ab123c٣4", out);
        assertThat(out).containsExactly("ab", "123", "c", "٣4");
    }

    @Test
    void nfcNormalizerComposesBeforeMerging() {
        BpeTokenizer nfc = variant(t -> t.set("normalizer", JSON.createObjectNode().put("type", "NFC")));
        assertThat(nfc.encode("e\u0301")).containsExactly(0xC3, 0xA9);          // é composed: UTF-8 C3 A9
        assertThat(tiny.encode("e\u0301")).containsExactly('e', 0xCC, 0x81);
    }

    @Test
    void rejectsWhatItCannotTokenizeAndNamesIt() {
        assertThatThrownBy(() -> BpeTokenizer.fromJson("{\"model\": "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> variant(t -> ((ObjectNode) t.get("model")).put("type", "WordPiece")))
                .hasMessageContaining("model type 'WordPiece' is not supported");
        assertThatThrownBy(() -> variant(t -> t.set("pre_tokenizer", JSON.createObjectNode().put("type", "UnicodeScripts"))))
                .hasMessageContaining("pre_tokenizer type 'UnicodeScripts' is not supported");
        assertThatThrownBy(() -> variant(t -> t.set("normalizer", JSON.createObjectNode().put("type", "Precompiled"))))
                .hasMessageContaining("normalizer type 'Precompiled' is not supported");
        assertThatThrownBy(() -> variant(t -> t.set("decoder", JSON.createObjectNode().put("type", "WordPiece"))))
                .hasMessageContaining("decoder type 'WordPiece' is not supported");
        assertThatThrownBy(() -> variant(t -> ((ArrayNode) t.get("pre_tokenizer").get("pretokenizers")).remove(1)))
                .hasMessageContaining("0 ByteLevel steps");
        assertThatThrownBy(() -> variant(t -> ((ArrayNode) t.get("model").get("merges")).add("x yz")))
                .hasMessageContaining("'yz' is not in the vocabulary");
        assertThatThrownBy(() -> variant(t -> ((ObjectNode) t.get("pre_tokenizer").get("pretokenizers").get(0))
                .putObject("pattern").put("Regex", "(unclosed")))
                .hasMessageContaining("does not compile").hasMessageContaining("(unclosed");
    }

    @Test
    void decodeRejectsIdsOutsideTheVocabulary() {
        assertThatThrownBy(() -> tiny.decode(new int[] {259, 274}))
                .hasMessage("decode: id 274 at position 1 is outside the vocabulary [0, 274)");
        assertThatThrownBy(() -> tiny.decode(new int[] {-1})).hasMessageContaining("id -1");
        assertThatThrownBy(() -> tiny.streamDecoder().next(9999)).hasMessageContaining("id 9999");
    }

    @Test
    void loadsFromPathAndNamesThePathInErrors(@TempDir Path dir) throws IOException {
        Path good = dir.resolve("tokenizer.json");
        Files.writeString(good, tree.toString());
        assertThat(BpeTokenizer.load(good).encode("hello world")).containsExactly(259, 264);
        Path bad = dir.resolve("broken.json");
        Files.writeString(bad, "{\"model\": [1, 2");
        assertThatThrownBy(() -> BpeTokenizer.load(bad)).hasMessageContaining("broken.json").hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> BpeTokenizer.load(dir.resolve("missing.json"))).isInstanceOf(NoSuchFileException.class);
    }
}
