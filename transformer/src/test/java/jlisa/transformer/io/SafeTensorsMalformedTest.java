package jlisa.transformer.io;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed file is refused on open with a message naming the file and what was wrong. */
class SafeTensorsMalformedTest {
    @TempDir Path dir;

    private static final String F32_2 = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    private static AbstractThrowableAssert<?, ? extends Throwable> refused(Path file) {
        return assertThatThrownBy(() -> SafeTensors.open(file).close())
                .isInstanceOf(SafeTensorsException.class)
                .hasMessageContaining(file.toString());
    }

    private AbstractThrowableAssert<?, ? extends Throwable> refused(String header, int dataLength) {
        return refused(Crafted.file(dir, header, dataLength));
    }

    @Test
    void fileShorterThanTheLengthPrefix() {
        refused(Crafted.raw(dir, new byte[0])).hasMessageContaining("0 bytes long");
        refused(Crafted.raw(dir, new byte[7])).hasMessageContaining("7 bytes long").hasMessageContaining("8-byte");
    }

    @Test
    void headerLengthBeyondTheFileSaysBothNumbers() {
        byte[] bytes = ByteBuffer.allocate(8 + 10).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 500).array();
        refused(Crafted.raw(dir, bytes)).hasMessageContaining("500").hasMessageContaining("only 10 bytes");
        byte[] huge = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1).array();
        refused(Crafted.raw(dir, huge)).hasMessageContaining("18446744073709551615");
    }

    @Test
    void headerThatIsNotJsonOrNotAnObject() {
        refused("{\"a\": {", 0).hasMessageContaining("does not parse").hasMessageContaining("line 1 column");
        refused("{} trailing", 0).hasMessageContaining("does not parse");
        refused("[1, 2]", 0).hasMessageContaining("must start with '{'");
        refused("", 0).hasMessageContaining("empty header");
        byte[] bad = ByteBuffer.allocate(8 + 4).order(ByteOrder.LITTLE_ENDIAN).putLong(4).put(new byte[] {'{', (byte) 0xC3, '(', '}'}).array();
        refused(Crafted.raw(dir, bad)).hasMessageContaining("UTF-8");
    }

    @Test
    void entryThatIsNotAnObject() {
        refused("{\"a\": 3}", 0).hasMessageContaining("\"a\"").hasMessageContaining("expected an object");
    }

    @Test
    void entryMissingAField() {
        refused("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8).hasMessageContaining("\"a\"").hasMessageContaining("missing \"dtype\"");
        refused("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8).hasMessageContaining("missing \"shape\"");
        refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8).hasMessageContaining("missing \"data_offsets\"");
    }

    @Test
    void entryFieldsOfTheWrongType() {
        refused("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8).hasMessageContaining("\"dtype\" must be a string");
        refused("{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8).hasMessageContaining("\"shape\" must be an array");
        refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8).hasMessageContaining("non-negative integer");
        refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8).hasMessageContaining("[begin, end]");
        refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",8]}}", 8).hasMessageContaining("data_offsets begin");
        refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999],\"data_offsets\":[0,8]}}", 8).hasMessageContaining("99999999999");
    }

    @Test
    void unknownDtype() {
        refused("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8)
                .hasMessageContaining("unknown dtype \"Q7\"").hasMessageContaining("BF16");
    }

    @Test
    void negativeDimension() {
        refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8)
                .hasMessageContaining("dimension 0").hasMessageContaining("-2");
    }

    @Test
    void offsetsOutsideTheDataBuffer() {
        refused("{\"a\":" + F32_2.replace("[0,8]", "[4,12]") + "}", 8)
                .hasMessageContaining("[4, 12]").hasMessageContaining("data buffer of 8 bytes");
        refused("{\"a\":" + F32_2.replace("[0,8]", "[-1,7]") + "}", 8).hasMessageContaining("non-negative");
    }

    @Test
    void beginAfterEnd() {
        refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8).hasMessageContaining("begin > end");
    }

    @Test
    void sizeThatDoesNotMatchTheShapeSaysTheNumbers() {
        refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)
                .hasMessageContaining("needs 12 bytes").hasMessageContaining("span 8");
    }

    @Test
    void overlappingRangesNameBothTensors() {
        refused("{\"a\":" + F32_2 + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12)
                .hasMessageContaining("\"a\"").hasMessageContaining("\"b\"").hasMessageContaining("overlap");
        refused("{\"a\":" + F32_2 + ",\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8)
                .hasMessageContaining("\"a\"").hasMessageContaining("\"e\"").hasMessageContaining("overlap");
    }

    @Test
    void duplicateNames() {
        refused("{\"a\":" + F32_2 + ",\"a\":" + F32_2 + "}", 8).hasMessageContaining("Duplicate").hasMessageContaining("'a'");
    }

    @Test
    void holesInTheDataBufferAreRefusedAsTheReferenceImplementationDoes() {
        refused("{\"a\":" + F32_2 + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16)
                .hasMessageContaining("[8, 12)").hasMessageContaining("\"b\"").hasMessageContaining("fully covered");
        refused("{\"a\":" + F32_2 + "}", 12).hasMessageContaining("[8, 12)").hasMessageContaining("fully covered");
        refused("{}", 4).hasMessageContaining("[0, 4)");
    }

    @Test
    void metadataThatIsNotStringsToStrings() {
        refused("{\"__metadata__\":{\"n\":1}}", 0).hasMessageContaining("\"n\"").hasMessageContaining("NUMBER");
        refused("{\"__metadata__\":[]}", 0).hasMessageContaining("__metadata__ must be an object");
    }
}
