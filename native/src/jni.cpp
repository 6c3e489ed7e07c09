// JNI functions of phi2j.runtime.internal.NativeEngine. Each one catches everything: no C++ exception crosses
// into the JVM; failures become phi2j.runtime.internal.EngineException. Text crosses as UTF-8 byte arrays (JNI's
// "modified UTF-8" would mangle NUL and characters outside the BMP). Events of a decode step cross as one direct
// ByteBuffer over the engine's own buffer: one JNI call per step, whatever the number of sequences.
#include "engine.h"

#include "llama.h"

#include <jni.h>

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#ifndef PHI2J_LLAMA_CPP_VERSION
#define PHI2J_LLAMA_CPP_VERSION "unknown"
#endif
#ifndef PHI2J_LLAMA_CPP_COMMIT
#define PHI2J_LLAMA_CPP_COMMIT "unknown"
#endif

// Must equal PHI2J_ENGINE_ABI in cmake/versions.cmake and NativeEngine.ABI in Java.
static constexpr jint ENGINE_ABI = 2;

namespace {

struct Handle {
    std::unique_ptr<phi2j::Engine> engine;
    std::vector<uint8_t> events;
};

void throw_engine(JNIEnv * env, const std::string & message) {
    if (env->ExceptionCheck()) {
        return; // one pending exception at a time: the first one says what went wrong
    }
    jclass c = env->FindClass("phi2j/runtime/internal/EngineException");
    if (!c) {
        env->ExceptionClear();
        c = env->FindClass("java/lang/IllegalStateException");
    }
    if (c) {
        env->ThrowNew(c, message.c_str());
    }
}

Handle * handle(JNIEnv * env, jlong h) {
    if (h == 0) {
        throw_engine(env, "the engine is closed");
        return nullptr;
    }
    return reinterpret_cast<Handle *>(h);
}

bool bytes(JNIEnv * env, jbyteArray a, std::string & out) {
    if (!a) {
        throw_engine(env, "null text");
        return false;
    }
    const jsize n = env->GetArrayLength(a);
    out.resize((size_t) n);
    if (n > 0) {
        env->GetByteArrayRegion(a, 0, n, reinterpret_cast<jbyte *>(&out[0]));
    }
    return !env->ExceptionCheck();
}

jbyteArray to_bytes(JNIEnv * env, const std::string & s) {
    jbyteArray a = env->NewByteArray((jsize) s.size());
    if (a && !s.empty()) {
        env->SetByteArrayRegion(a, 0, (jsize) s.size(), reinterpret_cast<const jbyte *>(s.data()));
    }
    return a;
}

bool ints(JNIEnv * env, jintArray a, std::vector<int32_t> & out) {
    if (!a) {
        throw_engine(env, "null token array");
        return false;
    }
    const jsize n = env->GetArrayLength(a);
    out.resize((size_t) n);
    if (n > 0) {
        env->GetIntArrayRegion(a, 0, n, reinterpret_cast<jint *>(out.data()));
    }
    return !env->ExceptionCheck();
}

// Runs `body`, turning any C++ exception into an EngineException.
template <typename R, typename F> R guarded(JNIEnv * env, R fallback, F body) {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        throw_engine(env, "out of memory in the native engine");
    } catch (const std::exception & e) {
        throw_engine(env, std::string("native engine error: ") + e.what());
    } catch (...) {
        throw_engine(env, "unknown native engine error");
    }
    return fallback;
}

} // namespace

