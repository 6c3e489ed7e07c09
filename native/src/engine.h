// phi2j's native engine: one llama.cpp model and context, the requests waiting for it, and a decode loop that serves
// up to n_parallel of them at once (continuous batching: one llama_decode per step for every active sequence, each
// with its own KV sequence and sampler chain). The engine owns its slots and their queue: callers submit requests by
// id and read events back. Plain C++ over llama.h only; no exceptions leave this file's API: every failure is a
// returned Error. Not thread-safe, except cancel() and wake(): one thread drives an Engine.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct llama_model;
struct llama_context;
struct llama_vocab;
struct llama_sampler;
struct llama_batch;
struct ggml_threadpool;

namespace phi2j {

// The value types options are made of, as the Java records hold them.
using Int = int32_t;
using Float = float;
using Bool = bool;
using String = std::string;
using OptLong = std::optional<int64_t>;
using Floats = std::vector<float>;
using Strings = std::vector<std::string>;

// Options cross into the engine as one keyed object each: jni.cpp reads every field of the Java record by the name and
// type listed here (phi2j.runtime.internal.EngineParams, phi2j.runtime.GenerationOptions), so a new option is a line
// here and its use in engine.cpp. The defaults live in the Java records alone.
#define PHI2J_ENGINE_PARAMS(X) \
    X(String, path)            /* the GGUF file */ \
    X(String, backendDir)      /* a portable build's backend modules, loaded from there (load_backends); "" when linked in */ \
    X(Int, contextSize)        /* tokens, all sequences together */ \
    X(Int, threads) \
    X(Int, gpuLayers)          /* -1: all */ \
    X(Int, splitMode)          /* llama_split_mode */ \
    X(Floats, tensorSplit) \
    X(Int, mainGpu) \
    X(Int, batchSize)          /* 0: llama.cpp's 2048 */ \
    X(Int, parallel)           /* slots: sequences decoded together */ \
    X(Int, flashAttention)     /* llama_flash_attn_type */ \
    X(Bool, embeddings)        /* keep the last hidden state (pooling LAST) for embed() */ \
    X(Int, cacheRamMib)        /* host memory for the KV states of sequences that leave their slot; 0: off */ \
    X(Bool, allowCpuFallback)  /* gpuLayers with no GPU device: run on the CPU with a warning instead of refusing */

#define PHI2J_GENERATION_OPTIONS(X) \
    X(Float, temperature)      /* 0: greedy */ \
    X(Int, topK) \
    X(Float, topP) \
    X(Float, minP) \
    X(Float, repetitionPenalty) \
    X(Float, presencePenalty)  /* 0: off */ \
    X(OptLong, seed)           /* none: random */ \
    X(Strings, stopStrings) \
    X(Bool, ignoreEndOfText)   /* benchmarks: go on past end-of-generation tokens */ \
    X(Bool, cachePrompt)       /* start from the cached KV prefix this prompt shares with a slot or the host cache */ \
    X(Int, logprobs)           /* top-N log-probabilities per generated token */ \
    X(String, grammar)         /* GBNF the text must follow, or "" */ \
    X(String, jsonSchema)      /* a JSON schema the text must follow (llama.cpp's converter makes it GBNF), or "" */

#define PHI2J_FIELD(type, name) type name{};
struct ModelParams {
    PHI2J_ENGINE_PARAMS(PHI2J_FIELD)
};
struct GenerationOptions {
    PHI2J_GENERATION_OPTIONS(PHI2J_FIELD)
};
#undef PHI2J_FIELD

// Tables both sides check: the Java enums must list the same names in the same order (NativeEngine compares them
// with stop_reason_names(), error_kind_names() and event_kind_names() when it loads the engine).
enum class Stop : int32_t { END_OF_TEXT = 0, STOP_STRING = 1, LENGTH = 2, CANCELLED = 3 };
enum class ErrorKind : int32_t { OPTION = 0, LIBRARY = 1, MODEL = 2, NATIVE = 3 };
// Events, serialized little-endian into the buffer run() fills, each led by u8 kind | i32 request id:
//   ADMITTED: i32 slot | i32 prompt tokens taken from the slot's cache (not evaluated again)
//   TOKEN:    i32 token | f32 logprob | i32 len | bytes (the token's own text)
//             | i32 n_top | n_top x (i32 id | f32 logprob | i32 len | bytes)
//             | i32 len | bytes (the text released by this token; empty while a stop string or a UTF-8 character is
//               still incomplete)
//   DONE:     i32 stop | i32 prompt tokens | i32 prompt tokens evaluated | i32 generated tokens | i64 prompt ns
//             | i64 decode ns | i32 len | bytes (text released at the end)
//   FAILED:   i32 error kind | i32 len | bytes (the field, or empty) | i32 len | bytes (the message)
// phi2j.runtime.internal.EventCodec reads and writes exactly this.
enum EventKind : uint8_t { EVENT_ADMITTED = 1, EVENT_TOKEN = 2, EVENT_DONE = 3, EVENT_FAILED = 4 };
const std::vector<std::string> & stop_reason_names();
const std::vector<std::string> & error_kind_names();
const std::vector<std::string> & event_kind_names();

// A refusal: which kind, the option it concerns (as the Java records name it), and why.
struct Error {
    ErrorKind kind = ErrorKind::NATIVE;
    std::string field;
    std::string message;
};

// The engine's sizes, named.
struct Info {
    int32_t n_ctx = 0;
    int32_t n_ctx_seq = 0;   // what one sequence may hold
    int32_t n_parallel = 0;
    int32_t n_vocab = 0;
    int32_t eos = 0;
    // where load() spent its time, in microseconds: llama.cpp's model load (mapping, reading, repacking the weights),
    // the context (KV cache, compute buffers), and the warm-up decode
    int64_t model_us = 0;
    int64_t context_us = 0;
    int64_t warmup_us = 0;
};

// What load_backends found. A portable build (GGML_BACKEND_DL) has its backends as modules in the engine's folder:
// every CPU variant, of which ggml loads the best one this CPU runs, and any GPU module dropped beside them.
struct BackendLoad {
    bool dynamic = false;                 // the backends are modules (a portable build); false: linked in
    std::string dir;
    std::string cpu_variant;              // the CPU module ggml chose: libggml-cpu-zen4.so is "zen4"; "" when linked in
    std::vector<std::string> registered;  // ggml's backends after loading: "CPU", "Vulkan", ...
    std::vector<std::string> failed_files;   // GPU modules that could not be loaded,
    std::vector<std::string> failed_errors;  // and why (the loader's message names the missing library)
};

// Loads the backend modules in `dir` once per process; later calls return the first report (ggml's registry is
// process-wide). A module that cannot be loaded (its GPU runtime is missing) is reported, and the others still load.
const BackendLoad & load_backends(const std::string & dir);

// Where llama.cpp put the model, as its loader assigned it layer by layer and its KV cache placed each layer's cells
// (read from llama.cpp's own per-layer log records while it loads: llama.h has no call for it). Device names are
// ggml's ("CPU", "Vulkan0", "CUDA0", "ROCm0").
struct Placement {
    std::vector<std::string> layers;        // each repeating layer's device
    std::string output;                     // the output layer's
    std::vector<std::string> kv;            // each layer's KV cache
    std::vector<std::string> device_names;  // every device named above, once,
    std::vector<std::string> device_descriptions;  // with ggml's description ("llvmpipe (LLVM 19.1.7, 256 bits)")
};

struct Slot;
struct Request;
struct PlacementCapture;
struct SavedState;

class Engine {
public:
    // Loads the model and creates the context; nullptr and the error on failure.
    static std::unique_ptr<Engine> load(const ModelParams & params, Error & err);
    ~Engine();
    Engine(const Engine &) = delete;
    Engine & operator=(const Engine &) = delete;

