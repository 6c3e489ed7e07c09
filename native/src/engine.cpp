#include "engine.h"

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"
#include "json-schema-to-grammar.h" // llama.cpp's common/: its JSON-schema-to-GBNF converter

#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <type_traits>

namespace phi2j {

namespace {

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// --- the event buffer's little-endian encoding (x86-64 and aarch64 are little-endian; memcpy keeps it exact) ---
template <typename T> void put(std::vector<uint8_t> & out, T v) {
    static_assert(std::is_trivially_copyable<T>::value, "plain values only");
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_bytes(std::vector<uint8_t> & out, const std::string & s) {
    put<int32_t>(out, (int32_t) s.size());
    out.insert(out.end(), s.begin(), s.end());
}

// Bytes at the end of s[0, n) that start a UTF-8 character not yet complete: held back until the next token.
size_t incomplete_utf8_tail(const std::string & s, size_t n) {
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        const unsigned char c = (unsigned char) s[n - back];
        if ((c & 0xC0) == 0x80) {
            continue; // a continuation byte: look further back for the lead byte
        }
        size_t need = 1;
        if ((c & 0xE0) == 0xC0) need = 2;
        else if ((c & 0xF0) == 0xE0) need = 3;
        else if ((c & 0xF8) == 0xF0) need = 4;
        return need > back ? back : 0;
    }
    return 0;
}

} // namespace

// llama.cpp's per-layer placement records, collected while a model loads (see t_placement).
struct PlacementCapture {
    std::vector<std::pair<int, std::string>> layers;
    std::vector<std::pair<int, std::string>> kv;
};

namespace {
// --- the log ---
std::mutex g_log_mutex;
void (*g_log_sink)(int, const char *, void *) = nullptr;
void * g_log_user = nullptr;

// While set, this thread's warnings and errors are also collected here (they explain a refusal, such as a grammar's).
thread_local std::string * t_log_capture = nullptr;
// While set (Engine::load), llama.cpp's per-layer records of where it put each layer and each layer's KV cache are
// collected here: "load_tensors: layer  31 assigned to device Vulkan0, is_swa = 0" (the layer n_layer is the
// output layer) and "llama_kv_cache: layer  31: dev = Vulkan0", both at debug level.
thread_local PlacementCapture * t_placement = nullptr;

void capture_placement(const char * text) {
    int layer = -1;
    char dev[128] = {0};
    if (std::sscanf(text, "load_tensors: layer %d assigned to device %127[^,\n]", &layer, dev) == 2) {
        t_placement->layers.emplace_back(layer, dev);
    } else if (std::sscanf(text, "llama_kv_cache: layer %d: dev = %127s", &layer, dev) == 2) {
        t_placement->kv.emplace_back(layer, dev);
    }
}

void log_callback(ggml_log_level level, const char * text, void * /*user*/) {
    if (t_log_capture && level >= GGML_LOG_LEVEL_WARN) {
        t_log_capture->append(text);
    }
    if (t_placement && level == GGML_LOG_LEVEL_DEBUG) {
        capture_placement(text);
    }
    std::lock_guard<std::mutex> lock(g_log_mutex);
    if (g_log_sink) {
        g_log_sink((int) level, text, g_log_user);
    } else if (level != GGML_LOG_LEVEL_DEBUG) {
        std::fputs(text, stderr);
        std::fflush(stderr);
    }
}

struct SamplerDeleter {
    void operator()(llama_sampler * s) const { llama_sampler_free(s); }
};
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;

} // namespace

const std::vector<std::string> & stop_reason_names() {
    static const std::vector<std::string> names = {"END_OF_TEXT", "STOP_STRING", "LENGTH", "CANCELLED"};
    return names;
}

const std::vector<std::string> & error_kind_names() {
    static const std::vector<std::string> names = {"OPTION", "LIBRARY", "MODEL", "NATIVE"};
    return names;
}

const std::vector<std::string> & event_kind_names() {
    static const std::vector<std::string> names = {"ADMITTED", "TOKEN", "DONE", "FAILED"}; // EventKind 1, 2, 3, 4
    return names;
}

namespace {
Error option_error(const char * field, std::string message) {
    return Error{ErrorKind::OPTION, field, std::move(message)};
}
Error native_error(std::string message) {
    return Error{ErrorKind::NATIVE, "", std::move(message)};
}
} // namespace

void set_log_sink(void (*sink)(int, const char *, void *), void * user) {
    {
        std::lock_guard<std::mutex> lock(g_log_mutex);
        g_log_sink = sink;
        g_log_user = user;
    }
    llama_log_set(log_callback, nullptr);
}

namespace {
bool starts_with(const std::string & s, const char * prefix) { return s.rfind(prefix, 0) == 0; }
bool ends_with(const std::string & s, const char * suffix) {
    const size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}
// Plain files named libggml-*.so in dir, sorted (a GGML_BACKEND_DL build's modules).
[[maybe_unused]] std::vector<std::string> modules_in(const std::string & dir) {
    std::vector<std::string> names;
    if (DIR * d = opendir(dir.c_str())) {
        while (const dirent * e = readdir(d)) {
            const std::string name = e->d_name;
            if (starts_with(name, "libggml-") && ends_with(name, ".so")) names.push_back(name);
        }
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}
} // namespace

const BackendLoad & load_backends(const std::string & dir) {
    static std::mutex mutex;
    static std::unique_ptr<BackendLoad> report;
    std::lock_guard<std::mutex> lock(mutex);
    if (report) {
        return *report;
    }
    report.reset(new BackendLoad());
    report->dir = dir;
#ifdef GGML_BACKEND_DL
    report->dynamic = true;
    const std::vector<std::string> modules = modules_in(dir);
    // ggml's own loader is silent about a module it cannot open: open each GPU module alone first, so a missing
    // runtime library (libvulkan.so.1, libcudart.so.12, libamdhip64.so.6) is named.
    for (const std::string & name : modules) {
        if (starts_with(name, "libggml-base") || starts_with(name, "libggml-cpu")) continue;
        const std::string path = dir + "/" + name;
        dlerror();
        if (void * h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
            dlclose(h);
        } else {
            const char * why = dlerror();
            report->failed_files.push_back(name);
            report->failed_errors.push_back(why ? why : "dlopen failed");
        }
    }
    ggml_backend_load_all_from_path(dir.c_str());
    for (const std::string & name : modules) {
        if (!starts_with(name, "libggml-cpu-")) continue;
        const std::string path = dir + "/" + name;
        if (void * h = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD)) { // loaded already: the variant ggml chose
            dlclose(h);
            report->cpu_variant = name.substr(std::strlen("libggml-cpu-"), name.size() - std::strlen("libggml-cpu-") - 3);
        }
    }
#endif
    for (size_t i = 0; i < ggml_backend_reg_count(); i++) {
        report->registered.push_back(ggml_backend_reg_name(ggml_backend_reg_get(i)));
    }
    return *report;
}

struct Request {
    int32_t id = 0;
    std::vector<int32_t> prompt;
    int32_t max_new_tokens = 1;
    GenerationOptions options;
    std::string grammar;               // the grammar, or the JSON schema's, checked at submit
};

namespace {
// What llama.cpp's converter follows (common/json-schema.cpp reads these keywords), and annotations that constrain
// nothing. Any other keyword (not, if, multipleOf, uniqueItems, ...) the converter would ignore: the text might then
// break the schema, so such a schema is refused, naming the keyword.
const std::set<std::string> & schema_keywords() {
    static const std::set<std::string> k = {"type", "properties", "required", "additionalProperties", "items", "prefixItems",
                                            "minItems", "maxItems", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs",
                                            "definitions", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
                                            "maxLength", "pattern", "format"};
    return k;
}
const std::set<std::string> & schema_annotations() {
    static const std::set<std::string> k = {"title", "description", "$schema", "$id", "$comment", "default", "examples",
                                            "deprecated", "readOnly", "writeOnly"};
    return k;
}

// Whether the converter turns this pattern into a grammar: one it cannot, it replaces by its plain string rule (and
// only warns on stderr), which then accepts any string.
bool pattern_followed(const std::string & pattern) {
    const std::string schema = std::string(R"({"type": "string", "pattern": )") + common_json::make(pattern).dump() + "}";
    const std::string g = "\n" + json_schema_to_grammar(common_json::parse(schema), true);
    return g.find("\nstring ::=") == std::string::npos;
}

// The first part of `schema` the converter would not follow, as "PATH: what", or "".
std::string unfollowed(const common_json & schema, const std::string & path) {
    if (!schema.is_object()) return "";
    for (const auto & [key, value] : schema.items()) {
        const std::string at = path + "/" + key;
        if (schema_annotations().count(key)) continue;
        if (!schema_keywords().count(key)) return at + ": the keyword '" + key + "'";
        if (key == "format" && value.is_string()) {
            const std::string f = value.get<std::string>();
            if (f != "date" && f != "time" && f != "date-time" && f != "uuid") return at + ": the format '" + f + "'";
        } else if (key == "pattern" && value.is_string()) {
            if (!pattern_followed(value.get<std::string>())) return at + ": the pattern '" + value.get<std::string>() + "'";
        } else if ((key == "properties" || key == "$defs" || key == "definitions") && value.is_object()) {
            for (const auto & [name, sub] : value.items()) {
                const std::string why = unfollowed(sub, at + "/" + name);
                if (!why.empty()) return why;
            }
        } else if ((key == "prefixItems" || key == "anyOf" || key == "oneOf" || key == "allOf") && value.is_array()) {
            for (size_t i = 0; i < value.size(); i++) {
                const std::string why = unfollowed(value.at(i), at + "/" + std::to_string(i));
                if (!why.empty()) return why;
            }
        } else if (key == "items" || key == "additionalProperties") {
            const std::string why = unfollowed(value, at);
            if (!why.empty()) return why;
        }
    }
    return "";
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// GBNF for a JSON schema, by llama.cpp's own converter; a schema it cannot follow is the caller's error, naming why.
bool schema_grammar(const std::string & schema, std::string & grammar, Error & err) {
    try {
        const common_json parsed = common_json::parse(schema);
        const std::string why = unfollowed(parsed, "");
        if (!why.empty()) {
            err = option_error("jsonSchema", "uses what llama.cpp's converter cannot follow, at " + why);
            return false;
        }
        grammar = json_schema_to_grammar(parsed, true);
        return true;
    } catch (const std::exception & e) {
        err = option_error("jsonSchema", "cannot be followed: " + trimmed(e.what()));
    } catch (...) {
        err = option_error("jsonSchema", "cannot be followed: llama.cpp's converter failed");
    }
    return false;
}
} // namespace

struct Slot {
    enum class State { IDLE, PROMPT, GENERATING };
    int32_t id = 0;                    // the slot's index: its KV sequence
    int32_t request = -1;              // the request it serves, -1 when idle
    State state = State::IDLE;
    GenerationOptions params;
    int32_t max_new_tokens = 1;
    std::vector<std::string> stops;    // the caller's, and the end-of-text marker as text unless ignored
    int32_t eog_stop = -1;             // index in stops of the end-of-text marker
    SamplerPtr sampler;
    SamplerPtr grammar;                // the grammar's sampler, outside the chain (see Engine::sample), or null
    std::vector<llama_token_data> candidates;
    std::vector<int32_t> prompt;
    std::vector<int32_t> cached;       // tokens in this sequence's KV cache, for cache_prompt
    size_t prompt_pos = 0;             // next prompt token to evaluate
    int32_t prompt_evaluated = 0;
    int32_t n_past = 0;                // KV positions used
    int32_t generated = 0;
    int32_t last_token = -1;
    int32_t batch_index = -1;          // this step's output row, or -1
    uint64_t last_used = 0;            // the engine's clock when a request last took it (0: never)
    std::string text;                  // everything generated (for stop strings)
    size_t released = 0;               // bytes of `text` already handed out
    size_t longest_stop = 0;
    int64_t t_start = 0, t_prompt_done = 0, t_last = 0;
};

// A sequence's KV state in host memory (llama_state_seq_get_data), with the tokens it holds.
struct SavedState {
    std::vector<int32_t> tokens;
    std::vector<uint8_t> state;
    uint64_t last_used = 0;
};

namespace {
// The length of the longest common prefix of a and b.
size_t common_prefix(const std::vector<int32_t> & a, const std::vector<int32_t> & b) {
    const size_t n = std::min(a.size(), b.size());
    size_t i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}
// Sequences shorter than this are cheaper to evaluate again than to keep.
constexpr size_t kMinSavedTokens = 16;
} // namespace

namespace {
// Why no layer can leave the CPU: the backends that loaded, the devices they show, and where a GPU may have gone.
std::string no_gpu_reason(int32_t gpu_layers) {
    std::string backends;
    for (size_t i = 0; i < ggml_backend_reg_count(); i++) {
        backends += std::string(backends.empty() ? "" : ", ") + ggml_backend_reg_name(ggml_backend_reg_get(i));
    }
    std::string devices;
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t d = ggml_backend_dev_get(i);
        devices += std::string(devices.empty() ? "" : ", ") + ggml_backend_dev_name(d) + " (" + ggml_backend_dev_description(d) + ")";
    }
    std::string why = "asks for " + (gpu_layers < 0 ? std::string("all layers") : std::to_string(gpu_layers) + " layer(s)") +
                      " on a GPU, but llama.cpp sees no GPU device (backends loaded: " + backends + "; devices: " + devices + ")";
    const bool gpu_backend = backends.find("Vulkan") != std::string::npos || backends.find("CUDA") != std::string::npos ||
                             backends.find("ROCm") != std::string::npos || backends.find("HIP") != std::string::npos;
    if (!gpu_backend) {
        why += ": this engine has no GPU backend; build one (scripts/build-native.sh cuda, hip or vulkan) or add the GPU add-on jar "
               "(phi2-native linux-x86_64-cuda, -hip or -vulkan) beside the portable engine";
    } else {
        why += ": the GPU backend found no device it may use; check the driver and the visible-device variables "
               "(CUDA_VISIBLE_DEVICES for CUDA, HIP_VISIBLE_DEVICES or ROCR_VISIBLE_DEVICES for ROCm, GGML_VK_VISIBLE_DEVICES for "
               "Vulkan: ggml's Vulkan backend passes over CPU-type devices such as Mesa's llvmpipe unless it names them)";
    }
    return why;
}
} // namespace

std::unique_ptr<Engine> Engine::load(const ModelParams & p, Error & err) {
    static std::once_flag backend_once;
    std::call_once(backend_once, [] {
        if (!g_log_sink) {
            llama_log_set(log_callback, nullptr);
        }
        llama_backend_init();
    });
    if (!p.backendDir.empty()) {
        load_backends(p.backendDir);
    }
    if (ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU) == nullptr) {
        err = Error{ErrorKind::LIBRARY, "", "no CPU backend: none of the CPU modules in '" + p.backendDir + "' loads on this machine (see the log)"};
        return nullptr;
    }
    if (p.parallel < 1 || p.parallel > (int32_t) llama_max_parallel_sequences()) {
        err = option_error("parallel", "must be 1 to " + std::to_string(llama_max_parallel_sequences()) + ", not " + std::to_string(p.parallel));
        return nullptr;
    }
    if (p.tensorSplit.size() > llama_max_devices()) {
        err = option_error("tensorSplit", "names " + std::to_string(p.tensorSplit.size()) + " devices; this build supports " +
                                              std::to_string(llama_max_devices()));
        return nullptr;
    }
    // A split or main GPU naming devices this build does not see is the caller's mistake, said before loading.
    size_t gpus = 0;
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        const auto type = ggml_backend_dev_type(ggml_backend_dev_get(i));
        gpus += type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU;
    }
    if (!p.tensorSplit.empty() && p.tensorSplit.size() > std::max<size_t>(1, gpus)) {
        err = option_error("tensorSplit", "lists " + std::to_string(p.tensorSplit.size()) + " devices, but the llama.cpp library sees " +
                                              std::to_string(gpus) + " GPU(s) (see phi2 devices)");
        return nullptr;
    }
    if (p.mainGpu > 0 && (size_t) p.mainGpu >= gpus) {
        err = option_error("mainGpu", "is " + std::to_string(p.mainGpu) + ", but the llama.cpp library sees " + std::to_string(gpus) +
                                          " GPU(s), numbered from 0 (see phi2 devices)");
        return nullptr;
    }
    // Layers asked for on a GPU that is not there would run on the CPU without a word: refused, unless the caller
    // allows the fallback.
    if (p.gpuLayers != 0 && gpus == 0) {
        const std::string why = no_gpu_reason(p.gpuLayers);
        if (!p.allowCpuFallback) {
            err = option_error("gpuLayers", why + "; or allow the CPU with allowCpuFallback (phi2 --allow-cpu-fallback)");
            return nullptr;
        }
        log_callback(GGML_LOG_LEVEL_WARN, ("phi2j: " + why + "; running on the CPU (allowCpuFallback)\n").c_str(), nullptr);
    }
    std::unique_ptr<Engine> e(new Engine());

    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = p.gpuLayers < 0 ? -1 : p.gpuLayers;
    mp.split_mode = (llama_split_mode) p.splitMode;
    mp.main_gpu = p.mainGpu;
    std::vector<float> split(llama_max_devices(), 0.0f);
    std::copy(p.tensorSplit.begin(), p.tensorSplit.end(), split.begin());
    if (!p.tensorSplit.empty()) {
        mp.tensor_split = split.data();
    }
    PlacementCapture placed;
    t_placement = &placed;
    const int64_t t_model = llama_time_us();
    e->model_ = llama_model_load_from_file(p.path.c_str(), mp);
    e->model_us_ = llama_time_us() - t_model;
    t_placement = nullptr;
    if (!e->model_) {
        err = Error{ErrorKind::MODEL, "", "llama.cpp could not load " + p.path + " (see the log)"};
        return nullptr;
    }
    e->vocab_ = llama_model_get_vocab(e->model_);

    const int32_t threads = p.threads > 0 ? p.threads : (int32_t) std::max(1u, std::thread::hardware_concurrency());
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = p.contextSize > 0 ? (uint32_t) p.contextSize : (uint32_t) llama_model_n_ctx_train(e->model_);
    if (p.batchSize > 0) cp.n_batch = (uint32_t) p.batchSize;
    cp.n_ubatch = std::min(cp.n_ubatch, cp.n_batch);
    cp.n_seq_max = (uint32_t) p.parallel;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.flash_attn_type = (llama_flash_attn_type) p.flashAttention;
    cp.no_perf = true;
    if (p.embeddings) {
        cp.embeddings = true;
        cp.pooling_type = LLAMA_POOLING_TYPE_LAST;
    }
    t_placement = &placed;
    const int64_t t_context = llama_time_us();
    e->ctx_ = llama_init_from_model(e->model_, cp);
    e->context_us_ = llama_time_us() - t_context;
    t_placement = nullptr;
    if (!e->ctx_) {
        err = Error{ErrorKind::MODEL, "", "llama.cpp could not create a context of " + std::to_string(cp.n_ctx) + " tokens for " + p.path + " (see the log)"};
        return nullptr;
    }
    if (!e->place(placed, p, err)) {
        return nullptr;
    }
    e->embeddings_ = p.embeddings;
    if (p.cacheRamMib < 0) {
        err = option_error("cacheRamMib", "must be 0 (off) or a size in MiB, not " + std::to_string(p.cacheRamMib));
        return nullptr;
    }
    e->saved_limit_ = (size_t) p.cacheRamMib << 20;
    if (p.embeddings) {
        llama_set_embeddings(e->ctx_, false); // on only while embed() runs; generation needs logits alone
    }

    // A persistent CPU thread pool, as llama-bench attaches: without one ggml starts threads for every graph.
    if (ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU)) {
        ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(cpu);
        auto * tp_new = (decltype(ggml_threadpool_new) *) ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_new");
        auto * tp_free = (decltype(ggml_threadpool_free) *) ggml_backend_reg_get_proc_address(reg, "ggml_threadpool_free");
        if (tp_new && tp_free) {
            ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
            e->threadpool_ = tp_new(&tpp);
            if (!e->threadpool_) {
                err = native_error("could not start a CPU thread pool of " + std::to_string(threads) + " threads");
                return nullptr;
            }
            e->threadpool_free_ = tp_free;
            llama_attach_threadpool(e->ctx_, e->threadpool_, nullptr);
        }
    }

    // Warm up as llama.cpp's own tools do: one decode of two tokens touches the weights, the KV cache and the compute
    // buffers, so that the first request does not pay for it. Then the cache is emptied again.
    const int64_t t_warmup = llama_time_us();
    {
        std::vector<llama_token> warm;
        for (llama_token t : {llama_vocab_bos(e->vocab_), llama_vocab_eos(e->vocab_)}) {
            if (t != LLAMA_TOKEN_NULL) warm.push_back(t);
        }
        if (warm.empty()) warm.push_back(0);
        const int32_t rc = llama_decode(e->ctx_, llama_batch_get_one(warm.data(), (int32_t) warm.size()));
        if (rc != 0) {
            err = Error{ErrorKind::MODEL, "", "llama.cpp could not run a first decode of " + p.path + " (llama_decode returned " +
                                                  std::to_string(rc) + "; see the log)"};
            return nullptr;
        }
        llama_synchronize(e->ctx_);
        llama_memory_clear(llama_get_memory(e->ctx_), true);
    }
    e->warmup_us_ = llama_time_us() - t_warmup;

    e->batch_.reset(new llama_batch(llama_batch_init((int32_t) llama_n_batch(e->ctx_), 0, 1)));
    for (int32_t i = 0; i < p.parallel; i++) {
        e->slots_.emplace_back(new Slot());
        e->slots_.back()->id = i;
    }
    e->end_of_text_ = e->piece(llama_vocab_eos(e->vocab_));
    return e;
}


