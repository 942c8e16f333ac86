package jlisa.cli.demo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import jlisa.tensor.MemoryKind;
import jlisa.transformer.io.AtomicFiles;

/**
 * The demo's results on disk: {@code summary.json}, {@code loss.png}, {@code memory.png} and
 * {@code report.md} in a directory the caller names (e.g. {@code runs/20250101-120000/}), plus the
 * Markdown table for the console. Every file is written to a temporary name and renamed into place,
 * so a reader never sees half a file.
 *
 * <p>Stateless; safe to call from any thread (two writers into one directory excepted).
 */
public final class Report {
    static {
        // before any XChart / AWT class loads: charts render to PNG bytes, never to a display
        System.setProperty("java.awt.headless", "true");
    }

    private Report() {}

    public static final String SUMMARY_JSON = "summary.json";
    public static final String LOSS_PNG = "loss.png";
    public static final String MEMORY_PNG = "memory.png";
    public static final String REPORT_MD = "report.md";

    /** The keys of {@link MethodResult#peakBytes()}: {@code total} and the ledger kinds in lower case. */
    public static final List<String> PEAK_KEYS = List.of("total", "parameter", "gradient", "optimizer_state",
            "activation", "parked_state", "other");

    /**
     * One fine-tuning method's results.
     *
     * @param name            "full", "lora", "lisa" (other names are drawn and tabled too, but not compared)
     * @param trainableParams parameters the optimizer updates (for LISA, as the caller counts them)
     * @param peakBytes       peak bytes by {@link #PEAK_KEYS}; a missing kind counts as 0, a missing total as
     *                        the sum of the kinds (an upper bound: kinds peak at different moments)
     * @param msPerStep       mean wall time of one training step
     * @param evalLoss        final eval loss (nats/token)
     * @param accuracy        exact-match accuracy on the held-out task, 0..1
     * @param lossCurve       (step, train loss) points
     * @param evalCurve       (step, eval loss) points
     */
    public record MethodResult(String name, long trainableParams, Map<String, Long> peakBytes, double msPerStep,
                               double evalLoss, double accuracy, List<double[]> lossCurve, List<double[]> evalCurve,
                               List<Demo.MethodRun> seedRuns) {
        /** One run's results (no per-seed runs). */
        public MethodResult(String name, long trainableParams, Map<String, Long> peakBytes, double msPerStep, double evalLoss,
                            double accuracy, List<double[]> lossCurve, List<double[]> evalCurve) {
            this(name, trainableParams, peakBytes, msPerStep, evalLoss, accuracy, lossCurve, evalCurve, List.of());
        }

        /**
         * The means over seeds of {@code runs} (one method's): peak bytes by kind, ms/step, eval loss, accuracy, and
         * the curves point by point; the runs themselves are kept for their spread.
         */
        public static MethodResult meanOf(List<Demo.MethodRun> runs) {
            if (runs.isEmpty()) throw new IllegalArgumentException("meanOf: no runs");
            Demo.MethodRun first = runs.get(0);
            long[] byKind = new long[MemoryKind.values().length];
            long total = 0;
            double ms = 0, loss = 0, acc = 0;
            for (Demo.MethodRun r : runs) {
                for (MemoryKind k : MemoryKind.values()) byKind[k.ordinal()] += r.peakBytes().get(k) / runs.size();
                total += r.peakTotal() / runs.size();
                ms += r.msPerStep() / runs.size();
                loss += r.evalLoss() / runs.size();
                acc += r.accuracy() / runs.size();
            }
            return new MethodResult(first.name(), first.trainableParams(), Report.peakBytes(total, byKind), ms, loss, acc,
                    meanCurve(runs, true), meanCurve(runs, false), runs);
        }

        private static List<double[]> meanCurve(List<Demo.MethodRun> runs, boolean train) {
            List<double[]> out = new ArrayList<>();
            int n = Integer.MAX_VALUE;
            for (Demo.MethodRun r : runs) n = Math.min(n, (train ? r.lossCurve() : r.evalCurve()).size());
            for (int i = 0; i < n; i++) {
                double step = 0, v = 0;
                for (Demo.MethodRun r : runs) {
                    double[] p = (train ? r.lossCurve() : r.evalCurve()).get(i);
                    step = p[0];
                    v += p[1] / runs.size();
                }
                out.add(new double[] {step, v});
            }
            return out;
        }

        public MethodResult {
            seedRuns = List.copyOf(seedRuns);
            Objects.requireNonNull(name, "name");
            for (String key : peakBytes.keySet()) {
                if (!PEAK_KEYS.contains(key)) {
                    throw new IllegalArgumentException("peakBytes of '" + name + "': expected keys among " + PEAK_KEYS
                            + ", got '" + key + "'");
                }
            }
            Map<String, Long> peaks = new LinkedHashMap<>();
            long sum = 0;
            for (String key : PEAK_KEYS.subList(1, PEAK_KEYS.size())) {
                long v = peakBytes.getOrDefault(key, 0L);
                peaks.put(key, v);
                sum += v;
            }
            peaks.put("total", peakBytes.getOrDefault("total", sum));
            peakBytes = java.util.Collections.unmodifiableMap(peaks);
            lossCurve = copy(lossCurve);
            evalCurve = copy(evalCurve);
        }

        /** Peak bytes of one of {@link #PEAK_KEYS}. */
        public long peak(String key) {
            Long v = peakBytes.get(key);
            if (v == null) throw new IllegalArgumentException("peak: expected one of " + PEAK_KEYS + ", got '" + key + "'");
            return v;
        }

        private static List<double[]> copy(List<double[]> curve) {
            List<double[]> out = new ArrayList<>();
            if (curve != null) for (double[] p : curve) out.add(p.clone());
            return List.copyOf(out);
        }
    }

