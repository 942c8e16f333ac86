package jlisa.transformer.model;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.databind.JsonNode;
import jlisa.tensor.kernels.Rope;

/**
 * config.json's {@code rope_scaling}: how a model stretches RoPE past the context it was trained on, by changing
 * the inverse frequencies as HF's {@code ROPE_INIT_FUNCTIONS} do. Two kinds: {@code linear} (every frequency divided
 * by the factor) and {@code llama3} (Llama-3.1: low frequencies divided by the factor, high ones kept, a smooth
 * blend between). Others (dynamic, yarn, longrope) change the attention scale or depend on the sequence length and
 * are refused by name. The float32 arithmetic follows HF's step by step, so the tables match PyTorch's.
 *
 * <p>Immutable and thread-safe.
 */
public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositions) {

    public RopeScaling {
        if (!type.equals("linear") && !type.equals("llama3")) {
            throw new IllegalArgumentException("rope_scaling: type '" + type + "' is not supported (linear, llama3)");
        }
        if (!(factor >= 1) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException("rope_scaling: factor must be a finite number ≥ 1, got " + factor);
        }
        if (type.equals("llama3") && (!(highFreqFactor > lowFreqFactor) || !(lowFreqFactor > 0) || originalMaxPositions < 1)) {
            throw new IllegalArgumentException("rope_scaling llama3: expected 0 < low_freq_factor < high_freq_factor and "
                    + "original_max_position_embeddings ≥ 1, got " + lowFreqFactor + ", " + highFreqFactor + ", "
                    + originalMaxPositions);
        }
    }

    /** Linear scaling (position interpolation) by {@code factor}. */
    public static RopeScaling linear(double factor) { return new RopeScaling("linear", factor, 0, 0, 0); }

    /** Llama-3.1's scaling; its released configs use factor 8, low 1, high 4, original context 8192. */
    public static RopeScaling llama3(double factor, double low, double high, int originalMaxPositions) {
        return new RopeScaling("llama3", factor, low, high, originalMaxPositions);
    }

    /** The {@code rope_scaling} object of a config.json (key {@code rope_type}, or the older {@code type}); empty for "default". */
    static Optional<RopeScaling> from(JsonNode n, String source) {
        if (!n.isObject()) throw new IllegalArgumentException(source + ": rope_scaling must be an object, got " + n);
        JsonNode t = n.hasNonNull("rope_type") ? n.get("rope_type") : n.get("type");
        String type = t == null ? "<missing>" : t.asText();
        if (type.equals("default")) return Optional.empty();
        if (!type.equals("linear") && !type.equals("llama3")) {
            throw new IllegalArgumentException(source + ": rope_scaling type '" + type + "' is not supported (linear and "
                    + "llama3 are; dynamic, yarn and longrope change the attention scale or depend on the sequence length)");
        }
        double factor = number(n, "factor", source);
        if (type.equals("linear")) return Optional.of(linear(factor));
        return Optional.of(llama3(factor, number(n, "low_freq_factor", source), number(n, "high_freq_factor", source),
                (int) number(n, "original_max_position_embeddings", source)));
    }

    private static double number(JsonNode n, String key, String source) {
        JsonNode v = n.get(key);
        if (v == null || !v.isNumber()) {
            throw new IllegalArgumentException(source + ": rope_scaling field '" + key + "' must be a number, got " + v);
        }
        return v.asDouble();
    }

    /** The config.json object for this scaling. */
    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rope_type", type);
        m.put("factor", factor);
        if (type.equals("llama3")) {
            m.put("low_freq_factor", lowFreqFactor);
            m.put("high_freq_factor", highFreqFactor);
            m.put("original_max_position_embeddings", originalMaxPositions);
        }
        return m;
    }

    /** The scaled inverse frequencies of {@code plain} (HF's _compute_linear / _compute_llama3_parameters). */
    Rope.Frequencies apply(Rope.Frequencies plain) {
        float[] f = plain.f32().clone();
        double[] d = plain.f64().clone();
        float factorF = (float) factor;
        if (type.equals("linear")) {
            for (int i = 0; i < f.length; i++) {
                f[i] /= factorF;
                d[i] /= factor;
            }
            return new Rope.Frequencies(f, d);
        }
        float lowWavelen = (float) (originalMaxPositions / lowFreqFactor);
        float highWavelen = (float) (originalMaxPositions / highFreqFactor);
        float twoPi = (float) (2 * Math.PI), old = originalMaxPositions, low = (float) lowFreqFactor;
        float span = (float) (highFreqFactor - lowFreqFactor);
        for (int i = 0; i < f.length; i++) {
            float wavelen = twoPi / f[i];
            float scaled = wavelen > lowWavelen ? f[i] / factorF : f[i];
            if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {   // medium: blend the two
                float smooth = (old / wavelen - low) / span;
                scaled = (1 - smooth) * scaled / factorF + smooth * scaled;
            }
            f[i] = scaled;
            double wavelen64 = 2 * Math.PI / d[i], lowW = originalMaxPositions / lowFreqFactor;
            double highW = originalMaxPositions / highFreqFactor, scaled64 = wavelen64 > lowW ? d[i] / factor : d[i];
            if (!(wavelen64 < highW) && !(wavelen64 > lowW)) {
                double smooth = (originalMaxPositions / wavelen64 - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                scaled64 = (1 - smooth) * scaled64 / factor + smooth * scaled64;
            }
            d[i] = scaled64;
        }
        return new Rope.Frequencies(f, d);
    }
}