bool Engine::place(const PlacementCapture & placed, const ModelParams & p, Error & err) {
    const int32_t n_layer = llama_model_n_layer(model_);
    std::vector<std::string> layers((size_t) n_layer);
    std::string output;
    for (const auto & [il, dev] : placed.layers) {
        if (il >= 0 && il < n_layer) layers[(size_t) il] = dev;
        if (il == n_layer) output = dev;
    }
    std::vector<std::string> kv;
    for (const auto & [il, dev] : placed.kv) {
        if (il >= 0 && il < n_layer) {
            kv.resize(std::max(kv.size(), (size_t) il + 1));
            kv[(size_t) il] = dev;
        }
    }
    const bool complete = output != "" && std::none_of(layers.begin(), layers.end(), [](const std::string & d) { return d.empty(); }) &&
                          kv.size() == (size_t) n_layer && std::none_of(kv.begin(), kv.end(), [](const std::string & d) { return d.empty(); });
    if (!complete) {
        err = Error{ErrorKind::LIBRARY, "", "llama.cpp did not say where it put each of the " + std::to_string(n_layer) +
                                                " layers (its per-layer load records are missing: is this the pinned llama.cpp?)"};
        return false;
    }
    placement_.layers = std::move(layers);
    placement_.output = std::move(output);
    placement_.kv = std::move(kv);
    std::vector<std::string> all = placement_.layers;
    all.push_back(placement_.output);
    all.insert(all.end(), placement_.kv.begin(), placement_.kv.end());
    for (const std::string & d : all) {
        if (std::find(placement_.device_names.begin(), placement_.device_names.end(), d) != placement_.device_names.end()) continue;
        placement_.device_names.push_back(d);
        ggml_backend_dev_t dev = ggml_backend_dev_by_name(d.c_str());
        placement_.device_descriptions.push_back(dev ? ggml_backend_dev_description(dev) : "");
    }
    // The truth after loading: asked for the GPU, and every layer stayed on the CPU
    const bool offloaded = std::any_of(all.begin(), all.end(), [](const std::string & d) { return d != "CPU"; });
    if (p.gpuLayers != 0 && !offloaded && !p.allowCpuFallback) {
        err = option_error("gpuLayers", no_gpu_reason(p.gpuLayers) + "; every layer stayed on the CPU");
        return false;
    }
    return true;
}