    /**
     * The {@code peakBytes} map from ledger figures: {@code byKind} indexed by {@link MemoryKind#ordinal()}
     * (as {@code MemoryLedger.peak(kind)} per kind gives them) and the measured total peak.
     */
    public static Map<String, Long> peakBytes(long total, long[] byKind) {
        if (byKind.length != MemoryKind.values().length) {
            throw new IllegalArgumentException("peakBytes: expected " + MemoryKind.values().length
                    + " kinds (one per MemoryKind), got " + byKind.length);
        }
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("total", total);
        for (MemoryKind k : MemoryKind.values()) m.put(k.name().toLowerCase(Locale.ROOT), byKind[k.ordinal()]);
        return m;
    }

    /** Writes the four report files into {@code dir} (created if absent); returns {@code dir}. */
    public static Path write(Path dir, Map<String, Object> config, List<MethodResult> methods) throws IOException {
        return write(dir, config, methods, List.of());
    }

    /**
     * As {@link #write(Path, Map, List)}, with {@code notes}: paragraphs the caller adds to report.md
     * (e.g. the task changed, or the machine was busy) and to summary.json.
     */
    public static Path write(Path dir, Map<String, Object> config, List<MethodResult> methods, List<String> notes)
            throws IOException {
        Files.createDirectories(dir);
        String created = OffsetDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
        List<String> observations = observations(methods);
        AtomicFiles.write(dir.resolve(LOSS_PNG), ReportCharts.lossPng(methods));
        AtomicFiles.write(dir.resolve(MEMORY_PNG), ReportCharts.memoryPng(methods));
        AtomicFiles.write(dir.resolve(SUMMARY_JSON), summaryJson(created, config, methods, observations, notes));
        AtomicFiles.write(dir.resolve(REPORT_MD),
                markdown(created, config, methods, observations, notes).getBytes(StandardCharsets.UTF_8));
        return dir;
    }

