package phi2j.report;

import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.renderer.category.StatisticalBarRenderer;
import org.jfree.data.statistics.DefaultStatisticalCategoryDataset;
import phi2j.Phi2Exception;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Tokens/s per model and test as grouped bars with ± one standard deviation, written to PNG. */
public final class BenchChart {
    private BenchChart() {
    }

    /** One bar: a series (what ran), a category (the test), and its mean ± standard deviation. */
    public record Bar(String series, String category, double mean, double stddev) {
    }

    public static void write(List<Bar> bars, String title, Path png) {
        DefaultStatisticalCategoryDataset data = new DefaultStatisticalCategoryDataset();
        for (Bar b : bars) {
            data.add(b.mean(), b.stddev(), b.series(), b.category());
        }
        save(data, title, png);
    }

    /** Bars of tokens/s: for each series (a tool), each category (a test) with its samples' mean ± sd. */
    public static void bars(java.util.Map<String, java.util.Map<String, List<Double>>> samples, String title, Path png) {
        DefaultStatisticalCategoryDataset data = new DefaultStatisticalCategoryDataset();
        samples.forEach((series, tests) -> tests.forEach((test, v) -> {
            double mean = v.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
            double var = v.size() < 2 ? 0 : v.stream().mapToDouble(x -> (x - mean) * (x - mean)).sum() / (v.size() - 1);
            data.add(mean, Math.sqrt(var), series, test);
        }));
        save(data, title, png);
    }

    private static void save(DefaultStatisticalCategoryDataset data, String title, Path png) {
        System.setProperty("java.awt.headless", "true");
        CategoryPlot plot = new CategoryPlot(data, new CategoryAxis("test"), new NumberAxis("tokens/s"), new StatisticalBarRenderer());
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        Path tmp = png.toAbsolutePath().resolveSibling("." + png.getFileName() + ".tmp");
        try {
            ChartUtils.saveChartAsPNG(tmp.toFile(), chart, 1000, 600);
            Files.move(tmp, png, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the error below is the one that matters
            }
            throw new Phi2Exception("cannot write the chart " + png + ": " + e.getMessage(), e);
        }
    }
}