Engine::~Engine() {
    slots_.clear(); // samplers first
    if (batch_) {
        llama_batch_free(*batch_);
    }
    if (ctx_) {
        llama_detach_threadpool(ctx_);
        llama_free(ctx_);
    }
    if (threadpool_ && threadpool_free_) {
        threadpool_free_(threadpool_);
    }
    if (model_) {
        llama_model_free(model_);
    }
}

Info Engine::info() const {
    Info i;
    i.n_ctx = (int32_t) llama_n_ctx(ctx_);
    i.n_ctx_seq = (int32_t) llama_n_ctx_seq(ctx_);
    i.n_parallel = (int32_t) slots_.size();
    i.n_vocab = llama_vocab_n_tokens(vocab_);
    i.eos = llama_vocab_eos(vocab_);
    i.model_us = model_us_;
    i.context_us = context_us_;
    i.warmup_us = warmup_us_;
    return i;
}

bool Engine::tokenize(const std::string & text, std::vector<int32_t> & out, Error & err) const {
    if (text.size() > (size_t) INT32_MAX / 2) {
        err = option_error("text", "of " + std::to_string(text.size()) + " bytes is too long to tokenize");
        return false;
    }
    out.resize(text.size() + 2);
    int32_t n = llama_tokenize(vocab_, text.data(), (int32_t) text.size(), out.data(), (int32_t) out.size(), true, true);
    if (n < 0 && n != INT32_MIN) {
        out.resize((size_t) -n);
        n = llama_tokenize(vocab_, text.data(), (int32_t) text.size(), out.data(), (int32_t) out.size(), true, true);
    }
    if (n < 0) {
        err = native_error("llama_tokenize failed (" + std::to_string(n) + ")");
        return false;
    }
    out.resize((size_t) n);
    return true;
}

