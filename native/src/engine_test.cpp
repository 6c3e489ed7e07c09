// The engine's own test, without a JVM: run it on a small Phi-2 GGUF (phi2 synth makes one), also under ASan
// (scripts/build-native.sh --sanitize: phi2j_engine_test_asan). Usage: phi2j_engine_test MODEL.gguf. Exits 1 on the
// first failed check.
#include "engine.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
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

struct Top {
    int32_t id = 0;
    float logprob = 0;
};

struct Run {
    int32_t slot = -1, cached = -1;
    std::vector<int32_t> tokens;
    std::vector<float> logprobs;
    std::vector<std::vector<Top>> tops;
    std::string text;
    bool finished = false, failed = false;
    int32_t stop = -1, prompt = 0, evaluated = 0, generated = 0;
    int32_t error_kind = -1;
    std::string field, message;
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

// Decodes events into the runs of their requests (the layout engine.h documents).
void apply_events(const std::vector<uint8_t> & b, std::map<int32_t, Run> & runs) {
    size_t at = 0;
    while (at < b.size()) {
        const uint8_t kind = take<uint8_t>(b, at);
        Run & r = runs[take<int32_t>(b, at)];
        if (kind == phi2j::EVENT_ADMITTED) {
            r.slot = take<int32_t>(b, at);
            r.cached = take<int32_t>(b, at);
        } else if (kind == phi2j::EVENT_TOKEN) {
            r.tokens.push_back(take<int32_t>(b, at));
            r.logprobs.push_back(take<float>(b, at));
            get_bytes(b, at);
            const int32_t n_top = take<int32_t>(b, at);
            std::vector<Top> top;
            for (int32_t i = 0; i < n_top; i++) {
                Top t;
                t.id = take<int32_t>(b, at);
                t.logprob = take<float>(b, at);
                get_bytes(b, at);
                top.push_back(t);
            }
            r.tops.push_back(top);
            r.text += get_bytes(b, at);
        } else if (kind == phi2j::EVENT_DONE) {
            r.stop = take<int32_t>(b, at);
            r.prompt = take<int32_t>(b, at);
            r.evaluated = take<int32_t>(b, at);
            r.generated = take<int32_t>(b, at);
            take<int64_t>(b, at);
            take<int64_t>(b, at);
            r.text += get_bytes(b, at);
            r.finished = true;
        } else {
            CHECK(kind == phi2j::EVENT_FAILED, "unknown event kind %d", kind);
            r.error_kind = take<int32_t>(b, at);
            r.field = get_bytes(b, at);
            r.message = get_bytes(b, at);
            r.failed = r.finished = true;
        }
    }
}

void drain(phi2j::Engine & e, std::map<int32_t, Run> & runs, int max_steps = 10000) {
    std::vector<uint8_t> events;
    for (int i = 0; i < max_steps && (e.active() > 0 || e.waiting() > 0); i++) {
        events.clear();
        e.step(events);
        apply_events(events, runs);
    }
}

phi2j::GenerationOptions greedy() {
    phi2j::GenerationOptions o; // the Java record's defaults, which the engine does not hold
    o.topK = 40;
    o.topP = 0.95f;
    o.minP = 0.05f;
    o.repetitionPenalty = 1.0f;
    o.ignoreEndOfText = true;
    return o;
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

    // the tables Java checks its enums against
    CHECK(phi2j::stop_reason_names().size() == 4 && phi2j::stop_reason_names()[(int) phi2j::Stop::CANCELLED] == "CANCELLED", "stop names");
    CHECK(phi2j::error_kind_names()[(int) phi2j::ErrorKind::OPTION] == "OPTION", "error kind names");
    CHECK(phi2j::event_kind_names()[phi2j::EVENT_FAILED - 1] == "FAILED", "event kind names");

    phi2j::Error err;
    phi2j::ModelParams mp;
#ifdef PHI2J_TEST_BACKEND_DIR
    mp.backendDir = PHI2J_TEST_BACKEND_DIR; // a portable build's backend modules: where this tree put them
#endif
    const phi2j::BackendLoad & backends = phi2j::load_backends(mp.backendDir);
    CHECK(!backends.registered.empty(), "no backend registered from '%s'", mp.backendDir.c_str());
    CHECK(backends.failed_files.empty(), "a module failed to load: %s", backends.failed_files.empty() ? "" : backends.failed_errors[0].c_str());
#ifdef GGML_BACKEND_DL
    CHECK(backends.dynamic && !backends.cpu_variant.empty(), "a portable build names the CPU variant ggml chose");
#endif
    mp.path = "/nonexistent/model.gguf";
    mp.parallel = 1;
    mp.flashAttention = -1;
    CHECK(!phi2j::Engine::load(mp, err) && err.kind == phi2j::ErrorKind::MODEL && err.message.find("/nonexistent/model.gguf") != std::string::npos,
          "error: %s", err.message.c_str());
    mp.path = argv[1];
    mp.parallel = 0;
    CHECK(!phi2j::Engine::load(mp, err) && err.kind == phi2j::ErrorKind::OPTION && err.field == "parallel", "typed: %s %s",
          err.field.c_str(), err.message.c_str());

    mp.contextSize = 256;
    mp.parallel = 2;
    mp.threads = 2;
    mp.splitMode = 1;
    mp.embeddings = true;
    auto e = phi2j::Engine::load(mp, err);
    if (!e) {
        std::fprintf(stderr, "cannot load %s: %s\n", argv[1], err.message.c_str());
        return 1;
    }
    const phi2j::Info info = e->info();
    CHECK(info.n_ctx_seq == info.n_ctx / 2 && info.n_parallel == 2, "n_ctx_seq %d of %d", info.n_ctx_seq, info.n_ctx);

    std::vector<int32_t> prompt;
    CHECK(e->tokenize("The quick brown fox", prompt, err) && !prompt.empty(), "tokenize: %s", err.message.c_str());
    std::string back;
    CHECK(e->detokenize(prompt, back, err) && back == "The quick brown fox", "detokenize gave '%s'", back.c_str());
    CHECK(!e->detokenize({info.n_vocab}, back, err) && err.field == "tokens", "an id outside the vocabulary is refused, naming tokens");

    // exact counts and LENGTH; admitted first, into a slot
    std::map<int32_t, Run> runs;
    CHECK(e->submit(1, prompt, 12, greedy(), err), "submit: %s", err.message.c_str());
    CHECK(!e->submit(1, prompt, 12, greedy(), err) && err.message.find("queued") != std::string::npos, "a duplicate id is refused: %s",
          err.message.c_str());
    drain(*e, runs);
    CHECK(runs[1].slot >= 0 && runs[1].cached == 0, "admitted into slot %d", runs[1].slot);
    CHECK(runs[1].finished && runs[1].stop == (int) phi2j::Stop::LENGTH, "stop %d", runs[1].stop);
    CHECK(runs[1].generated == 12 && runs[1].tokens.size() == 12, "generated %d, streamed %zu", runs[1].generated, runs[1].tokens.size());
    CHECK(runs[1].prompt == (int) prompt.size() && runs[1].evaluated == (int) prompt.size(), "prompt %d", runs[1].prompt);
    std::string expect;
    CHECK(e->detokenize(runs[1].tokens, expect, err) && expect == runs[1].text, "streamed text equals the detokenized ids");

    // the engine owns the queue: three requests, two slots; the third waits and is admitted when one ends
    std::map<int32_t, Run> three;
    for (int32_t id = 10; id < 13; id++) CHECK(e->submit(id, prompt, 12, greedy(), err), "submit %d: %s", id, err.message.c_str());
    CHECK(e->waiting() == 3 && e->active() == 0, "queued: %d", e->waiting());
    std::vector<uint8_t> ev;
    e->step(ev);
    apply_events(ev, three);
    CHECK(e->active() == 2 && e->waiting() == 1 && three[10].slot >= 0 && three[11].slot >= 0 && three[12].slot < 0,
          "two admitted, one waiting: active %d waiting %d", e->active(), e->waiting());
    drain(*e, three);
    for (int32_t id = 10; id < 13; id++) {
        CHECK(three[id].finished && three[id].tokens == runs[1].tokens, "request %d: batched greedy equals alone", id);
    }

    // run(): the first token is a batch of its own (exact time to first token), then tokens come in batches
    {
        std::map<int32_t, Run> r;
        CHECK(e->submit(20, prompt, 12, greedy(), err), "submit: %s", err.message.c_str());
        e->run(ev, 1000000000LL);
        apply_events(ev, r);
        CHECK(r[20].tokens.size() == 1 && !r[20].finished, "the first run ends at the first token: %zu", r[20].tokens.size());
        e->run(ev, 1000000000LL);
        apply_events(ev, r);
        CHECK(r[20].tokens.size() == 12 && r[20].finished && r[20].tokens == runs[1].tokens, "the second run goes to the end: %zu",
              r[20].tokens.size());
        CHECK(!e->run(ev, 1000) && ev.empty(), "nothing to do");
    }

    // a stop string: the text ends before it, the stop reason says so
    if (runs[1].text.size() > 4) {
        phi2j::GenerationOptions p = greedy();
        const std::string stop = runs[1].text.substr(3, 2);
        p.stopStrings = {stop};
        std::map<int32_t, Run> s;
        CHECK(e->submit(30, prompt, 12, p, err), "submit: %s", err.message.c_str());
        drain(*e, s);
        const std::string want = runs[1].text.substr(0, runs[1].text.find(stop));
        CHECK(s[30].stop == (int) phi2j::Stop::STOP_STRING && s[30].text == want, "stop %d text '%s' want '%s'", s[30].stop,
              s[30].text.c_str(), want.c_str());
    }

    // cancel between tokens, and a request still waiting
    std::map<int32_t, Run> c;
    CHECK(e->submit(40, prompt, 100, greedy(), err) && e->submit(41, prompt, 100, greedy(), err) && e->submit(42, prompt, 100, greedy(), err),
          "submit: %s", err.message.c_str());
    ev.clear();
    e->step(ev);
    apply_events(ev, c);
    CHECK(c[40].tokens.size() == 1 && c[42].slot < 0, "one step, one token; the third waits");
    e->cancel(40);
    e->cancel(42);
    e->cancel(41);
    drain(*e, c);
    CHECK(c[40].stop == (int) phi2j::Stop::CANCELLED && c[40].generated == 1, "stop %d generated %d", c[40].stop, c[40].generated);
    CHECK(c[42].stop == (int) phi2j::Stop::CANCELLED && c[42].generated == 0 && c[42].slot < 0, "a waiting request ends unadmitted");

    // bad requests are refused with the field named, and the engine stays usable
    CHECK(!e->submit(50, {info.n_vocab + 5}, 1, greedy(), err) && err.field == "prompt", "an out-of-vocabulary prompt is refused");
    CHECK(!e->submit(50, prompt, 1000, greedy(), err) && err.field == "maxNewTokens" && err.message.find("exceed") != std::string::npos,
          "too long: %s", err.message.c_str());
    CHECK(!e->submit(50, {}, 1, greedy(), err) && err.field == "prompt", "an empty prompt is refused");
    CHECK(!e->submit(50, prompt, 0, greedy(), err) && err.field == "maxNewTokens", "no budget is refused");

    // embeddings: unit length, and the same text gives the same vector
    std::vector<float> v1, v2;
    CHECK(e->embed("The quick brown fox", v1, err) && e->embed("The quick brown fox", v2, err), "embed: %s", err.message.c_str());
    double norm = 0;
    for (float x : v1) norm += (double) x * x;
    CHECK(std::abs(norm - 1.0) < 1e-3 && v1 == v2, "norm %f", norm);

    // logprobs: the chosen greedy token is the top-1 alternative
    {
        phi2j::GenerationOptions p = greedy();
        p.logprobs = 3;
        std::map<int32_t, Run> l;
        CHECK(e->submit(60, prompt, 3, p, err), "submit: %s", err.message.c_str());
        drain(*e, l);
        CHECK(l[60].tokens.size() == 3 && l[60].tops.size() == 3, "three tokens with alternatives");
        for (size_t i = 0; i < l[60].tokens.size(); i++) {
            CHECK(l[60].tops[i].size() == 3 && l[60].tops[i][0].id == l[60].tokens[i] && l[60].tops[i][0].logprob == l[60].logprobs[i]
                      && l[60].logprobs[i] <= 0.0f, "token %d", l[60].tokens[i]);
        }
    }

    e.reset();
    std::printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