    /**
     * The results as a Markdown table: method, trainable parameters, peak MiB by kind and in total,
     * ms/step, eval loss, exact-match accuracy. A parked-state column appears only when some method parks.
     */
    public static String table(List<MethodResult> methods) {
        boolean parked = methods.stream().anyMatch(m -> m.peak("parked_state") > 0);
        StringBuilder sb = new StringBuilder();
        sb.append("| method | trainable params | parameters MiB | gradients MiB | optimizer state MiB | ");
        if (parked) sb.append("parked state MiB | ");
        sb.append("activations MiB | other MiB | peak total MiB | ms/step | eval loss | exact match |\n");
        sb.append("|---|---:|---:|---:|---:|");
        if (parked) sb.append("---:|");
        sb.append("---:|---:|---:|---:|---:|---:|\n");
        for (MethodResult m : methods) {
            sb.append("| ").append(m.name()).append(" | ").append(String.format(Locale.ROOT, "%,d", m.trainableParams()));
            for (String key : new String[] {"parameter", "gradient", "optimizer_state"}) {
                sb.append(" | ").append(mibText(m.peak(key)));
            }
            if (parked) sb.append(" | ").append(mibText(m.peak("parked_state")));
            for (String key : new String[] {"activation", "other", "total"}) {
                sb.append(" | ").append(mibText(m.peak(key)));
            }
            sb.append(" | ").append(number(m.msPerStep(), "%.1f"));
            if (m.seedRuns().size() > 1) {   // means ± standard deviations over seeds
                Sweep.Summary spread = Sweep.Summary.of(m.name(), m.seedRuns());
                sb.append(" | ").append(spread.evalLoss().text("%.4f"));
                sb.append(" | ").append(Sweep.pct(spread.accuracy()));
            } else {
                sb.append(" | ").append(number(m.evalLoss(), "%.4f"));
                sb.append(" | ").append(Double.isFinite(m.accuracy())
                        ? String.format(Locale.ROOT, "%.1f%%", 100 * m.accuracy()) : "n/a");
            }
            sb.append(" |\n");
        }
        return sb.toString();
    }

    /** Plain-language findings computed from the numbers; a result against the paper's claim is said as such. */
    static List<String> observations(List<MethodResult> methods) {
        MethodResult full = find(methods, "full"), lora = find(methods, "lora"), lisa = find(methods, "lisa");
        List<String> out = new ArrayList<>();
        if (lisa != null && full != null) {
            out.add(ReportText.peakVersus(lisa, full, "LISA", "full fine-tuning", true));
            out.add(ReportText.gradientAndState(lisa, full));
        }
        if (lora != null && full != null) out.add(ReportText.peakVersus(lora, full, "LoRA", "full fine-tuning", true));
        if (lisa != null && lora != null) {
            out.add(ReportText.peakVersus(lisa, lora, "LISA", "LoRA", false));
            out.add(ReportText.evalLoss(lisa, lora, "LoRA"));
        }
        if (lisa != null && full != null) out.add(ReportText.evalLoss(lisa, full, "full fine-tuning"));
        if (lisa != null && (lora != null || full != null)) out.add(ReportText.accuracy(lisa, lora, full));
        if (lisa != null && full != null) out.add(ReportText.speed(lisa, full));
        if (lisa != null) out.add(ReportText.drawJump(lisa, full, lora));
        if (lisa != null && lora != null) out.add(ReportText.verdict(lisa, lora, full));
        if (out.isEmpty() && !methods.isEmpty()) {
            out.add("No comparison: the report compares methods named full, lora and lisa, and this run had "
                    + methods.stream().map(MethodResult::name).toList() + ".");
        }
        out.removeIf(Objects::isNull);
        return out;
    }

    private static MethodResult find(List<MethodResult> methods, String name) {
        for (MethodResult m : methods) if (m.name().equalsIgnoreCase(name)) return m;
        return null;
    }

