package jlisa.cli.demo;

import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import jlisa.transformer.io.AtomicFiles;

/**
 * Runs over seeds summarised (mean, sample standard deviation, range), and the files of {@code jlisa bench lisa}:
 * {@code sweep.md}, {@code summary.json} and {@code sweep.png}.
 *
 * <p>Stateless; safe to call from any thread (two writers into one directory excepted).
 */
public final class Sweep {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Sweep() {}

    public static final String SWEEP_MD = "sweep.md", SWEEP_PNG = "sweep.png";

    /** Mean, sample standard deviation and range of one figure over seeds. */
    public record Spread(double mean, double std, double min, double max, int n) {
        public static Spread of(List<Double> values) {
            int n = values.size();
            if (n == 0) return new Spread(Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0);
            double sum = 0, min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
            for (double v : values) {
                sum += v;
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            double mean = sum / n, ss = 0;
            for (double v : values) ss += (v - mean) * (v - mean);
            return new Spread(mean, n > 1 ? Math.sqrt(ss / (n - 1)) : 0, min, max, n);
        }

        /** True when the two ranges over seeds do not overlap: only then is a difference called clear. */
        public boolean clearlyBelow(Spread other) { return max < other.min; }

        /** {@code 0.812 ± 0.021} (mean ± sample standard deviation). */
        public String text(String format) {
            if (n == 0 || !Double.isFinite(mean)) return "n/a";
            return String.format(Locale.ROOT, format, mean) + (n > 1 ? " ± " + String.format(Locale.ROOT, format, std) : "");
        }

        Map<String, Object> json() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mean", finite(mean));
            m.put("std", finite(std));
            m.put("min", finite(min));
            m.put("max", finite(max));
            m.put("n", n);
            return m;
        }
    }

    /**
     * One configuration's runs summarised. {@code drawRatios}: {@link Demo#pooledDrawRatios} pooled over the seeds'
     * loss curves; {@code pairedRatios}: the same of the loss over full fine-tuning's at the same step and seed (the
     * same batches), which cancels how hard each batch is — what the method adds around a draw, less batch noise.
     */
    public record Summary(String name, Spread evalLoss, Spread accuracy, Spread msPerStep, Spread peakTotal, double[] drawRatios,
                          double maxDrawRatio, double[] pairedRatios, double maxPairedRatio) {
        public static Summary of(String name, List<Demo.MethodRun> runs) { return of(name, runs, List.of()); }

        /** {@code reference}: full fine-tuning's runs (matched by seed), or empty. */
        public static Summary of(String name, List<Demo.MethodRun> runs, List<Demo.MethodRun> reference) {
            List<Double> loss = new ArrayList<>(), acc = new ArrayList<>(), ms = new ArrayList<>(), peak = new ArrayList<>();
            int k = runs.isEmpty() ? 0 : runs.get(0).drawRatios().length;
            List<List<double[]>> curves = new ArrayList<>(), paired = new ArrayList<>();
            for (Demo.MethodRun r : runs) {
                loss.add(r.evalLoss());
                acc.add(r.accuracy());
                ms.add(r.msPerStep());
                peak.add((double) r.peakTotal());
                curves.add(r.lossCurve());
                for (Demo.MethodRun f : reference) if (f.seed() == r.seed()) paired.add(Demo.lossOver(r, f));
            }
            double[] ratios = Demo.pooledDrawRatios(curves, k), pairedRatios = Demo.pooledDrawRatios(paired, k);
            return new Summary(name, Spread.of(loss), Spread.of(acc), Spread.of(ms), Spread.of(peak), ratios,
                    maxAfterDraw(ratios), pairedRatios, maxAfterDraw(pairedRatios));
        }
    }

    /** The largest ratio at offsets 1 … K − 1 (offset 0 is the loss before the new draw's first update). */
    static double maxAfterDraw(double[] ratios) {
        double max = Double.NaN;
        for (int o = 1; o < ratios.length; o++) max = Double.isNaN(max) ? ratios[o] : Math.max(max, ratios[o]);
        return max;
    }

    /** One run as a line: name, seed, eval loss, exact match, ms/step, peak MiB, the largest draw ratio after o = 0. */
    public static String line(Demo.MethodRun r) {
        double max = maxAfterDraw(r.drawRatios());
        return String.format(Locale.ROOT, "run %-36s seed=%d eval_loss=%.4f exact_match=%.3f ms_per_step=%.1f peak_mib=%.2f "
                        + "max_draw_ratio=%.4f", "'" + r.name() + "'", r.seed(), r.evalLoss(), r.accuracy(), r.msPerStep(),
                Report.mib(r.peakTotal()), max);
    }

