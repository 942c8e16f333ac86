package jlisa.transformer.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ByteTokenizerTest {
    private final ByteTokenizer bytes = ByteTokenizer.withEndOfText();

    @Test
    void idsAreUtf8BytesAndEndOfTextIs256() {
        assertThat(bytes.vocabSize()).isEqualTo(257);
        assertThat(bytes.encode("hé")).containsExactly('h', 0xC3, 0xA9);
        assertThat(bytes.eosId()).hasValue(256);
        assertThat(bytes.bosId()).isEmpty();
        assertThat(bytes.decode(new int[] {'h', 'i', 256})).isEqualTo("hi<|endoftext|>");
        assertThat(bytes.isSpecial(256)).isTrue();
        assertThat(bytes.isSpecial('a')).isFalse();
        assertThat(ByteTokenizer.plain().vocabSize()).isEqualTo(256);
        assertThat(ByteTokenizer.plain().eosId()).isEmpty();
    }

    @Test
    void textSpellingASpecialTokenStaysBytes() {
        assertThat(bytes.encode("<|endoftext|>")).hasSize(13).doesNotContain(256);
    }

    @Test
    void tokensAreSpelledInTheByteLevelAlphabet() {
        assertThat(bytes.token(' ')).isEqualTo("Ġ");
        assertThat(bytes.token('\n')).isEqualTo("Ċ");
        assertThat(bytes.token('a')).isEqualTo("a");
        assertThat(bytes.token(256)).isEqualTo("<|endoftext|>");
        for (int id = 0; id < 257; id++) assertThat(bytes.id(bytes.token(id))).hasValue(id);
        assertThat(bytes.id("ab")).isEmpty();
    }

    @Test
    void anyStringRoundTrips() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (int n = 0; n < 300; n++) {
            String s = BpeTokenizerGoldenTest.randomText(rnd, rnd.nextInt(50));
            assertThat(bytes.decode(bytes.encode(s))).isEqualTo(s);
        }
    }

    @Test
    void streamDecoderHoldsIncompleteUtf8UntilItCompletes() {
        StreamDecoder stream = bytes.streamDecoder();
        int[] ids = bytes.encode("a😀é");                      // a, F0 9F 98 80, C3 A9
        assertThat(stream.next(ids[0])).isEqualTo("a");
        assertThat(stream.next(ids[1])).isEmpty();
        assertThat(stream.next(ids[2])).isEmpty();
        assertThat(stream.next(ids[3])).isEmpty();
        assertThat(stream.hasPending()).isTrue();
        assertThat(stream.next(ids[4])).isEqualTo("😀");
        assertThat(stream.next(ids[5])).isEmpty();
        assertThat(stream.next(ids[6])).isEqualTo("é");
        assertThat(stream.hasPending()).isFalse();
        assertThat(stream.next(256)).isEqualTo("<|endoftext|>");
    }

    @Test
    void streamDecoderReplacesInvalidBytesAtOnceAndUnfinishedOnesAtFlush() {
        StreamDecoder stream = bytes.streamDecoder();
        assertThat(stream.next(0xFF)).isEqualTo("\uFFFD");      // never valid: not held back
        assertThat(stream.next(0xE4)).isEmpty();
        assertThat(stream.flush()).isEqualTo("\uFFFD");
        assertThat(stream.hasPending()).isFalse();
        assertThat(stream.next('x')).isEqualTo("x");
    }

    @Test
    void rejectsOutOfRangeIdsAndDuplicateSpecials() {
        assertThatThrownBy(() -> bytes.decode(new int[] {1, 257}))
                .hasMessage("decode: id 257 at position 1 is outside the vocabulary [0, 257)");
        assertThatThrownBy(() -> bytes.token(-3)).hasMessageContaining("id -3");
        assertThatThrownBy(() -> new ByteTokenizer(List.of("<a>", "<a>"))).hasMessageContaining("<a> given twice");
    }
}
