// JNI functions of phi2j.runtime.internal.NativeEngine. Each one catches everything: no C++ exception crosses into the
// JVM; failures become phi2j.runtime.internal.EngineException with the engine's error kind and field. Options arrive as
// the Java records themselves and are read field by field by name (engine.h's lists), not as long argument lists.
// Text crosses as UTF-8 byte arrays (JNI's "modified UTF-8" would mangle NUL and characters outside the BMP). Events
// of a decode run cross as one direct ByteBuffer over the engine's own buffer: one JNI call per batch.
#include "engine.h"

#include "llama.h"

#include <jni.h>

#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#ifndef PHI2J_LLAMA_CPP_VERSION
#define PHI2J_LLAMA_CPP_VERSION "unknown"
#endif
#ifndef PHI2J_LLAMA_CPP_COMMIT
#define PHI2J_LLAMA_CPP_COMMIT "unknown"
#endif

// Must equal PHI2J_ENGINE_ABI in cmake/versions.cmake and NativeEngine.ABI in Java.
static constexpr jint ENGINE_ABI = 6;

namespace {

struct Handle {
    std::unique_ptr<phi2j::Engine> engine;
    std::vector<uint8_t> events;
};

void throw_engine(JNIEnv * env, const phi2j::Error & err) {
    if (env->ExceptionCheck()) {
        return; // one pending exception at a time: the first one says what went wrong
    }
    jclass c = env->FindClass("phi2j/runtime/internal/EngineException");
    if (!c) {
        return; // NoClassDefFoundError is pending
    }
    jmethodID ctor = env->GetMethodID(c, "<init>", "(ILjava/lang/String;Ljava/lang/String;)V");
    if (!ctor) {
        return;
    }
    jstring field = err.field.empty() ? nullptr : env->NewStringUTF(err.field.c_str());
    jstring message = env->NewStringUTF(err.message.c_str());
    if (!message) {
        return;
    }
    if (jobject e = env->NewObject(c, ctor, (jint) err.kind, field, message)) {
        env->Throw(static_cast<jthrowable>(e));
    }
}

void throw_native(JNIEnv * env, const std::string & message) {
    throw_engine(env, phi2j::Error{phi2j::ErrorKind::NATIVE, "", message});
}

Handle * handle(JNIEnv * env, jlong h) {
    if (h == 0) {
        throw_native(env, "the engine is closed");
        return nullptr;
    }
    return reinterpret_cast<Handle *>(h);
}

bool bytes(JNIEnv * env, jbyteArray a, std::string & out) {
    if (!a) {
        throw_native(env, "null text");
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
        throw_native(env, "null token array");
        return false;
    }
    const jsize n = env->GetArrayLength(a);
    out.resize((size_t) n);
    if (n > 0) {
        env->GetIntArrayRegion(a, 0, n, reinterpret_cast<jint *>(out.data()));
    }
    return !env->ExceptionCheck();
}

jobjectArray strings(JNIEnv * env, const std::vector<std::string> & v) {
    jclass string_class = env->FindClass("java/lang/String");
    if (!string_class) return nullptr;
    jobjectArray a = env->NewObjectArray((jsize) v.size(), string_class, nullptr);
    for (jsize i = 0; a && i < (jsize) v.size(); i++) {
        jstring s = env->NewStringUTF(v[(size_t) i].c_str()); // ASCII: names, file names, loader messages
        if (!s) return nullptr;
        env->SetObjectArrayElement(a, i, s);
        env->DeleteLocalRef(s);
    }
    return a;
}

// --- reading a Java record's field by name, one reader per value type of engine.h ---
jfieldID field(JNIEnv * env, jobject o, const char * name, const char * sig) {
    jclass c = env->GetObjectClass(o);
    return c ? env->GetFieldID(c, name, sig) : nullptr; // NoSuchFieldError is pending when it is missing
}

bool read(JNIEnv * env, jobject o, const char * name, phi2j::Int & v) {
    jfieldID f = field(env, o, name, "I");
    if (f) v = env->GetIntField(o, f);
    return f != nullptr;
}

bool read(JNIEnv * env, jobject o, const char * name, phi2j::Float & v) {
    jfieldID f = field(env, o, name, "F");
    if (f) v = env->GetFloatField(o, f);
    return f != nullptr;
}

bool read(JNIEnv * env, jobject o, const char * name, phi2j::Bool & v) {
    jfieldID f = field(env, o, name, "Z");
    if (f) v = env->GetBooleanField(o, f) == JNI_TRUE;
    return f != nullptr;
}

bool read_string(JNIEnv * env, jstring s, std::string & v) {
    jclass c = env->GetObjectClass(s);
    jmethodID get_bytes = c ? env->GetMethodID(c, "getBytes", "(Ljava/lang/String;)[B") : nullptr;
    jstring utf8 = get_bytes ? env->NewStringUTF("UTF-8") : nullptr;
    if (!utf8) return false;
    auto a = static_cast<jbyteArray>(env->CallObjectMethod(s, get_bytes, utf8));
    const bool ok = a && !env->ExceptionCheck() && bytes(env, a, v);
    if (a) env->DeleteLocalRef(a);
    env->DeleteLocalRef(utf8);
    return ok;
}

bool read(JNIEnv * env, jobject o, const char * name, phi2j::String & v) {
    jfieldID f = field(env, o, name, "Ljava/lang/String;");
    if (!f) return false;
    auto s = static_cast<jstring>(env->GetObjectField(o, f));
    v.clear();
    return !s || read_string(env, s, v);
}

bool read(JNIEnv * env, jobject o, const char * name, phi2j::OptLong & v) {
    jfieldID f = field(env, o, name, "Ljava/lang/Long;");
    if (!f) return false;
    jobject boxed = env->GetObjectField(o, f);
    v.reset();
    if (!boxed) return true;
    jclass c = env->GetObjectClass(boxed);
    jmethodID m = c ? env->GetMethodID(c, "longValue", "()J") : nullptr;
    if (m) v = (int64_t) env->CallLongMethod(boxed, m);
    if (c) env->DeleteLocalRef(c);
    env->DeleteLocalRef(boxed);
    return m && !env->ExceptionCheck();
}

bool read(JNIEnv * env, jobject o, const char * name, phi2j::Floats & v) {
    jfieldID f = field(env, o, name, "[F");
    if (!f) return false;
    auto a = static_cast<jfloatArray>(env->GetObjectField(o, f));
    v.clear();
    if (!a) return true;
    const jsize n = env->GetArrayLength(a);
    v.resize((size_t) n);
    if (n > 0) env->GetFloatArrayRegion(a, 0, n, v.data());
    return !env->ExceptionCheck();
}

bool read(JNIEnv * env, jobject o, const char * name, phi2j::Strings & v) {
    jfieldID f = field(env, o, name, "Ljava/util/List;");
    if (!f) return false;
    jobject list = env->GetObjectField(o, f);
    v.clear();
    if (!list) return true;
    jclass c = env->FindClass("java/util/List");
    jmethodID size = c ? env->GetMethodID(c, "size", "()I") : nullptr;
    jmethodID get = c ? env->GetMethodID(c, "get", "(I)Ljava/lang/Object;") : nullptr;
    if (!size || !get) return false;
    const jint n = env->CallIntMethod(list, size);
    for (jint i = 0; i < n && !env->ExceptionCheck(); i++) {
        auto s = static_cast<jstring>(env->CallObjectMethod(list, get, i));
        std::string item;
        if (!s || !read_string(env, s, item)) return false;
        env->DeleteLocalRef(s);
        v.push_back(std::move(item));
    }
    return !env->ExceptionCheck();
}

#define PHI2J_READ(type, name) ok = ok && read(env, o, #name, out.name);

bool read_params(JNIEnv * env, jobject o, phi2j::ModelParams & out) {
    bool ok = o != nullptr;
    PHI2J_ENGINE_PARAMS(PHI2J_READ)
    return ok && !env->ExceptionCheck();
}

bool read_options(JNIEnv * env, jobject o, phi2j::GenerationOptions & out) {
    bool ok = o != nullptr;
    PHI2J_GENERATION_OPTIONS(PHI2J_READ)
    return ok && !env->ExceptionCheck();
}

#undef PHI2J_READ

// Runs `body`, turning any C++ exception into an EngineException.
template <typename R, typename F> R guarded(JNIEnv * env, R fallback, F body) {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        throw_native(env, "out of memory in the native engine");
    } catch (const std::exception & e) {
        throw_native(env, std::string("native engine error: ") + e.what());
    } catch (...) {
        throw_native(env, "unknown native engine error");
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

// The tables NativeEngine checks against its enums when it loads the engine: {stop reasons, error kinds, event kinds}.
JNIEXPORT jobjectArray JNICALL Java_phi2j_runtime_internal_NativeEngine_tables(JNIEnv * env, jclass) {
    return guarded<jobjectArray>(env, nullptr, [&]() -> jobjectArray {
        jclass array_class = env->FindClass("[Ljava/lang/String;");
        if (!array_class) return nullptr;
        jobjectArray out = env->NewObjectArray(3, array_class, nullptr);
        const std::vector<std::string> * tables[3] = {&phi2j::stop_reason_names(), &phi2j::error_kind_names(), &phi2j::event_kind_names()};
        for (jsize i = 0; out && i < 3; i++) {
            jobjectArray t = strings(env, *tables[i]);
            if (!t) return nullptr;
            env->SetObjectArrayElement(out, i, t);
        }
        return out;
    });
}

// The backends of the build in `dir` (loaded from there when they are modules, once per process), as a
// NativeEngine.Backends: (boolean modules, String cpuVariant, String[] registered, String[] failedFiles, String[] errors).
JNIEXPORT jobject JNICALL Java_phi2j_runtime_internal_NativeEngine_loadBackends(JNIEnv * env, jclass, jbyteArray dir) {
    return guarded<jobject>(env, nullptr, [&]() -> jobject {
        std::string d;
        if (!bytes(env, dir, d)) return nullptr;
        const phi2j::BackendLoad & r = phi2j::load_backends(d);
        jclass result_class = env->FindClass("phi2j/runtime/internal/NativeEngine$Backends");
        if (!result_class) return nullptr; // NoClassDefFoundError is pending
        jmethodID ctor = env->GetMethodID(result_class, "<init>",
                "(ZLjava/lang/String;[Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/String;)V");
        if (!ctor) return nullptr;
        jstring variant = env->NewStringUTF(r.cpu_variant.c_str());
        jobjectArray registered = strings(env, r.registered);
        jobjectArray files = strings(env, r.failed_files);
        jobjectArray errors = strings(env, r.failed_errors);
        if (!variant || !registered || !files || !errors) return nullptr;
        return env->NewObject(result_class, ctor, r.dynamic ? JNI_TRUE : JNI_FALSE, variant, registered, files, errors);
    });
}

// Loads the model that `params` (an EngineParams record) describes.
JNIEXPORT jlong JNICALL Java_phi2j_runtime_internal_NativeEngine_load(JNIEnv * env, jclass, jobject params) {
    return guarded<jlong>(env, 0, [&]() -> jlong {
        phi2j::ModelParams p;
        if (!read_params(env, params, p)) {
            if (!env->ExceptionCheck()) throw_native(env, "the engine parameters could not be read");
            return 0;
        }
        phi2j::Error err;
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

// The engine's sizes as a NativeEngine.Info record.
JNIEXPORT jobject JNICALL Java_phi2j_runtime_internal_NativeEngine_info(JNIEnv * env, jclass, jlong hh) {
    return guarded<jobject>(env, nullptr, [&]() -> jobject {
        Handle * h = handle(env, hh);
        if (!h) return nullptr;
        const phi2j::Info i = h->engine->info();
        jclass c = env->FindClass("phi2j/runtime/internal/NativeEngine$Info");
        jmethodID ctor = c ? env->GetMethodID(c, "<init>", "(IIIIIJJJ)V") : nullptr;
        return ctor ? env->NewObject(c, ctor, i.n_ctx, i.n_ctx_seq, i.n_parallel, i.n_vocab, i.eos, (jlong) i.model_us, (jlong) i.context_us,
                                     (jlong) i.warmup_us)
                    : nullptr;
    });
}

// Where the model went: {each repeating layer's device, {the output layer's}, each layer's KV cache, device names,
// their descriptions} (engine.h's Placement).
JNIEXPORT jobjectArray JNICALL Java_phi2j_runtime_internal_NativeEngine_placement(JNIEnv * env, jclass, jlong hh) {
    return guarded<jobjectArray>(env, nullptr, [&]() -> jobjectArray {
        Handle * h = handle(env, hh);
        if (!h) return nullptr;
        const phi2j::Placement & p = h->engine->placement();
        const std::vector<std::string> output = {p.output};
        const std::vector<std::string> * parts[5] = {&p.layers, &output, &p.kv, &p.device_names, &p.device_descriptions};
        jclass array_class = env->FindClass("[Ljava/lang/String;");
        if (!array_class) return nullptr;
        jobjectArray out = env->NewObjectArray(5, array_class, nullptr);
        for (jsize i = 0; out && i < 5; i++) {
            jobjectArray t = strings(env, *parts[i]);
            if (!t) return nullptr;
            env->SetObjectArrayElement(out, i, t);
            env->DeleteLocalRef(t);
        }
        return out;
    });
}

JNIEXPORT jintArray JNICALL Java_phi2j_runtime_internal_NativeEngine_tokenize(JNIEnv * env, jclass, jlong hh, jbyteArray text) {
    return guarded<jintArray>(env, nullptr, [&]() -> jintArray {
        Handle * h = handle(env, hh);
        std::string s;
        if (!h || !bytes(env, text, s)) return nullptr;
        std::vector<int32_t> tokens;
        phi2j::Error err;
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
        std::string out;
        phi2j::Error err;
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
        phi2j::Error err;
        if (!h->engine->embed(s, out, err)) {
            throw_engine(env, err);
            return nullptr;
        }
        jfloatArray a = env->NewFloatArray((jsize) out.size());
        if (a && !out.empty()) env->SetFloatArrayRegion(a, 0, (jsize) out.size(), out.data());
        return a;
    });
}

// Queues request `id`: its prompt tokens, its new-token budget, and its options (a GenerationOptions record).
JNIEXPORT void JNICALL Java_phi2j_runtime_internal_NativeEngine_submit(JNIEnv * env, jclass, jlong hh, jint id, jintArray prompt,
        jint max_new_tokens, jobject options) {
    guarded<int>(env, 0, [&] {
        Handle * h = handle(env, hh);
        std::vector<int32_t> tokens;
        if (!h || !ints(env, prompt, tokens)) return 0;
        phi2j::GenerationOptions o;
        if (!read_options(env, options, o)) {
            if (!env->ExceptionCheck()) throw_native(env, "the generation options could not be read");
            return 0;
        }
        phi2j::Error err;
        if (!h->engine->submit(id, tokens, max_new_tokens, o, err)) {
            throw_engine(env, err);
        }
        return 0;
    });
}

JNIEXPORT void JNICALL Java_phi2j_runtime_internal_NativeEngine_cancel(JNIEnv * env, jclass, jlong hh, jint id) {
    Handle * h = handle(env, hh);
    if (h) h->engine->cancel(id);
}

// {KV cells held by running requests, all KV cells}: thread-safe, read while the engine works.
JNIEXPORT jintArray JNICALL Java_phi2j_runtime_internal_NativeEngine_kvCells(JNIEnv * env, jclass, jlong hh) {
    Handle * h = handle(env, hh);
    if (!h) return nullptr;
    const jint v[2] = {h->engine->kv_cells_used(), h->engine->kv_cells()};
    jintArray a = env->NewIntArray(2);
    if (!a) return nullptr; // OutOfMemoryError pending
    env->SetIntArrayRegion(a, 0, 2, v);
    return a;
}

JNIEXPORT void JNICALL Java_phi2j_runtime_internal_NativeEngine_wake(JNIEnv * env, jclass, jlong hh) {
    Handle * h = handle(env, hh);
    if (h) h->engine->wake();
}

// True when a slot is idle (an embedding needs one).
JNIEXPORT jboolean JNICALL Java_phi2j_runtime_internal_NativeEngine_hasIdleSlot(JNIEnv * env, jclass, jlong hh) {
    Handle * h = handle(env, hh);
    return h && h->engine->has_idle_slot() ? JNI_TRUE : JNI_FALSE;
}

// The events of the decode steps up to the next boundary (Engine::run) as a direct buffer over the engine's
// memory, valid until the next call; null when nothing happened.
JNIEXPORT jobject JNICALL Java_phi2j_runtime_internal_NativeEngine_run(JNIEnv * env, jclass, jlong hh, jlong budget_ns) {
    return guarded<jobject>(env, nullptr, [&]() -> jobject {
        Handle * h = handle(env, hh);
        if (!h) return nullptr;
        if (!h->engine->run(h->events, budget_ns) || h->events.empty()) return nullptr;
        return env->NewDirectByteBuffer(h->events.data(), (jlong) h->events.size());
    });
}

} // extern "C"