    Info info() const;
    const Placement & placement() const { return placement_; }

    bool tokenize(const std::string & text, std::vector<int32_t> & out, Error & err) const;
    bool detokenize(const std::vector<int32_t> & tokens, std::string & out, Error & err) const;
    // The final hidden state of the last token (after the output norm), L2-normalized. Needs an idle slot.
    bool embed(const std::string & text, std::vector<float> & out, Error & err);

    // Queues request `id` (unique among those not finished): its prompt is evaluated once a slot takes it, in arrival
    // order. Checked here; a refusal is returned and nothing is queued.
    bool submit(int32_t id, const std::vector<int32_t> & prompt, int32_t max_new_tokens, const GenerationOptions & options,
                Error & err);
    // Thread-safe: request `id` ends with CANCELLED at the next step, waiting or running; unknown ids are ignored.
    void cancel(int32_t id);
    // Requests taken by a slot, and waiting for one.
    int32_t active() const;
    int32_t waiting() const;
    bool has_idle_slot() const;
    // Thread-safe: KV cells held by the sequences of running requests (prompt and generated tokens), as of the last
    // step; a slot's cached prefix kept for reuse after its request ended is not counted (it is given up on demand).
    int32_t kv_cells_used() const { return kv_used_.load(std::memory_order_relaxed); }
    // All KV cells of the context, shared by the slots.
    int32_t kv_cells() const;

