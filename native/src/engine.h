// phi2j's native engine: one llama.cpp model and context, and a decode loop that serves up to n_parallel
// generations at once (continuous batching: one llama_decode per step for every active sequence, each with
// its own KV sequence and sampler chain). Plain C++ over llama.h only; no exceptions leave this file's API:
// every failure is a returned error string. Not thread-safe, except cancel(): one thread drives an Engine.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct llama_model;
struct llama_context;
struct llama_vocab;
struct llama_sampler;
struct llama_batch;
struct ggml_threadpool;

namespace phi2j {

struct ModelParams {
    std::string path;
    std::string backend_dir;    // a portable build's folder: its backend modules are loaded from there (load_backends)
    int32_t n_ctx = 0;          // 0: the model's training context
    int32_t n_threads = 0;      // 0: every core
    int32_t n_gpu_layers = 0;   // -1: all
    int32_t split_mode = 1;     // llama_split_mode: 0 none, 1 layer, 2 row
    std::vector<float> tensor_split;
    int32_t main_gpu = 0;
    int32_t n_batch = 0;        // 0: 2048, as llama.cpp
    int32_t n_ubatch = 0;       // 0: 512, as llama.cpp
    int32_t n_parallel = 1;     // sequences decoded together
    int32_t flash_attn = -1;    // llama_flash_attn_type: -1 auto, 0 off, 1 on
    bool embeddings = false;    // keep the last hidden state (pooling LAST) for embed()
};

struct SamplingParams {
    float temperature = 0.0f;   // 0: greedy
    int32_t top_k = 40;
    float top_p = 0.95f;
    float min_p = 0.05f;
    float repeat_penalty = 1.0f;
    int32_t repeat_last_n = 64;
    uint32_t seed = 0xFFFFFFFFu;   // LLAMA_DEFAULT_SEED: random
    int32_t n_probs = 0;           // top-N log-probabilities per generated token
    int32_t max_new_tokens = 1;
    bool ignore_eog = false;       // benchmarks: go on past end-of-generation tokens
    bool cache_prompt = false;     // keep the KV prefix this prompt shares with the slot's previous one
    std::vector<std::string> stops;
    int32_t eog_stop = -1;         // index into stops of the end-of-text marker as text, reported as END_OF_TEXT
};

// Why a generation ended; the ids are the Java enum's (phi2j.runtime.StopReason) plus ERROR.
enum class Stop : int32_t { NONE = -1, END_OF_TEXT = 0, STOP_STRING = 1, LENGTH = 2, CANCELLED = 3, ERROR = 4 };

// Events of one step, serialized little-endian into a byte buffer the JNI layer hands to Java unchanged:
//   TOKEN: u8 1 | i32 slot | i32 token | f32 logprob | i32 len | bytes (the token's own text)
//          | i32 n_top | n_top x (i32 id | f32 logprob | i32 len | bytes)
//          | i32 len | bytes (the text released by this token; may be empty while a stop string or a UTF-8
//          character is still incomplete)
//   DONE:  u8 2 | i32 slot | i32 stop | i32 prompt tokens | i32 prompt tokens evaluated | i32 generated tokens
//          | i64 prompt ns | i64 decode ns | i32 len | bytes (text released at the end) | i32 len | bytes (error)
enum EventKind : uint8_t { EVENT_TOKEN = 1, EVENT_DONE = 2 };

struct Slot;

class Engine {
public:
    // Loads the model and creates the context; nullptr and a message in err on failure.
    static std::unique_ptr<Engine> load(const ModelParams & params, std::string & err);
    ~Engine();
    Engine(const Engine &) = delete;
    Engine & operator=(const Engine &) = delete;

    int32_t n_ctx() const;
    int32_t n_ctx_seq() const;      // what one sequence may hold
    int32_t n_parallel() const;
    int32_t n_vocab() const;
    int32_t eos() const;

    bool tokenize(const std::string & text, std::vector<int32_t> & out, std::string & err) const;
    bool detokenize(const std::vector<int32_t> & tokens, std::string & out, std::string & err) const;
    // The final hidden state of the last token (after the output norm), L2-normalized. Needs an idle slot.
    bool embed(const std::string & text, std::vector<float> & out, std::string & err);

    // Begins a generation in slot `slot` (0 .. n_parallel-1, idle); the prompt is evaluated by later steps.
    bool start(int32_t slot, const std::vector<int32_t> & prompt, const SamplingParams & params, std::string & err);
    // Thread-safe: the slot ends with CANCELLED at the next step.
    void cancel(int32_t slot);
    bool idle(int32_t slot) const;
    int32_t active() const;

    // One decode for every active slot: prompt chunks and one new token per generating slot. Appends events to
    // `out`. Returns false only when there was nothing to do.
    bool step(std::vector<uint8_t> & out);

    // Steps until a boundary, collecting the events in `out` (cleared first): a generation's first token or its
    // end, `budget_ns` elapsed, wake() called, or nothing left to do. One call then carries many tokens, so the
    // caller's per-call work (JNI, frames, wake-ups) is paid per batch, not per token. Returns false when idle.
    bool run(std::vector<uint8_t> & out, int64_t budget_ns);
    // Thread-safe: makes a run() in progress return after its current step (new work is waiting).
    void wake();

private:
    Engine() = default;
    void finish(Slot & s, Stop why, std::vector<uint8_t> & out, const std::string & error = "");
    void after_sample(Slot & s, int32_t token, int32_t batch_index, std::vector<uint8_t> & out);
    std::string piece(int32_t token) const;

    llama_model * model_ = nullptr;
    llama_context * ctx_ = nullptr;
    const llama_vocab * vocab_ = nullptr;
    ggml_threadpool * threadpool_ = nullptr;
    void (*threadpool_free_)(ggml_threadpool *) = nullptr;
    std::unique_ptr<llama_batch> batch_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::unique_ptr<std::atomic<bool>[]> cancel_;
    bool embeddings_ = false;
    bool boundary_ = false;            // set by a first token or an end; run() returns after that step
    std::atomic<bool> wake_{false};
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

// Routes llama.cpp's log: to a callback when set, else to stderr (the runner's stderr is read line by line
// into the phi2j.runner logger). Level names as ggml's: 1 debug, 2 info, 3 warn, 4 error, 5 cont.
void set_log_sink(void (*sink)(int level, const char * text, void * user), void * user);

} // namespace phi2j
