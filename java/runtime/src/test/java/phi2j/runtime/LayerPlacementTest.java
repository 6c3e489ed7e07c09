package phi2j.runtime;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Where the layers went, said in one line: counted as llama.cpp counts them (the output layer is one of them). */
class LayerPlacementTest {
    static LayerPlacement of(int onCpu, int onGpu, String output) {
        List<String> layers = new ArrayList<>(Collections.nCopies(onCpu, "CPU"));
        layers.addAll(Collections.nCopies(onGpu, "Vulkan0"));
        return new LayerPlacement(layers, output, layers, Map.of("Vulkan0", "llvmpipe (LLVM 15.0.6, 256 bits)", "CPU", "AMD EPYC"));
    }

    @Test
    void everyLayerOnTheGpuIsOneDeviceWithItsDescription() {
        LayerPlacement p = of(0, 32, "Vulkan0");
        assertTrue(p.offloaded());
        assertEquals(33, p.offloadedLayers());
        assertEquals("33/33 layers on Vulkan0 (llvmpipe (LLVM 15.0.6, 256 bits)), KV cache on Vulkan0", p.summary());
    }

    @Test
    void aSplitNamesEachDeviceTheOutputLayerAndTheKvCacheParts() {
        LayerPlacement p = of(12, 20, "Vulkan0");
        assertEquals(21, p.offloadedLayers());
        assertEquals("12/33 layers on CPU, 21/33 on Vulkan0 (llvmpipe (LLVM 15.0.6, 256 bits)), output layer on Vulkan0, "
                + "KV cache on CPU (12 layers) and Vulkan0 (20 layers)", p.summary());
    }

    @Test
    void allOnTheCpuIsNotOffloadedAndAnEngineThatCannotTellSaysSo() {
        LayerPlacement cpu = of(32, 0, "CPU");
        assertFalse(cpu.offloaded());
        assertEquals("33/33 layers on CPU, KV cache on CPU", cpu.summary());
        assertFalse(LayerPlacement.UNKNOWN.known());
        assertFalse(LayerPlacement.UNKNOWN.offloaded());
        assertEquals(0, LayerPlacement.UNKNOWN.totalLayers());
        assertEquals("layer placement not reported by this engine", LayerPlacement.UNKNOWN.summary());
    }
}
