package phi2j.runtime;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where llama.cpp put an opened model: the device of each repeating layer, of the output layer, and of each layer's
 * KV cache, as its loader assigned them (the native engine reads llama.cpp's own per-layer records while it loads).
 * Device names are ggml's: "CPU", "Vulkan0", "CUDA0", "ROCm0". llama.cpp counts the output layer with the others, so
 * Phi-2 has 33 layers: "33/33 layers on CUDA0" is the whole model on the GPU.
 *
 * @param layers       each repeating layer's device, in order; empty when not known (the binding engine)
 * @param output       the output layer's device; empty when not known
 * @param kvCache      each layer's KV cache device
 * @param descriptions ggml's description of each device named here ("llvmpipe (LLVM 15.0.6, 256 bits)")
 */
public record LayerPlacement(List<String> layers, String output, List<String> kvCache, Map<String, String> descriptions) {
    /** What an engine that cannot tell reports (the de.kherud binding). */
    public static final LayerPlacement UNKNOWN = new LayerPlacement(List.of(), "", List.of(), Map.of());

    public LayerPlacement {
        layers = List.copyOf(layers);
        output = output == null ? "" : output;
        kvCache = List.copyOf(kvCache);
        descriptions = Map.copyOf(descriptions);
    }

    /** True when the engine said where each layer went. */
    public boolean known() {
        return !layers.isEmpty() && !output.isEmpty();
    }

    /** The layers as llama.cpp counts them: the repeating ones and the output layer. */
    public int totalLayers() {
        return known() ? layers.size() + 1 : 0;
    }

    /** Layers (output layer included) on each device, in the order the devices first hold one. */
    public Map<String, Integer> layersByDevice() {
        Map<String, Integer> by = new LinkedHashMap<>();
        for (String d : allLayers()) {
            by.merge(d, 1, Integer::sum);
        }
        return by;
    }

    /** Layers (output layer included) on a device other than the CPU. */
    public int offloadedLayers() {
        return (int) allLayers().stream().filter(d -> !d.equals("CPU")).count();
    }

    /** True when any layer or any part of the KV cache left the CPU. */
    public boolean offloaded() {
        return offloadedLayers() > 0 || kvCache.stream().anyMatch(d -> !d.equals("CPU"));
    }

    private List<String> allLayers() {
        List<String> all = new ArrayList<>(layers);
        if (!output.isEmpty()) {
            all.add(output);
        }
        return all;
    }

    /**
     * One line: "33/33 layers on Vulkan0 (llvmpipe (LLVM 15.0.6, 256 bits)), KV cache on Vulkan0", "20/33 layers on
     * CUDA0 (NVIDIA H100), 13/33 on CPU, output layer on CUDA0, KV cache on CUDA0 (20 layers) and CPU (12 layers)", or
     * "layer placement not reported by this engine".
     */
    public String summary() {
        if (!known()) {
            return "layer placement not reported by this engine";
        }
        int total = totalLayers();
        List<String> parts = new ArrayList<>();
        layersByDevice().forEach((dev, n) -> parts.add(n + "/" + total + (parts.isEmpty() ? " layers on " : " on ") + describe(dev)));
        StringBuilder s = new StringBuilder(String.join(", ", parts));
        if (layersByDevice().size() > 1) {
            s.append(", output layer on ").append(output);
        }
        Map<String, Integer> kv = new LinkedHashMap<>();
        kvCache.forEach(d -> kv.merge(d, 1, Integer::sum));
        s.append(", KV cache on ");
        if (kv.size() == 1) {
            s.append(kv.keySet().iterator().next());
        } else {
            List<String> kvParts = new ArrayList<>();
            kv.forEach((dev, n) -> kvParts.add(dev + " (" + n + " layers)"));
            s.append(String.join(" and ", kvParts));
        }
        return s.toString();
    }

    private String describe(String device) {
        String d = descriptions.getOrDefault(device, "");
        return device.equals("CPU") || d.isEmpty() ? device : device + " (" + d + ")";
    }
}