    // One decode for every active slot: prompt chunks and one new token per generating slot, after slots take
    // waiting requests. Appends events to `out`. Returns false only when there was nothing to do.
    bool step(std::vector<uint8_t> & out);

    // Steps until a boundary, collecting the events in `out` (cleared first): a generation's first token or its
    // end, `budget_ns` elapsed, wake() called, or nothing left to do. One call then carries many tokens, so the
    // caller's per-call work (JNI, frames, wake-ups) is paid per batch, not per token. Returns false when idle.
    bool run(std::vector<uint8_t> & out, int64_t budget_ns);
    // Thread-safe: makes a run() in progress return after its current step (new work is waiting).
    void wake();

private:
    Engine() = default;
    bool decode_step(std::vector<uint8_t> & out);
    void publish_kv_used();
    bool place(const PlacementCapture & placed, const ModelParams & p, Error & err);
    void admit(std::vector<uint8_t> & out);
    Slot * choose_slot(const Request & r);
    void save_slot(const Slot & s);
    size_t restore_best(Slot & s, const std::vector<int32_t> & prompt, size_t have);
    bool begin(Slot & s, Request & r, std::vector<uint8_t> & out);
    void finish(Slot & s, Stop why, std::vector<uint8_t> & out);
    void fail(int32_t id, const Error & err, std::vector<uint8_t> & out);
    int32_t sample(Slot & s, int32_t row);
    void after_sample(Slot & s, int32_t token, int32_t batch_index, std::vector<uint8_t> & out);
    std::string piece(int32_t token) const;

    llama_model * model_ = nullptr;
    llama_context * ctx_ = nullptr;
    const llama_vocab * vocab_ = nullptr;
    ggml_threadpool * threadpool_ = nullptr;
    void (*threadpool_free_)(ggml_threadpool *) = nullptr;
    std::unique_ptr<llama_batch> batch_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::deque<std::unique_ptr<Request>> queue_;
    std::vector<SavedState> saved_;    // the host cache (cacheRamMib): KV states of sequences that left their slot
    size_t saved_bytes_ = 0;
    size_t saved_limit_ = 0;
    uint64_t clock_ = 0;               // counts slot and cache uses: the least recently used goes first
    std::string end_of_text_;          // the end-of-text token as text: ends a generation like the token itself
    mutable std::mutex cancel_mutex_;
    std::vector<int32_t> cancelled_;   // ids to cancel, taken by the next step
    std::atomic<int32_t> kv_used_{0};  // kv_cells_used(), published after each step
    Placement placement_;
    int64_t model_us_ = 0, context_us_ = 0, warmup_us_ = 0;
    bool embeddings_ = false;
    bool boundary_ = false;            // set by a first token or an end; run() returns after that step
    std::atomic<bool> wake_{false};
};

// Routes llama.cpp's log: to a callback when set, else to stderr (the runner's stderr is read line by line
// into the phi2j.runner logger). Level names as ggml's: 1 debug, 2 info, 3 warn, 4 error, 5 cont.
void set_log_sink(void (*sink)(int level, const char * text, void * user), void * user);

} // namespace phi2j