    /** The sweep as a Markdown table, one row per configuration, means ± standard deviations over seeds. */
    public static String table(List<Demo.Method> methods, Map<String, List<Demo.MethodRun>> runs) {
        StringBuilder sb = new StringBuilder();
        sb.append("| method | seeds | eval loss | exact match | peak MiB | ms/step | max loss ratio after a draw "
                + "| the same, over full FT's loss |\n");
        sb.append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Demo.Method m : methods) {
            List<Demo.MethodRun> rs = runs.get(m.name());
            if (rs == null) continue;
            Summary s = Summary.of(m.name(), rs, runs.getOrDefault("full", List.of()));
            sb.append("| ").append(m.name()).append(" | ").append(s.evalLoss().n())
                    .append(" | ").append(s.evalLoss().text("%.4f"))
                    .append(" | ").append(pct(s.accuracy()))
                    .append(" | ").append(String.format(Locale.ROOT, "%.2f", Report.mib((long) s.peakTotal().mean())))
                    .append(" | ").append(s.msPerStep().text("%.1f"))
                    .append(" | ").append(ratio(s.maxDrawRatio()))
                    .append(" | ").append(m.kind().equals("full") ? "1" : ratio(s.maxPairedRatio()))
                    .append(" |\n");
        }
        return sb.toString();
    }

    private static String ratio(double r) { return Double.isFinite(r) ? String.format(Locale.ROOT, "%.3f", r) : "n/a"; }

    static String pct(Spread s) {
        if (s.n() == 0 || !Double.isFinite(s.mean())) return "n/a";
        return String.format(Locale.ROOT, "%.1f%%", 100 * s.mean())
                + (s.n() > 1 ? String.format(Locale.ROOT, " ± %.1f", 100 * s.std()) : "");
    }

    /** Writes sweep.md, summary.json and sweep.png into {@code dir}. */
    public static void write(Path dir, Demo.Settings settings, List<Demo.Method> methods, Map<String, List<Demo.MethodRun>> runs)
            throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("config", Demo.describe(settings));
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Demo.Method m : methods) {
            List<Demo.MethodRun> rs = runs.get(m.name());
            if (rs == null) continue;
            Summary s = Summary.of(m.name(), rs, runs.getOrDefault("full", List.of()));
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("name", m.name());
            row.put("kind", m.kind());
            row.put("lr", m.lr());
            if (m.lisa() != null) {
                row.put("gamma", m.lisa().gamma());
                row.put("period", m.lisa().period());
                row.put("policy", m.lisa().policy().name().toLowerCase(Locale.ROOT));
                row.put("sampling", Demo.samplingName(m.lisa().sampling()));
                row.put("warmup", m.lisa().warmup());
            }
            row.put("eval_loss", s.evalLoss().json());
            row.put("accuracy", s.accuracy().json());
            row.put("ms_per_step", s.msPerStep().json());
            row.put("peak_total_bytes", s.peakTotal().json());
            row.put("draw_ratios", finite(s.drawRatios()));
            row.put("draw_ratios_over_full", finite(s.pairedRatios()));
            row.put("seeds", seedRows(rs));
            rows.add(row);
        }
        root.put("configurations", rows);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        AtomicFiles.write(dir.resolve(Report.SUMMARY_JSON), json.writeValueAsBytes(root));
        String md = "# jlisa bench lisa\n\nMeans ± sample standard deviations over seeds " + settings.finetuneSeeds()
                + ". 'Max loss ratio after a draw': the largest, over offsets 1 … K − 1 within a period, of the training loss "
                + "over the mean of the three steps before the period began, pooled over the periods and seeds (a ratio of sums); 'the same, over full "
                + "FT's loss' computes it on the ratio of the loss to full fine-tuning's at the same step and seed (the same "
                + "batches), which cancels how hard each batch is.\n\n"
                + table(methods, runs) + "\n![eval loss and peak memory against γ and K](" + SWEEP_PNG + ")\n";
        AtomicFiles.write(dir.resolve(SWEEP_MD), md.getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(dir.resolve(SWEEP_PNG), chart(methods, runs));
    }

    /** Per-seed rows of summary.json. */
    static List<Map<String, Object>> seedRows(List<Demo.MethodRun> rs) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Demo.MethodRun r : rs) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("seed", r.seed());
            m.put("eval_loss", finite(r.evalLoss()));
            m.put("accuracy", finite(r.accuracy()));
            m.put("ms_per_step", finite(r.msPerStep()));
            m.put("peak_total_bytes", r.peakTotal());
            m.put("draw_ratios", finite(r.drawRatios()));
            out.add(m);
        }
        return out;
    }

    /** Eval loss (left) and peak MiB (right) of each LISA configuration against K, one series per γ; baselines as lines. */
    static byte[] chart(List<Demo.Method> methods, Map<String, List<Demo.MethodRun>> runs) throws IOException {
        XYChart loss = new XYChartBuilder().width(ReportCharts.WIDTH / 2).height(ReportCharts.HEIGHT).title("eval loss vs K")
                .xAxisTitle("K (steps between draws)").yAxisTitle("eval loss (mean over seeds)").build();
        XYChart mem = new XYChartBuilder().width(ReportCharts.WIDTH / 2).height(ReportCharts.HEIGHT).title("peak memory vs γ")
                .xAxisTitle("γ (layers active)").yAxisTitle("peak MiB (mean over seeds)").build();
        Map<String, List<double[]>> byGamma = new LinkedHashMap<>(), byPolicy = new LinkedHashMap<>();
        double minK = Double.POSITIVE_INFINITY, maxK = Double.NEGATIVE_INFINITY, minG = minK, maxG = maxK;
        for (Demo.Method m : methods) {
            List<Demo.MethodRun> rs = runs.get(m.name());
            if (rs == null || m.lisa() == null) continue;
            Summary s = Summary.of(m.name(), rs);
            String rest = m.lisa().policy().name().toLowerCase(Locale.ROOT) + " " + Demo.samplingName(m.lisa().sampling())
                    + (m.lisa().warmup() > 0 ? " w" + m.lisa().warmup() : "");
            byGamma.computeIfAbsent("γ=" + m.lisa().gamma() + " " + rest, k -> new ArrayList<>())
                    .add(new double[] {m.lisa().period(), s.evalLoss().mean()});
            byPolicy.computeIfAbsent("K=" + m.lisa().period() + " " + rest, k -> new ArrayList<>())
                    .add(new double[] {m.lisa().gamma(), Report.mib((long) s.peakTotal().mean())});
            minK = Math.min(minK, m.lisa().period());
            maxK = Math.max(maxK, m.lisa().period());
            minG = Math.min(minG, m.lisa().gamma());
            maxG = Math.max(maxG, m.lisa().gamma());
        }
        addSeries(loss, byGamma);
        addSeries(mem, byPolicy);
        int i = 0;
        for (Demo.Method m : methods) {
            List<Demo.MethodRun> rs = runs.get(m.name());
            if (rs == null || m.lisa() != null || !Double.isFinite(minK)) continue;
            Summary s = Summary.of(m.name(), rs);
            Color c = ReportCharts.colorOf(m.name(), i++);
            horizontal(loss, m.name(), minK, maxK, s.evalLoss().mean(), c);
            horizontal(mem, m.name(), minG, maxG, Report.mib((long) s.peakTotal().mean()), c);
        }
        if (loss.getSeriesMap().isEmpty()) loss.addSeries("no LISA runs", new double[] {0}, new double[] {0});
        if (mem.getSeriesMap().isEmpty()) mem.addSeries("no LISA runs", new double[] {0}, new double[] {0});
        java.awt.image.BufferedImage a = BitmapEncoder.getBufferedImage(loss), b = BitmapEncoder.getBufferedImage(mem);
        java.awt.image.BufferedImage both = new java.awt.image.BufferedImage(a.getWidth() + b.getWidth(),
                Math.max(a.getHeight(), b.getHeight()), java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = both.createGraphics();
        g.drawImage(a, 0, 0, null);
        g.drawImage(b, a.getWidth(), 0, null);
        g.dispose();
        java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(both, "png", png);
        return png.toByteArray();
    }

    private static void addSeries(XYChart chart, Map<String, List<double[]>> series) {
        series.forEach((name, pts) -> {
            pts.sort(java.util.Comparator.comparingDouble(p -> p[0]));
            double[] x = new double[pts.size()], y = new double[pts.size()];
            for (int j = 0; j < x.length; j++) {
                x[j] = pts.get(j)[0];
                y[j] = pts.get(j)[1];
            }
            chart.addSeries(name, x, y).setMarker(SeriesMarkers.CIRCLE);
        });
    }

    private static void horizontal(XYChart chart, String name, double x0, double x1, double y, Color c) {
        if (!Double.isFinite(y)) return;
        XYSeries s = chart.addSeries(name, new double[] {x0, x1 > x0 ? x1 : x0 + 1}, new double[] {y, y});
        s.setMarker(SeriesMarkers.NONE);
        s.setLineColor(c);
    }

    static Object finite(double v) { return Double.isFinite(v) ? v : null; }

    static List<Object> finite(double[] v) {
        List<Object> out = new ArrayList<>();
        for (double x : v) out.add(finite(x));
        return out;
    }
}
