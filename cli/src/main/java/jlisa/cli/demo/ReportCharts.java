package jlisa.cli.demo;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.BitmapEncoder.BitmapFormat;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.AxesChartStyler;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import jlisa.cli.demo.Report.MethodResult;

/** The report's two PNG charts, drawn with XChart; {@link Report} sets headless mode before this class loads. */
final class ReportCharts {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private ReportCharts() {}

    static final int WIDTH = 900;
    static final int HEIGHT = 540;

    /** Ledger kinds stacked in the memory chart, bottom to top, with their labels and colours. */
    private static final String[] STACK_KEYS = {"parameter", "gradient", "optimizer_state", "parked_state", "activation", "other"};
    private static final String[] STACK_LABELS = {"parameters", "gradients", "optimizer state", "parked state (host)",
        "activations", "other"};
    private static final Color[] STACK_COLORS = {new Color(0x4C72B0), new Color(0xDD8452), new Color(0xC44E52),
        new Color(0xE6A0A2), new Color(0x55A868), new Color(0x8C8C8C)};

    private static final Color[] PALETTE = {new Color(0x1F77B4), new Color(0xFF7F0E), new Color(0x2CA02C),
        new Color(0x9467BD), new Color(0x8C564B), new Color(0xE377C2), new Color(0x7F7F7F)};

    /** full, lora and lisa keep the same colour in every report; other names take the rest in order. */
    static Color colorOf(String method, int index) {
        return switch (method.toLowerCase(Locale.ROOT)) {
            case "full" -> PALETTE[0];
            case "lora" -> PALETTE[1];
            case "lisa" -> PALETTE[2];
            default -> PALETTE[3 + index % (PALETTE.length - 3)];
        };
    }

    /** Train loss per step as lines, eval loss as markers in the same colour; log y when the losses span 20× or more. */
    static byte[] lossPng(List<MethodResult> methods) throws IOException {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title("Fine-tuning loss (lines: train loss per step, dots: eval loss)")
                .xAxisTitle("step").yAxisTitle("cross-entropy loss (nats/token)").build();
        style(chart.getStyler());
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setMarkerSize(9);

        double min = Double.POSITIVE_INFINITY, max = 0;
        int series = 0;
        for (int i = 0; i < methods.size(); i++) {
            MethodResult m = methods.get(i);
            Color color = colorOf(m.name(), i);
            double[][] train = finitePositive(m.lossCurve());
            if (train[0].length > 0) {
                XYSeries s = chart.addSeries(m.name() + " train", train[0], train[1]);
                s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
                s.setMarker(SeriesMarkers.NONE);
                s.setLineColor(color);
                s.setLineWidth(1.6f);
                series++;
            }
            double[][] eval = finitePositive(m.evalCurve());
            if (eval[0].length > 0) {
                XYSeries s = chart.addSeries(m.name() + " eval", eval[0], eval[1]);
                s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
                s.setMarker(SeriesMarkers.CIRCLE);
                s.setMarkerColor(color.darker());
                series++;
            }
            for (double[][] c : new double[][][] {train, eval}) {
                for (double y : c[1]) { min = Math.min(min, y); max = Math.max(max, y); }
            }
        }
        if (series == 0) {
            XYSeries s = chart.addSeries("no loss recorded", new double[] {0}, new double[] {0});
            s.setMarker(SeriesMarkers.NONE);
        } else if (max / min >= 20) {
            // XChart labels only the decades of a log axis: worth it only when the losses span more than one
            chart.getStyler().setYAxisLogarithmic(true);
            chart.setYAxisTitle("cross-entropy loss (nats/token, log scale)");
        } else {
            chart.getStyler().setYAxisMin(0.0);
        }
        if (series > 0) chart.getStyler().setXAxisMin(0.0);  // the axis starts at step 0, not at the first logged step
        return BitmapEncoder.getBitmapBytes(chart, BitmapFormat.PNG);
    }

    /** One stacked bar per method: its peak bytes by ledger kind, in MiB; the label carries the measured total peak. */
    static byte[] memoryPng(List<MethodResult> methods) throws IOException {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
                .title("Peak memory by kind (stacked per-kind peaks; label: total peak)")
                .xAxisTitle("method").yAxisTitle("MiB").build();
        style(chart.getStyler());
        chart.getStyler().setStacked(true);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setAvailableSpaceFill(0.55);
        chart.getStyler().setOverlapped(false);
        chart.getStyler().setYAxisDecimalPattern("#,##0.##");
        chart.getStyler().setYAxisMin(0.0);

        List<String> labels = new ArrayList<>();
        for (MethodResult m : methods) {
            labels.add(String.format(Locale.ROOT, "%s (%s MiB)", m.name(), Report.mibText(m.peak("total"))));
        }
        if (labels.isEmpty()) labels.add("no methods");
        int series = 0;
        for (int k = 0; k < STACK_KEYS.length; k++) {
            String key = STACK_KEYS[k];
            List<Double> mib = new ArrayList<>();
            boolean any = false;
            for (MethodResult m : methods) {
                double v = Report.mib(m.peak(key));
                mib.add(v);
                any |= v > 0;
            }
            // parked state only appears when some method parks; the other kinds always, so colours stay put
            if (key.equals("parked_state") && !any) continue;
            if (methods.isEmpty()) mib.add(0.0);
            CategorySeries s = chart.addSeries(STACK_LABELS[k], labels, mib);
            s.setFillColor(STACK_COLORS[k]);
            series++;
        }
        assert series > 0;
        return BitmapEncoder.getBitmapBytes(chart, BitmapFormat.PNG);
    }

    private static void style(AxesChartStyler styler) {
        styler.setChartBackgroundColor(Color.WHITE);
        styler.setPlotBackgroundColor(Color.WHITE);
        styler.setPlotBorderVisible(true);
        styler.setPlotGridLinesColor(new Color(0xDDDDDD));
        styler.setPlotGridLinesStroke(new BasicStroke(1f));
        styler.setLegendBorderColor(new Color(0xBBBBBB));
        styler.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        styler.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        styler.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
        styler.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        styler.setChartTitleBoxVisible(false);
        styler.setToolTipsEnabled(false);
    }

    /** The (step, value) points with a finite step and a finite positive value (log axes need > 0), as {xs, ys}. */
    private static double[][] finitePositive(List<double[]> curve) {
        List<double[]> kept = new ArrayList<>();
        for (double[] p : curve) {
            if (p.length >= 2 && Double.isFinite(p[0]) && Double.isFinite(p[1]) && p[1] > 0) kept.add(p);
        }
        double[] xs = new double[kept.size()], ys = new double[kept.size()];
        for (int i = 0; i < kept.size(); i++) { xs[i] = kept.get(i)[0]; ys[i] = kept.get(i)[1]; }
        return new double[][] {xs, ys};
    }
}
