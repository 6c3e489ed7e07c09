package phi2j.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** gpu-check.sh reads each verify result through GpuCheckReport: anything but a verdict is no result. */
class GpuCheckReportTest {
    @TempDir
    Path tmp;

    Path file(String json) throws IOException {
        return Files.writeString(tmp.resolve("verify-" + Math.abs(json.hashCode()) + ".json"), json);
    }

    @Test
    void aVerdictWithEveryLayerOnTheGpuIsAResult() throws IOException {
        assertNull(GpuCheckReport.problem(file("{\"verdict\": \"PASS\", \"offloadedLayers\": 33, \"totalLayers\": 33}"), true));
        assertNull(GpuCheckReport.problem(file("{\"verdict\": \"FAIL\", \"offloadedLayers\": 0, \"totalLayers\": 33}"), false));
    }

    @Test
    void aMissingEmptyOrVerdictlessFileIsNoResult() throws IOException {
        assertTrue(GpuCheckReport.problem(tmp.resolve("missing.json"), false).contains("missing or empty"));
        assertTrue(GpuCheckReport.problem(file(""), false).contains("missing or empty"));
        assertTrue(GpuCheckReport.problem(file("Exception in thread \"main\""), false).contains("not a phi2 verify"));
        assertTrue(GpuCheckReport.problem(file("{\"verdict\": \"\"}"), false).contains("no verdict"));
        assertTrue(GpuCheckReport.problem(file("{\"positions\": 3}"), false).contains("no verdict"));
    }

    @Test
    void onTheGpuALayerLeftOnTheCpuIsNoResult() throws IOException {
        String p = GpuCheckReport.problem(file("{\"verdict\": \"PASS\", \"offloadedLayers\": 20, \"totalLayers\": 33, "
                + "\"placement\": \"13/33 layers on CPU\"}"), true);
        assertTrue(p.contains("20/33") && p.contains("13/33 layers on CPU"), p);
        assertNotNull(GpuCheckReport.problem(file("{\"verdict\": \"PASS\"}"), true), "no placement in the file: no proof");
    }
}