bool Engine::detokenize(const std::vector<int32_t> & tokens, std::string & out, Error & err) const {
    const int32_t nv = llama_vocab_n_tokens(vocab_);
    for (int32_t t : tokens) {
        if (t < 0 || t >= nv) {
            err = option_error("tokens", "id " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(nv));
            return false;
        }
    }
    out.resize(tokens.size() * 8 + 16);
    int32_t n = llama_detokenize(vocab_, tokens.data(), (int32_t) tokens.size(), out.data(), (int32_t) out.size(), false, true);
    if (n < 0) {
        out.resize((size_t) -n);
        n = llama_detokenize(vocab_, tokens.data(), (int32_t) tokens.size(), out.data(), (int32_t) out.size(), false, true);
    }
    if (n < 0) {
        err = native_error("llama_detokenize failed (" + std::to_string(n) + ")");
        return false;
    }
    out.resize((size_t) n);
    return true;
}

std::string Engine::piece(int32_t token) const {
    char buf[256];
    int32_t n = llama_token_to_piece(vocab_, token, buf, sizeof buf, 0, true);
    if (n >= 0) {
        return std::string(buf, (size_t) n);
    }
    std::string big((size_t) -n, '\0');
    n = llama_token_to_piece(vocab_, token, big.data(), (int32_t) big.size(), 0, true);
    return n >= 0 ? big.substr(0, (size_t) n) : std::string();
}