extern "C" {

JNIEXPORT jint JNICALL Java_phi2j_runtime_internal_NativeEngine_abi(JNIEnv *, jclass) {
    return ENGINE_ABI;
}

JNIEXPORT jstring JNICALL Java_phi2j_runtime_internal_NativeEngine_llamaCppVersion(JNIEnv * env, jclass) {
    return env->NewStringUTF(PHI2J_LLAMA_CPP_VERSION);
}

JNIEXPORT jstring JNICALL Java_phi2j_runtime_internal_NativeEngine_llamaCppCommit(JNIEnv * env, jclass) {
    return env->NewStringUTF(PHI2J_LLAMA_CPP_COMMIT);
}

JNIEXPORT jstring JNICALL Java_phi2j_runtime_internal_NativeEngine_systemInfo0(JNIEnv * env, jclass) {
    return guarded<jstring>(env, nullptr, [&] { return env->NewStringUTF(llama_print_system_info()); });
}

// The backends of the build in `dir` (loaded from there when they are modules, once per process), as a
// NativeEngine.Backends: (boolean modules, String cpuVariant, String[] registered, String[] failedFiles, String[] errors).
JNIEXPORT jobject JNICALL Java_phi2j_runtime_internal_NativeEngine_loadBackends(JNIEnv * env, jclass, jbyteArray dir) {
    return guarded<jobject>(env, nullptr, [&]() -> jobject {
        std::string d;
        if (!bytes(env, dir, d)) return nullptr;
        const phi2j::BackendLoad & r = phi2j::load_backends(d);
        jclass string_class = env->FindClass("java/lang/String");
        jclass result_class = env->FindClass("phi2j/runtime/internal/NativeEngine$Backends");
        if (!string_class || !result_class) return nullptr; // NoClassDefFoundError is pending
        jmethodID ctor = env->GetMethodID(result_class, "<init>",
                "(ZLjava/lang/String;[Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/String;)V");
        if (!ctor) return nullptr;
        auto strings = [&](const std::vector<std::string> & v) -> jobjectArray {
            jobjectArray a = env->NewObjectArray((jsize) v.size(), string_class, nullptr);
            for (jsize i = 0; a && i < (jsize) v.size(); i++) {
                jstring s = env->NewStringUTF(v[(size_t) i].c_str()); // ASCII: backend names, file names, loader text
                if (!s) return nullptr;
                env->SetObjectArrayElement(a, i, s);
                env->DeleteLocalRef(s);
            }
            return a;
        };
        jstring variant = env->NewStringUTF(r.cpu_variant.c_str());
        jobjectArray registered = strings(r.registered);
        jobjectArray files = strings(r.failed_files);
        jobjectArray errors = strings(r.failed_errors);
        if (!variant || !registered || !files || !errors) return nullptr;
        return env->NewObject(result_class, ctor, r.dynamic ? JNI_TRUE : JNI_FALSE, variant, registered, files, errors);
    });
}

JNIEXPORT jlong JNICALL Java_phi2j_runtime_internal_NativeEngine_load(JNIEnv * env, jclass, jbyteArray path, jbyteArray backend_dir, jint n_ctx,
        jint n_threads, jint n_gpu_layers, jint split_mode, jfloatArray tensor_split, jint main_gpu, jint n_batch,
        jint n_ubatch, jint n_parallel, jint flash_attn, jboolean embeddings) {
    return guarded<jlong>(env, 0, [&]() -> jlong {
        phi2j::ModelParams p;
        if (!bytes(env, path, p.path) || !bytes(env, backend_dir, p.backend_dir)) return 0;
        p.n_ctx = n_ctx;
        p.n_threads = n_threads;
        p.n_gpu_layers = n_gpu_layers;
        p.split_mode = split_mode;
        if (tensor_split) {
            const jsize n = env->GetArrayLength(tensor_split);
            p.tensor_split.resize((size_t) n);
            if (n > 0) env->GetFloatArrayRegion(tensor_split, 0, n, p.tensor_split.data());
        }
        p.main_gpu = main_gpu;
        p.n_batch = n_batch;
        p.n_ubatch = n_ubatch;
        p.n_parallel = n_parallel;
        p.flash_attn = flash_attn;
        p.embeddings = embeddings == JNI_TRUE;
        std::string err;
        std::unique_ptr<Handle> h(new Handle());
        h->engine = phi2j::Engine::load(p, err);
        if (!h->engine) {
            throw_engine(env, err);
            return 0;
        }
        return reinterpret_cast<jlong>(h.release());
    });
}

JNIEXPORT void JNICALL Java_phi2j_runtime_internal_NativeEngine_free(JNIEnv * env, jclass, jlong h) {
    guarded<int>(env, 0, [&] {
        delete reinterpret_cast<Handle *>(h);
        return 0;
    });
}

// {n_ctx, n_ctx per sequence, parallel, vocabulary size, eos token}
JNIEXPORT jintArray JNICALL Java_phi2j_runtime_internal_NativeEngine_info(JNIEnv * env, jclass, jlong hh) {
    return guarded<jintArray>(env, nullptr, [&]() -> jintArray {
        Handle * h = handle(env, hh);
        if (!h) return nullptr;
        const jint v[5] = {h->engine->n_ctx(), h->engine->n_ctx_seq(), h->engine->n_parallel(), h->engine->n_vocab(), h->engine->eos()};
        jintArray a = env->NewIntArray(5);
        if (a) env->SetIntArrayRegion(a, 0, 5, v);
        return a;
    });
}

JNIEXPORT jintArray JNICALL Java_phi2j_runtime_internal_NativeEngine_tokenize(JNIEnv * env, jclass, jlong hh, jbyteArray text) {
    return guarded<jintArray>(env, nullptr, [&]() -> jintArray {
        Handle * h = handle(env, hh);
        std::string s;
        if (!h || !bytes(env, text, s)) return nullptr;
        std::vector<int32_t> tokens;
        std::string err;
        if (!h->engine->tokenize(s, tokens, err)) {
            throw_engine(env, err);
            return nullptr;
        }
        jintArray a = env->NewIntArray((jsize) tokens.size());
        if (a && !tokens.empty()) env->SetIntArrayRegion(a, 0, (jsize) tokens.size(), reinterpret_cast<const jint *>(tokens.data()));
        return a;
    });
}

JNIEXPORT jbyteArray JNICALL Java_phi2j_runtime_internal_NativeEngine_detokenize(JNIEnv * env, jclass, jlong hh, jintArray tokens) {
    return guarded<jbyteArray>(env, nullptr, [&]() -> jbyteArray {
        Handle * h = handle(env, hh);
        std::vector<int32_t> t;
        if (!h || !ints(env, tokens, t)) return nullptr;
        std::string out, err;
        if (!h->engine->detokenize(t, out, err)) {
            throw_engine(env, err);
            return nullptr;
        }
        return to_bytes(env, out);
    });
}

JNIEXPORT jfloatArray JNICALL Java_phi2j_runtime_internal_NativeEngine_embed(JNIEnv * env, jclass, jlong hh, jbyteArray text) {
    return guarded<jfloatArray>(env, nullptr, [&]() -> jfloatArray {
        Handle * h = handle(env, hh);
        std::string s;
        if (!h || !bytes(env, text, s)) return nullptr;
        std::vector<float> out;
        std::string err;
        if (!h->engine->embed(s, out, err)) {
            throw_engine(env, err);
            return nullptr;
        }
        jfloatArray a = env->NewFloatArray((jsize) out.size());
        if (a && !out.empty()) env->SetFloatArrayRegion(a, 0, (jsize) out.size(), out.data());
        return a;
    });
}

JNIEXPORT void JNICALL Java_phi2j_runtime_internal_NativeEngine_start(JNIEnv * env, jclass, jlong hh, jint slot, jintArray prompt,
        jfloat temperature, jint top_k, jfloat top_p, jfloat min_p, jfloat repeat_penalty, jint repeat_last_n, jlong seed,
        jint n_probs, jint max_new_tokens, jboolean ignore_eog, jboolean cache_prompt, jobjectArray stops, jint eog_stop) {
    guarded<int>(env, 0, [&] {
        Handle * h = handle(env, hh);
        std::vector<int32_t> tokens;
        if (!h || !ints(env, prompt, tokens)) return 0;
        phi2j::SamplingParams p;
        p.temperature = temperature;
        p.top_k = top_k;
        p.top_p = top_p;
        p.min_p = min_p;
        p.repeat_penalty = repeat_penalty;
        p.repeat_last_n = repeat_last_n;
        p.seed = seed < 0 ? 0xFFFFFFFFu : (uint32_t) seed;
        p.n_probs = n_probs;
        p.max_new_tokens = max_new_tokens;
        p.ignore_eog = ignore_eog == JNI_TRUE;
        p.cache_prompt = cache_prompt == JNI_TRUE;
        p.eog_stop = eog_stop;
        const jsize n = stops ? env->GetArrayLength(stops) : 0;
        for (jsize i = 0; i < n; i++) {
            auto a = static_cast<jbyteArray>(env->GetObjectArrayElement(stops, i));
            std::string s;
            const bool ok = bytes(env, a, s);
            env->DeleteLocalRef(a);
            if (!ok) return 0;
            p.stops.push_back(std::move(s));
        }
        std::string err;
        if (!h->engine->start(slot, tokens, p, err)) {
            throw_engine(env, err);
        }
        return 0;
    });
}

JNIEXPORT void JNICALL Java_phi2j_runtime_internal_NativeEngine_cancel(JNIEnv * env, jclass, jlong hh, jint slot) {
    Handle * h = handle(env, hh);
    if (h) h->engine->cancel(slot);
}

JNIEXPORT void JNICALL Java_phi2j_runtime_internal_NativeEngine_wake(JNIEnv * env, jclass, jlong hh) {
    Handle * h = handle(env, hh);
    if (h) h->engine->wake();
}

// The events of the decode steps up to the next boundary (Engine::run) as a direct buffer over the engine's
// memory, valid until the next call; null when no slot had anything to do.
JNIEXPORT jobject JNICALL Java_phi2j_runtime_internal_NativeEngine_run(JNIEnv * env, jclass, jlong hh, jlong budget_ns) {
    return guarded<jobject>(env, nullptr, [&]() -> jobject {
        Handle * h = handle(env, hh);
        if (!h) return nullptr;
        if (!h->engine->run(h->events, budget_ns) || h->events.empty()) return nullptr;
        return env->NewDirectByteBuffer(h->events.data(), (jlong) h->events.size());
    });
}

} // extern "C"
