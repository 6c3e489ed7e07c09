package phi2j.runtime.internal;

import phi2j.runtime.EngineKind;
import phi2j.runtime.ModelOptions;

import java.nio.file.Path;
import java.util.List;

/**
 * What a runner loads a model with: the {@link ModelOptions} resolved for one model file (context and threads chosen,
 * enums as llama.cpp's values), made in one place ({@link #of}). It crosses the socket as JSON and, to the native
 * engine, JNI as itself: jni.cpp reads its fields by name (native/src/engine.h's PHI2J_ENGINE_PARAMS), so the names
 * here are the engine's.
 *
 * @param engine        NATIVE or BINDING (never AUTO: the caller has chosen)
 * @param engineLibrary the native engine's library file, or null (binding)
 * @param backendDir    the native engine's folder: a portable build's backend modules are loaded from there
 * @param allowCpuFallback gpuLayers with no GPU device runs on the CPU with a warning instead of failing
 */
public record EngineParams(String path, int contextSize, int threads, int gpuLayers, int splitMode, float[] tensorSplit, int mainGpu,
                           int batchSize, int parallel, int flashAttention, boolean embeddings, EngineKind engine, String engineLibrary,
                           String backendDir, int cacheRamMib, boolean allowCpuFallback) {

    /** The parameters for {@code model} with {@code options}, the context and threads already chosen. */
    public static EngineParams of(Path model, ModelOptions options, int contextSize, int threads, EngineKind engine, Path engineLibrary) {
        List<Float> split = options.tensorSplit();
        float[] tensorSplit = new float[split.size()];
        for (int i = 0; i < tensorSplit.length; i++) {
            tensorSplit[i] = split.get(i);
        }
        return new EngineParams(model.toAbsolutePath().toString(), contextSize, threads, options.gpuLayers(), options.splitMode().llamaValue(),
                tensorSplit, options.mainGpu(), options.batchSize(), options.parallel(), options.flashAttention().llamaValue(),
                options.embeddings(), engine, engineLibrary == null ? null : engineLibrary.toString(),
                engineLibrary == null ? null : engineLibrary.toAbsolutePath().getParent().toString(), options.cacheRamMib(),
                options.allowCpuFallback());
    }
}