bool Engine::embed(const std::string & text, std::vector<float> & out, Error & err) {
    if (!embeddings_) {
        err = option_error("embeddings", "the model was opened without embeddings");
        return false;
    }
    Slot * free_slot = nullptr;
    for (auto & s : slots_) {
        if (s->state == Slot::State::IDLE && (!free_slot || s->last_used < free_slot->last_used)) {
            free_slot = s.get();
        }
    }
    if (!free_slot) {
        err = native_error("every slot is generating");
        return false;
    }
    std::vector<int32_t> tokens;
    if (!tokenize(text, tokens, err)) {
        return false;
    }
    const int32_t n_ctx_seq = (int32_t) llama_n_ctx_seq(ctx_);
    if (tokens.empty() || (int32_t) tokens.size() > n_ctx_seq) {
        err = option_error("text", "is " + std::to_string(tokens.size()) + " tokens; embeddings take 1 to " + std::to_string(n_ctx_seq));
        return false;
    }
    const llama_seq_id seq = free_slot->id;
    llama_memory_t mem = llama_get_memory(ctx_);
    save_slot(*free_slot);
    llama_memory_seq_rm(mem, seq, -1, -1);
    free_slot->cached.clear();
    llama_set_embeddings(ctx_, true);
    llama_batch & b = *batch_;
    const int32_t n_batch = (int32_t) llama_n_batch(ctx_);
    int32_t rc = 0;
    for (size_t at = 0; at < tokens.size() && rc == 0; at += (size_t) n_batch) {
        b.n_tokens = 0;
        const size_t end = std::min(tokens.size(), at + (size_t) n_batch);
        for (size_t i = at; i < end; i++) {
            const int32_t k = b.n_tokens++;
            b.token[k] = tokens[i];
            b.pos[k] = (llama_pos) i;
            b.n_seq_id[k] = 1;
            b.seq_id[k][0] = seq;
            b.logits[k] = true; // pooled embeddings read every position
        }
        rc = llama_decode(ctx_, b);
    }
    llama_set_embeddings(ctx_, false);
    if (rc != 0) {
        llama_memory_seq_rm(mem, seq, -1, -1);
        err = native_error("llama_decode failed (" + std::to_string(rc) + ")");
        return false;
    }
    const float * e = llama_get_embeddings_seq(ctx_, seq);
    const int32_t n = llama_model_n_embd(model_);
    if (!e) {
        llama_memory_seq_rm(mem, seq, -1, -1);
        err = native_error("llama.cpp returned no embedding");
        return false;
    }
    double norm = 0;
    for (int32_t i = 0; i < n; i++) norm += (double) e[i] * e[i];
    norm = std::sqrt(norm);
    out.resize((size_t) n);
    for (int32_t i = 0; i < n; i++) out[(size_t) i] = norm > 0 ? (float) (e[i] / norm) : 0.0f;
    llama_memory_seq_rm(mem, seq, -1, -1);
    return true;
}

bool Engine::submit(int32_t id, const std::vector<int32_t> & prompt, int32_t max_new_tokens, const GenerationOptions & o, Error & err) {
    const int32_t nv = llama_vocab_n_tokens(vocab_);
    const int32_t n_ctx_seq = (int32_t) llama_n_ctx_seq(ctx_);
    if (prompt.empty()) {
        err = option_error("prompt", "has no tokens");
        return false;
    }
    for (int32_t t : prompt) {
        if (t < 0 || t >= nv) {
            err = option_error("prompt", "token " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(nv));
            return false;
        }
    }
    if (max_new_tokens < 1) {
        err = option_error("maxNewTokens", "must be at least 1, not " + std::to_string(max_new_tokens));
        return false;
    }
    if ((int64_t) prompt.size() + max_new_tokens > n_ctx_seq) {
        err = option_error("maxNewTokens", std::to_string(prompt.size()) + " prompt tokens + " + std::to_string(max_new_tokens) +
                                               " new tokens exceed the context of " + std::to_string(n_ctx_seq) + " per sequence");
        return false;
    }
    if (o.logprobs < 0 || o.logprobs > nv) {
        err = option_error("logprobs", "must be 0 to the vocabulary size, not " + std::to_string(o.logprobs));
        return false;
    }
    std::string grammar = o.grammar;
    if (!o.grammar.empty() && !o.jsonSchema.empty()) {
        err = option_error("grammar", "and jsonSchema both constrain the text: set one");
        return false;
    }
    if (!o.jsonSchema.empty() && !schema_grammar(o.jsonSchema, grammar, err)) {
        return false;
    }
    if (!grammar.empty()) {
        // parsed here, so that a bad grammar is refused with llama.cpp's reason before the request waits for a slot
        std::string log;
        t_log_capture = &log;
        llama_sampler * g = llama_sampler_init_grammar(vocab_, grammar.c_str(), "root");
        t_log_capture = nullptr;
        if (!g) {
            log = trimmed(log);
            err = option_error(o.jsonSchema.empty() ? "grammar" : "jsonSchema",
                               std::string(o.jsonSchema.empty() ? "is not GBNF llama.cpp accepts" : "gave a grammar llama.cpp refuses") +
                                   (log.empty() ? "" : ": " + log));
            return false;
        }
        llama_sampler_free(g);
    }
    for (const auto & s : slots_) {
        if (s->request == id) {
            err = native_error("request " + std::to_string(id) + " is running already");
            return false;
        }
    }
    for (const auto & r : queue_) {
        if (r->id == id) {
            err = native_error("request " + std::to_string(id) + " is queued already");
            return false;
        }
    }
    std::unique_ptr<Request> r(new Request());
    r->id = id;
    r->prompt = prompt;
    r->max_new_tokens = max_new_tokens;
    r->options = o;
    r->grammar = std::move(grammar);
    queue_.push_back(std::move(r));
    return true;
}

void Engine::cancel(int32_t id) {
    {
        std::lock_guard<std::mutex> lock(cancel_mutex_);
        cancelled_.push_back(id);
    }
    wake_ = true;
}

int32_t Engine::active() const {
    int32_t n = 0;
    for (const auto & s : slots_) n += s->state != Slot::State::IDLE;
    return n;
}

int32_t Engine::waiting() const {
    return (int32_t) queue_.size();
}

bool Engine::has_idle_slot() const {
    return active() < (int32_t) slots_.size();
}

void Engine::fail(int32_t id, const Error & err, std::vector<uint8_t> & out) {
    put<uint8_t>(out, EVENT_FAILED);
    put<int32_t>(out, id);
    put<int32_t>(out, (int32_t) err.kind);
    put_bytes(out, err.field);
    put_bytes(out, err.message);
    boundary_ = true;
}