    private static byte[] summaryJson(String created, Map<String, Object> config, List<MethodResult> methods,
                                      List<String> observations, List<String> notes) throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("created", created);
        root.put("config", config);
        List<Map<String, Object>> rows = new ArrayList<>();
        List<Demo.MethodRun> fullRuns = methods.stream().filter(x -> x.name().equals("full")).findFirst()
                .map(MethodResult::seedRuns).orElse(List.of());
        for (MethodResult m : methods) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("name", m.name());
            row.put("trainable_params", m.trainableParams());
            row.put("peak_bytes", m.peakBytes());
            row.put("ms_per_step", finiteOrNull(m.msPerStep()));
            row.put("eval_loss", finiteOrNull(m.evalLoss()));
            row.put("accuracy", finiteOrNull(m.accuracy()));
            row.put("loss_curve", curve(m.lossCurve()));
            row.put("eval_curve", curve(m.evalCurve()));
            if (!m.seedRuns().isEmpty()) {
                Sweep.Summary sum = Sweep.Summary.of(m.name(), m.seedRuns(), fullRuns);
                Map<String, Object> spread = new LinkedHashMap<>();
                spread.put("eval_loss", sum.evalLoss().json());
                spread.put("accuracy", sum.accuracy().json());
                spread.put("ms_per_step", sum.msPerStep().json());
                spread.put("peak_total_bytes", sum.peakTotal().json());
                row.put("spread", spread);
                row.put("draw_ratios", Sweep.finite(sum.drawRatios()));
                row.put("draw_ratios_over_full", Sweep.finite(sum.pairedRatios()));
                row.put("per_seed", Sweep.seedRows(m.seedRuns()));
            }
            rows.add(row);
        }
        root.put("methods", rows);
        root.put("observations", observations);
        if (!notes.isEmpty()) root.put("notes", notes);
        root.put("files", Map.of("report", REPORT_MD, "loss_chart", LOSS_PNG, "memory_chart", MEMORY_PNG));
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        return json.writeValueAsBytes(root);
    }

    private static List<List<Object>> curve(List<double[]> points) {
        List<List<Object>> out = new ArrayList<>();
        for (double[] p : points) {
            List<Object> pair = new ArrayList<>();
            for (double v : p) pair.add(finiteOrNull(v));
            out.add(pair);
        }
        return out;
    }

    /** JSON has no NaN or infinity: those become null. */
    private static Double finiteOrNull(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static String markdown(String created, Map<String, Object> config, List<MethodResult> methods,
                                   List<String> observations, List<String> notes) {
        StringBuilder sb = new StringBuilder();
        sb.append("# jlisa demo: full fine-tuning, LoRA and LISA\n\n");
        sb.append("Written ").append(created).append(" by `jlisa demo`.\n\n");
        sb.append("## What was run\n\n");
        if (config.isEmpty()) {
            sb.append("(no settings recorded)\n\n");
        } else {
            sb.append("| setting | value |\n|---|---|\n");
            config.forEach((k, v) -> sb.append("| ").append(cell(k)).append(" | ").append(cell(String.valueOf(v)))
                    .append(" |\n"));
            sb.append('\n');
        }
        sb.append("## Results\n\n");
        sb.append(table(methods)).append('\n');
        sb.append("Peak MiB by kind are each kind's own peak during fine-tuning; the total is the peak of the sum, "
                + "so it can be below the sum of the kinds. Exact match: the share of held-out prompts whose "
                + "generated answer equals the reference exactly.\n\n");
        sb.append("## Observations\n\n");
        for (String o : observations) sb.append("- ").append(o).append('\n');
        if (observations.isEmpty()) sb.append("- No results to compare.\n");
        sb.append('\n');
        if (!notes.isEmpty()) {
            sb.append("## Notes\n\n");
            for (String n : notes) sb.append(n.strip()).append("\n\n");
        }
        sb.append("## Loss curves\n\n");
        sb.append("![Train loss per step (lines) and eval loss (dots) of each method](").append(LOSS_PNG).append(")\n\n");
        sb.append("## Peak memory by kind\n\n");
        sb.append("![Peak memory by ledger kind, stacked per method, MiB](").append(MEMORY_PNG).append(")\n\n");
        sb.append("Numbers, curves included: [").append(SUMMARY_JSON).append("](").append(SUMMARY_JSON).append(").\n");
        return sb.toString();
    }

    private static String cell(String s) {
        return s.replace("|", "\\|").replace("\n", " ");
    }

    private static String number(double v, String format) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, format, v) : "n/a";
    }

    static double mib(long bytes) {
        return bytes / (1024.0 * 1024.0);
    }

    /** MiB with two decimals, three for figures under 1 MiB so small demo models do not read as zero. */
    static String mibText(long bytes) {
        double m = mib(bytes);
        return String.format(Locale.ROOT, m != 0 && m < 1 ? "%.3f" : "%,.2f", m);
    }
}
