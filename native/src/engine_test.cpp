// The engine's own test, without a JVM: run it on a small Phi-2 GGUF (phi2 synth makes one), also under ASan
// (cmake -DPHI2J_SANITIZE=ON). Usage: phi2j_engine_test MODEL.gguf. Exits 1 on the first failed check.
#include "engine.h"

#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace {

int failures = 0;
int checks = 0;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        checks++;                                                               \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            std::fprintf(stderr, "FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                  \
            std::fprintf(stderr, "\n");                                         \
        }                                                                       \
    } while (0)

struct Done {
    int32_t slot = -1, stop = -1, prompt = 0, evaluated = 0, generated = 0;
    std::string tail, error;
};

struct Run {
    std::vector<int32_t> tokens;
    std::string text;
    Done done;
    bool finished = false;
};

template <typename T> T take(const std::vector<uint8_t> & b, size_t & at) {
    T v;
    std::memcpy(&v, b.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
}

std::string get_bytes(const std::vector<uint8_t> & b, size_t & at) {
    const int32_t n = take<int32_t>(b, at);
    std::string s(reinterpret_cast<const char *>(b.data() + at), (size_t) n);
    at += (size_t) n;
    return s;
}

// Decodes one step's events into the runs of their slots (the format engine.h documents).
void apply_events(const std::vector<uint8_t> & b, std::vector<Run> & runs) {
    size_t at = 0;
    while (at < b.size()) {
        const uint8_t kind = take<uint8_t>(b, at);
        const int32_t slot = take<int32_t>(b, at);
        Run & r = runs[(size_t) slot];
        if (kind == phi2j::EVENT_TOKEN) {
            r.tokens.push_back(take<int32_t>(b, at));
            take<float>(b, at);
            get_bytes(b, at);
            const int32_t n_top = take<int32_t>(b, at);
            for (int32_t i = 0; i < n_top; i++) {
                take<int32_t>(b, at);
                take<float>(b, at);
                get_bytes(b, at);
            }
            r.text += get_bytes(b, at);
        } else {
            CHECK(kind == phi2j::EVENT_DONE, "unknown event kind %d", kind);
            Done & d = r.done;
            d.slot = slot;
            d.stop = take<int32_t>(b, at);
            d.prompt = take<int32_t>(b, at);
            d.evaluated = take<int32_t>(b, at);
            d.generated = take<int32_t>(b, at);
            take<int64_t>(b, at);
            take<int64_t>(b, at);
            d.tail = get_bytes(b, at);
            d.error = get_bytes(b, at);
            r.text += d.tail;
            r.finished = true;
        }
    }
}

void drain(phi2j::Engine & e, std::vector<Run> & runs, int max_steps = 10000) {
    std::vector<uint8_t> events;
    for (int i = 0; i < max_steps && e.active() > 0; i++) {
        events.clear();
        e.step(events);
        apply_events(events, runs);
    }
}

phi2j::SamplingParams greedy(int n) {
    phi2j::SamplingParams p;
    p.max_new_tokens = n;
    p.ignore_eog = true;
    return p;
}

} // namespace

int main(int argc, char ** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
        return 2;
    }
    phi2j::set_log_sink([](int level, const char * text, void *) {
        if (level >= 3) std::fputs(text, stderr); // warnings and errors only
    }, nullptr);

    std::string err;
    phi2j::ModelParams mp;
#ifdef PHI2J_TEST_BACKEND_DIR
    mp.backend_dir = PHI2J_TEST_BACKEND_DIR; // a portable build's backend modules: where this tree put them
#endif
    const phi2j::BackendLoad & backends = phi2j::load_backends(mp.backend_dir);
    CHECK(!backends.registered.empty(), "no backend registered from '%s'", mp.backend_dir.c_str());
    CHECK(backends.failed_files.empty(), "a module failed to load: %s", backends.failed_files.empty() ? "" : backends.failed_errors[0].c_str());
#ifdef GGML_BACKEND_DL
    CHECK(backends.dynamic && !backends.cpu_variant.empty(), "a portable build names the CPU variant ggml chose");
#endif
    mp.path = "/nonexistent/model.gguf";
    CHECK(!phi2j::Engine::load(mp, err) && err.find("/nonexistent/model.gguf") != std::string::npos, "error: %s", err.c_str());

    mp.path = argv[1];
    mp.n_ctx = 256;
    mp.n_parallel = 2;
    mp.n_threads = 2;
    mp.embeddings = true;
    auto e = phi2j::Engine::load(mp, err);
    if (!e) {
        std::fprintf(stderr, "cannot load %s: %s\n", argv[1], err.c_str());
        return 1;
    }
    CHECK(e->n_ctx_seq() == e->n_ctx() / 2, "n_ctx_seq %d of %d", e->n_ctx_seq(), e->n_ctx());

    std::vector<int32_t> prompt;
    CHECK(e->tokenize("The quick brown fox", prompt, err) && !prompt.empty(), "tokenize: %s", err.c_str());
    std::string back;
    CHECK(e->detokenize(prompt, back, err) && back == "The quick brown fox", "detokenize gave '%s'", back.c_str());
    CHECK(!e->detokenize({e->n_vocab()}, back, err), "an id outside the vocabulary is refused");

    // exact counts and LENGTH
    std::vector<Run> runs(2);
    CHECK(e->start(0, prompt, greedy(12), err), "start: %s", err.c_str());
    CHECK(!e->start(0, prompt, greedy(12), err) && err.find("busy") != std::string::npos, "a busy slot is refused: %s", err.c_str());
    drain(*e, runs);
    CHECK(runs[0].finished && runs[0].done.stop == (int) phi2j::Stop::LENGTH, "stop %d", runs[0].done.stop);
    CHECK(runs[0].done.generated == 12 && runs[0].tokens.size() == 12, "generated %d, streamed %zu", runs[0].done.generated, runs[0].tokens.size());
    CHECK(runs[0].done.prompt == (int) prompt.size(), "prompt %d", runs[0].done.prompt);
    std::string expect;
    CHECK(e->detokenize(runs[0].tokens, expect, err) && expect == runs[0].text, "streamed text equals the detokenized ids");

    // greedy is deterministic, also when two sequences share the batch
    std::vector<Run> two(2);
    CHECK(e->start(0, prompt, greedy(12), err) && e->start(1, prompt, greedy(12), err), "start two: %s", err.c_str());
    drain(*e, two);
    CHECK(two[0].tokens == runs[0].tokens && two[1].tokens == runs[0].tokens, "batched greedy equals alone");

    // run(): the first token is a batch of its own (exact time to first token), then tokens come in batches
    {
        std::vector<Run> r(2);
        CHECK(e->start(0, prompt, greedy(12), err), "start: %s", err.c_str());
        std::vector<uint8_t> ev;
        e->run(ev, 1000000000LL);
        apply_events(ev, r);
        CHECK(r[0].tokens.size() == 1 && !r[0].finished, "the first run ends at the first token: %zu", r[0].tokens.size());
        e->run(ev, 1000000000LL);
        apply_events(ev, r);
        CHECK(r[0].tokens.size() == 12 && r[0].finished && r[0].tokens == runs[0].tokens, "the second run goes to the end: %zu",
              r[0].tokens.size());
        CHECK(!e->run(ev, 1000) && ev.empty(), "nothing to do");
    }

    // a stop string: the text ends before it, the stop reason says so
    if (runs[0].text.size() > 4) {
        phi2j::SamplingParams p = greedy(12);
        const std::string stop = runs[0].text.substr(3, 2);
        p.stops = {stop};
        std::vector<Run> s(2);
        CHECK(e->start(1, prompt, p, err), "start: %s", err.c_str());
        drain(*e, s);
        const std::string want = runs[0].text.substr(0, runs[0].text.find(stop));
        CHECK(s[1].done.stop == (int) phi2j::Stop::STOP_STRING && s[1].text == want, "stop %d text '%s' want '%s'", s[1].done.stop,
              s[1].text.c_str(), want.c_str());
    }

    // cancel between tokens
    std::vector<Run> c(2);
    CHECK(e->start(0, prompt, greedy(100), err), "start: %s", err.c_str());
    std::vector<uint8_t> events;
    e->step(events);
    apply_events(events, c);
    CHECK(c[0].tokens.size() == 1, "one step, one token");
    e->cancel(0);
    drain(*e, c);
    CHECK(c[0].done.stop == (int) phi2j::Stop::CANCELLED && c[0].done.generated == 1, "stop %d generated %d", c[0].done.stop,
          c[0].done.generated);

    // bad requests are refused with a reason, and the engine stays usable
    CHECK(!e->start(0, {e->n_vocab() + 5}, greedy(1), err), "an out-of-vocabulary prompt is refused");
    CHECK(!e->start(0, prompt, greedy(1000), err) && err.find("exceed") != std::string::npos, "too long: %s", err.c_str());
    CHECK(!e->start(7, prompt, greedy(1), err), "a slot that does not exist is refused");
    CHECK(!e->start(0, {}, greedy(1), err), "an empty prompt is refused");

    // embeddings: unit length, and the same text gives the same vector
    std::vector<float> v1, v2;
    CHECK(e->embed("The quick brown fox", v1, err) && e->embed("The quick brown fox", v2, err), "embed: %s", err.c_str());
    double norm = 0;
    for (float x : v1) norm += (double) x * x;
    CHECK(std::abs(norm - 1.0) < 1e-3 && v1 == v2, "norm %f", norm);

    // logprobs: the chosen greedy token is the top-1 alternative
    {
        phi2j::SamplingParams p = greedy(3);
        p.n_probs = 3;
        CHECK(e->start(0, prompt, p, err), "start: %s", err.c_str());
        std::vector<uint8_t> ev;
        bool seen = false;
        while (e->active() > 0) {
            ev.clear();
            e->step(ev);
            size_t at = 0;
            while (at < ev.size()) {
                const uint8_t kind = take<uint8_t>(ev, at);
                take<int32_t>(ev, at);
                if (kind != phi2j::EVENT_TOKEN) break;
                const int32_t tok = take<int32_t>(ev, at);
                const float lp = take<float>(ev, at);
                get_bytes(ev, at);
                const int32_t n = take<int32_t>(ev, at);
                CHECK(n == 3, "n_top %d", n);
                const int32_t top_id = take<int32_t>(ev, at);
                const float top_lp = take<float>(ev, at);
                CHECK(top_id == tok && top_lp == lp && lp <= 0.0f, "token %d lp %f top %d %f", tok, lp, top_id, top_lp);
                seen = true;
                break;
            }
        }
        CHECK(seen, "logprob events arrived");
    }

    e.reset();
    std::printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