// Waiting requests into idle slots, in arrival order.
void Engine::admit(std::vector<uint8_t> & out) {
    while (!queue_.empty()) {
        Slot * slot = choose_slot(*queue_.front());
        if (!slot) break;
        std::unique_ptr<Request> r = std::move(queue_.front());
        queue_.pop_front();
        begin(*slot, *r, out); // a refusal is reported, and the slot stays idle for the next one
    }
}

// The idle slot for r. With cachePrompt, the one whose cache shares the longest prefix with r's prompt, when that prefix
// is most of what the slot holds (r continues its conversation) or most of r's prompt (a long shared start); else the
// least recently used, so that a new conversation takes an empty slot or the oldest cache rather than cutting short
// another conversation's. nullptr when every slot is busy.
Slot * Engine::choose_slot(const Request & r) {
    Slot * lru = nullptr;
    Slot * best = nullptr;
    size_t best_len = 0;
    for (auto & sp : slots_) {
        Slot & s = *sp;
        if (s.state != Slot::State::IDLE) continue;
        if (!lru || s.last_used < lru->last_used) lru = &s;
        if (r.options.cachePrompt) {
            const size_t n = common_prefix(s.cached, r.prompt);
            if (n > best_len) {
                best = &s;
                best_len = n;
            }
        }
    }
    if (best && (best_len * 2 >= best->cached.size() || best_len * 2 >= r.prompt.size())) return best;
    return lru;
}

// Keeps slot s's KV state in the host cache before it is overwritten (cacheRamMib > 0): a later request that shares its
// prefix restores it instead of evaluating it again. An entry that s's tokens extend is replaced; the least recently
// used entries go first when the cache is full.
void Engine::save_slot(const Slot & s) {
    if (saved_limit_ == 0 || s.cached.size() < kMinSavedTokens) return;
    for (SavedState & e : saved_) {
        if (common_prefix(e.tokens, s.cached) == s.cached.size()) {
            e.last_used = ++clock_; // held already, or a longer one
            return;
        }
    }
    const size_t size = llama_state_seq_get_size(ctx_, s.id);
    if (size == 0 || size > saved_limit_) return;
    SavedState e;
    e.tokens = s.cached;
    e.state.resize(size);
    const size_t n = llama_state_seq_get_data(ctx_, e.state.data(), size, s.id);
    if (n == 0) return; // llama.cpp logged why; the cache is an optimisation
    e.state.resize(n);
    e.last_used = ++clock_;
    auto drop = [&](size_t i) {
        saved_bytes_ -= saved_[i].state.size();
        saved_.erase(saved_.begin() + (long) i);
    };
    for (size_t i = saved_.size(); i-- > 0;) {
        if (common_prefix(saved_[i].tokens, e.tokens) == saved_[i].tokens.size()) drop(i); // e extends it
    }
    while (!saved_.empty() && saved_bytes_ + n > saved_limit_) {
        size_t oldest = 0;
        for (size_t i = 1; i < saved_.size(); i++) {
            if (saved_[i].last_used < saved_[oldest].last_used) oldest = i;
        }
        drop(oldest);
    }
    saved_bytes_ += n;
    saved_.push_back(std::move(e));
}

// Restores into slot s the host-cache entry sharing the longest prefix with `prompt`, when it shares more than the `have`
// tokens s holds already; s's own state is saved first. Returns the prefix length s now holds.
size_t Engine::restore_best(Slot & s, const std::vector<int32_t> & prompt, size_t have) {
    size_t best = saved_.size();
    size_t best_len = have;
    for (size_t i = 0; i < saved_.size(); i++) {
        const size_t n = common_prefix(saved_[i].tokens, prompt);
        if (n > best_len) {
            best = i;
            best_len = n;
        }
    }
    if (best == saved_.size()) return have;
    saved_[best].last_used = ++clock_;                 // the newest: saving s below evicts others first
    const std::vector<int32_t> tokens = saved_[best].tokens;
    save_slot(s);                                      // may reorder the cache
    auto it = std::find_if(saved_.begin(), saved_.end(), [&](const SavedState & e) { return e.tokens == tokens; });
    if (it == saved_.end()) return have;               // s's own state took the room: keep what s holds
    llama_memory_t mem = llama_get_memory(ctx_);
    llama_memory_seq_rm(mem, s.id, -1, -1);
    if (llama_state_seq_set_data(ctx_, it->state.data(), it->state.size(), s.id) == 0) {
        llama_memory_seq_rm(mem, s.id, -1, -1); // llama.cpp logged why: start from nothing
        s.cached.clear();
        return 0;
    }
    s.cached = tokens;
    return best_len;
}

bool Engine::begin(Slot & s, Request & r, std::vector<uint8_t> & out) {
    const GenerationOptions & p = r.options;
    const int32_t nv = llama_vocab_n_tokens(vocab_);
    // llama.cpp's sampler order (as its server's): penalties, top-k, top-p, min-p, temperature, then the draw; a grammar
    // is its own sampler beside the chain (see sample()).
    SamplerPtr chain(llama_sampler_chain_init(llama_sampler_chain_default_params()));
    if (!chain) {
        fail(r.id, native_error("could not create a sampler chain"), out);
        return false;
    }
    auto add = [&](llama_sampler * smpl) {
        if (!smpl) return false;
        llama_sampler_chain_add(chain.get(), smpl); // the chain owns it from here
        return true;
    };
    bool ok = true;
    SamplerPtr grammar;
    if (!r.grammar.empty()) {
        grammar.reset(llama_sampler_init_grammar(vocab_, r.grammar.c_str(), "root")); // parsed at submit already
        ok = grammar != nullptr;
    }
    if (p.repetitionPenalty != 1.0f || p.presencePenalty != 0.0f) {
        // the last 64 tokens, llama.cpp's default window
        ok = ok && add(llama_sampler_init_penalties(nv, 64, p.repetitionPenalty, 0.0f, p.presencePenalty));
    }
    if (p.temperature <= 0.0f) {
        ok = ok && add(llama_sampler_init_greedy());
    } else {
        if (p.topK > 0) ok = ok && add(llama_sampler_init_top_k(p.topK));
        if (p.topP < 1.0f) ok = ok && add(llama_sampler_init_top_p(p.topP, 1));
        if (p.minP > 0.0f) ok = ok && add(llama_sampler_init_min_p(p.minP, 1));
        ok = ok && add(llama_sampler_init_temp(p.temperature));
        ok = ok && add(llama_sampler_init_dist(p.seed ? (uint32_t) *p.seed : LLAMA_DEFAULT_SEED));
    }
    if (!ok) {
        fail(r.id, native_error("could not create the samplers"), out);
        return false;
    }

    // Reuse the KV prefix shared with this slot's cache, or with a state in the host cache, when asked; always
    // evaluate at least the last prompt token, whose logits give the first new token.
    size_t keep = 0;
    if (p.cachePrompt) {
        keep = common_prefix(s.cached, r.prompt);
        if (saved_limit_ > 0) keep = restore_best(s, r.prompt, keep);
        if (keep == r.prompt.size()) keep--;
    }
    if (keep < s.cached.size()) save_slot(s); // the part past `keep` is about to go
    llama_memory_t mem = llama_get_memory(ctx_);
    if (!llama_memory_seq_rm(mem, s.id, (llama_pos) keep, -1)) {
        keep = 0;
        llama_memory_seq_rm(mem, s.id, -1, -1);
    }
    s.last_used = ++clock_;

    s.request = r.id;
    s.params = p;
    s.max_new_tokens = r.max_new_tokens;
    s.stops.clear();
    s.eog_stop = -1;
    if (!p.ignoreEndOfText && !end_of_text_.empty()) {
        // the end-of-text marker as text ends a generation like the token itself: Phi-2's walkthrough cuts there
        s.stops.push_back(end_of_text_);
        s.eog_stop = 0;
    }
    s.stops.insert(s.stops.end(), p.stopStrings.begin(), p.stopStrings.end());
    s.sampler = std::move(chain);
    s.grammar = std::move(grammar);
    s.prompt = std::move(r.prompt);
    s.cached.assign(s.prompt.begin(), s.prompt.begin() + (long) keep);
    s.prompt_pos = keep;
    s.prompt_evaluated = 0;
    s.n_past = (int32_t) keep;
    s.generated = 0;
    s.last_token = -1;
    s.batch_index = -1;
    s.text.clear();
    s.released = 0;
    s.longest_stop = 0;
    for (const auto & stop : s.stops) s.longest_stop = std::max(s.longest_stop, stop.size());
    s.t_start = now_ns();
    s.t_prompt_done = s.t_last = 0;
    s.state = Slot::State::PROMPT;
    put<uint8_t>(out, EVENT_ADMITTED);
    put<int32_t>(out, s.request);
    put<int32_t>(out, s.id);
    put<int32_t>(out, (int32_t) keep);
    return true;
}

void Engine::finish(Slot & s, Stop why, std::vector<uint8_t> & out) {
    const int64_t t = now_ns();
    if (s.t_prompt_done == 0) s.t_prompt_done = t;
    if (s.t_last == 0) s.t_last = s.t_prompt_done;
    std::string tail;
    if (why != Stop::STOP_STRING && why != Stop::END_OF_TEXT) {
        // nothing is held back any more; but a cancelled text keeps to whole characters, so that it stays a prefix of
        // what the full generation would have said (an unfinished UTF-8 character would decode to U+FFFD)
        size_t end = s.text.size();
        if (why == Stop::CANCELLED) end -= incomplete_utf8_tail(s.text, end);
        tail = s.text.substr(s.released, end > s.released ? end - s.released : 0);
    }
    s.released = s.text.size();
    put<uint8_t>(out, EVENT_DONE);
    put<int32_t>(out, s.request);
    put<int32_t>(out, (int32_t) why);
    put<int32_t>(out, (int32_t) s.prompt.size());
    put<int32_t>(out, s.prompt_evaluated);
    put<int32_t>(out, s.generated);
    put<int64_t>(out, s.t_prompt_done - s.t_start);
    put<int64_t>(out, s.t_last - s.t_prompt_done);
    put_bytes(out, tail);
    s.sampler.reset();
    s.grammar.reset();
    s.request = -1;
    s.state = Slot::State::IDLE;
    boundary_ = true;
}

// The next token of slot s from output row `row`. With a grammar, as llama.cpp's common sampler does: the chain chooses
// from every token first, and only when the grammar refuses that choice is the grammar applied to the whole vocabulary
// and the choice made again (a model that follows the grammar, as a real one mostly does, costs one check per token,
// not a pass over the vocabulary). The same token either way for greedy decoding.
int32_t Engine::sample(Slot & s, int32_t row) {
    if (!s.grammar) {
        return llama_sampler_sample(s.sampler.get(), ctx_, row);
    }
    const float * logits = llama_get_logits_ith(ctx_, row);
    const int32_t nv = llama_vocab_n_tokens(vocab_);
    auto fill = [&]() {
        s.candidates.resize((size_t) nv);
        for (int32_t i = 0; i < nv; i++) s.candidates[(size_t) i] = llama_token_data{i, logits[i], 0.0f};
        return llama_token_data_array{s.candidates.data(), s.candidates.size(), -1, false};
    };
    llama_token_data_array all = fill();
    llama_sampler_apply(s.sampler.get(), &all);
    llama_token id = all.selected >= 0 && (size_t) all.selected < all.size ? all.data[all.selected].id : all.data[0].id;
    llama_token_data one_token{id, 1.0f, 0.0f};
    llama_token_data_array one{&one_token, 1, -1, false};
    llama_sampler_apply(s.grammar.get(), &one);
    if (std::isinf(one.data[0].logit)) { // refused: choose again among what the grammar allows
        all = fill();
        llama_sampler_apply(s.grammar.get(), &all);
        llama_sampler_apply(s.sampler.get(), &all);
        id = all.selected >= 0 && (size_t) all.selected < all.size ? all.data[all.selected].id : all.data[0].id;
    }
    llama_sampler_accept(s.grammar.get(), id);
    llama_sampler_accept(s.sampler.get(), id);
    return id;
}

void Engine::after_sample(Slot & s, int32_t token, int32_t batch_index, std::vector<uint8_t> & out) {
    const GenerationOptions & p = s.params;
    s.generated++;
    s.last_token = token;
    s.t_last = now_ns();
    if (s.generated == 1) {
        s.t_prompt_done = s.t_last;
        boundary_ = true;
    }

    // log-probabilities of the model's own distribution (before any sampler), for the chosen token and the top N
    float logprob = 0.0f;
    std::vector<std::pair<int32_t, float>> top;
    if (p.logprobs > 0) {
        const float * logits = llama_get_logits_ith(ctx_, batch_index);
        const int32_t nv = llama_vocab_n_tokens(vocab_);
        if (logits) {
            float max = logits[0];
            for (int32_t i = 1; i < nv; i++) max = std::max(max, logits[i]);
            double sum = 0;
            for (int32_t i = 0; i < nv; i++) sum += std::exp((double) (logits[i] - max));
            const float lse = max + (float) std::log(sum);
            logprob = logits[token] - lse;
            std::vector<int32_t> ids((size_t) nv);
            for (int32_t i = 0; i < nv; i++) ids[(size_t) i] = i;
            const int32_t n = std::min(p.logprobs, nv);
            std::partial_sort(ids.begin(), ids.begin() + n, ids.end(),
                              [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
            for (int32_t i = 0; i < n; i++) top.emplace_back(ids[(size_t) i], logits[ids[(size_t) i]] - lse);
        }
    }

    const bool eog = !p.ignoreEndOfText && llama_vocab_is_eog(vocab_, token);
    const std::string token_text = piece(token);
    if (!eog) {
        s.text += token_text;
    }

    // Stop strings: search only where a new match can end (the new text and a stop string's length before it).
    bool stopped = false;
    Stop stop = Stop::LENGTH;
    size_t cut = s.text.size();
    if (!eog && !s.stops.empty()) {
        const size_t from = s.released >= s.longest_stop ? s.released - s.longest_stop : 0;
        size_t best = std::string::npos;
        int32_t which = -1;
        for (size_t i = 0; i < s.stops.size(); i++) {
            const size_t at = s.text.find(s.stops[i], from);
            if (at != std::string::npos && at < best) {
                best = at;
                which = (int32_t) i;
            }
        }
        if (which >= 0) {
            stopped = true;
            stop = which == s.eog_stop ? Stop::END_OF_TEXT : Stop::STOP_STRING;
            cut = std::max(best, s.released);
        }
    }
    if (eog) {
        stopped = true;
        stop = Stop::END_OF_TEXT;
    }

    // Release text, holding back a possible stop-string prefix and an unfinished UTF-8 character.
    size_t release_to = cut;
    if (!stopped) {
        size_t hold = 0;
        for (const auto & st : s.stops) {
            for (size_t k = std::min(st.size() - 1, s.text.size()); k > hold; k--) {
                if (s.text.compare(s.text.size() - k, k, st, 0, k) == 0) {
                    hold = k;
                    break;
                }
            }
        }
        release_to = s.text.size() - hold;
        release_to -= incomplete_utf8_tail(s.text, release_to);
        release_to = std::max(release_to, s.released);
    }
    const std::string released = s.text.substr(s.released, release_to - s.released);
    s.released = release_to;
    if (stopped) {
        s.text.resize(cut);
    }

    put<uint8_t>(out, EVENT_TOKEN);
    put<int32_t>(out, s.request);
    put<int32_t>(out, token);
    put<float>(out, logprob);
    put_bytes(out, token_text);
    put<int32_t>(out, (int32_t) top.size());
    for (const auto & t : top) {
        put<int32_t>(out, t.first);
        put<float>(out, t.second);
        put_bytes(out, piece(t.first));
    }
    put_bytes(out, released);

    if (!stopped && s.generated >= s.max_new_tokens) stopped = true;
    if (!stopped && s.n_past + 1 >= (int32_t) llama_n_ctx_seq(ctx_)) stopped = true; // no room for this token's KV
    if (stopped) {
        finish(s, stop, out);
    } else {
        s.state = Slot::State::GENERATING;
    }
}

void Engine::wake() {
    wake_ = true;
}

bool Engine::run(std::vector<uint8_t> & out, int64_t budget_ns) {
    out.clear();
    const int64_t t0 = now_ns();
    bool any = false;
    boundary_ = false;
    do {
        any |= step(out);
        // a wake() from before this call counts too: its work is queued on the caller's side
        if (boundary_ || wake_.exchange(false) || now_ns() - t0 >= budget_ns) break;
    } while (active() > 0);
    return any;
}

int32_t Engine::kv_cells() const {
    return (int32_t) llama_n_ctx(ctx_);
}

void Engine::publish_kv_used() {
    int32_t used = 0;
    for (const auto & s : slots_) {
        if (s->state != Slot::State::IDLE) used += s->n_past;
    }
    kv_used_.store(used, std::memory_order_relaxed);
}

bool Engine::step(std::vector<uint8_t> & out) {
    const bool any = decode_step(out);
    publish_kv_used();
    return any;
}

bool Engine::decode_step(std::vector<uint8_t> & out) {
    const size_t events_before = out.size();
    // cancellations first: a cancelled request takes no part in this decode, waiting or running
    std::vector<int32_t> cancelled;
    {
        std::lock_guard<std::mutex> lock(cancel_mutex_);
        cancelled.swap(cancelled_);
    }
    for (int32_t id : cancelled) {
        for (auto it = queue_.begin(); it != queue_.end(); ++it) {
            if ((*it)->id == id) {
                put<uint8_t>(out, EVENT_DONE); // never admitted: nothing evaluated, nothing generated
                put<int32_t>(out, id);
                put<int32_t>(out, (int32_t) Stop::CANCELLED);
                put<int32_t>(out, (int32_t) (*it)->prompt.size());
                put<int32_t>(out, 0);
                put<int32_t>(out, 0);
                put<int64_t>(out, 0);
                put<int64_t>(out, 0);
                put_bytes(out, "");
                boundary_ = true;
                queue_.erase(it);
                break;
            }
        }
        for (auto & sp : slots_) {
            if (sp->state != Slot::State::IDLE && sp->request == id) finish(*sp, Stop::CANCELLED, out);
        }
    }
    admit(out);
    llama_batch & b = *batch_;
    b.n_tokens = 0;
    const int32_t n_batch = (int32_t) llama_n_batch(ctx_);
    auto add = [&](Slot & s, int32_t token, bool logits) {
        const int32_t k = b.n_tokens++;
        b.token[k] = token;
        b.pos[k] = s.n_past++;
        b.n_seq_id[k] = 1;
        b.seq_id[k][0] = s.id;
        b.logits[k] = logits;
        s.cached.push_back(token);
        if (logits) s.batch_index = k;
    };
    for (auto & sp : slots_) {
        Slot & s = *sp;
        s.batch_index = -1;
        if (s.state == Slot::State::GENERATING) {
            add(s, s.last_token, true);
        }
    }
    for (auto & sp : slots_) {
        Slot & s = *sp;
        if (s.state != Slot::State::PROMPT) continue;
        while (s.prompt_pos < s.prompt.size() && b.n_tokens < n_batch) {
            const bool last = s.prompt_pos + 1 == s.prompt.size();
            add(s, s.prompt[s.prompt_pos++], last);
            s.prompt_evaluated++;
        }
    }
    if (b.n_tokens == 0) {
        return out.size() > events_before;
    }
    const int32_t rc = llama_decode(ctx_, b);
    if (rc != 0) {
        const std::string why = rc == 1 ? "no room in the KV cache for this batch (llama_decode returned 1)"
                                        : "llama_decode failed (" + std::to_string(rc) + ")";
        for (auto & sp : slots_) {
            Slot & s = *sp;
            bool in_batch = false;
            for (int32_t k = 0; k < b.n_tokens && !in_batch; k++) in_batch = b.seq_id[k][0] == s.id;
            if (in_batch) {
                fail(s.request, native_error(why), out);
                s.cached.clear();
                llama_memory_seq_rm(llama_get_memory(ctx_), s.id, -1, -1);
                s.sampler.reset();
                s.grammar.reset();
                s.request = -1;
                s.state = Slot::State::IDLE;
            }
        }
        return true;
    }
    for (auto & sp : slots_) {
        Slot & s = *sp;
        if (s.state == Slot::State::IDLE || s.batch_index < 0) continue;
        const int32_t token = sample(s, s.batch_index);
        after_sample(s, token, s.batch_index, out);
    }
    return true;
}

} // namespace phi2j
