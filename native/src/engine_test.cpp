// The engine's own test, without a JVM: run it on a small Phi-2 GGUF (phi2 synth makes one), also under ASan
// (scripts/build-native.sh --sanitize: phi2j_engine_test_asan). Usage: phi2j_engine_test MODEL.gguf. Exits 1 on the
// first failed check.
#include "engine.h"
#include "ggml-backend.h"

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
    bool gpu = false;
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        const auto type = ggml_backend_dev_type(ggml_backend_dev_get(i));
        gpu = gpu || type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU;
    }
    if (!gpu) { // layers asked for on a GPU that is not there: refused, naming the field and the cause
        mp.gpuLayers = -1;
        CHECK(!phi2j::Engine::load(mp, err) && err.kind == phi2j::ErrorKind::OPTION && err.field == "gpuLayers" &&
                  err.message.find("no GPU device") != std::string::npos,
              "gpuLayers without a GPU: %s %s", err.field.c_str(), err.message.c_str());
        mp.gpuLayers = 0;
    }
    auto e = phi2j::Engine::load(mp, err);
    if (!e) {
        std::fprintf(stderr, "cannot load %s: %s\n", argv[1], err.message.c_str());
        return 1;
    }
    // where llama.cpp put each layer, the output layer and each layer's KV cache: all named, all on the CPU at -ngl 0
    const phi2j::Placement & placed = e->placement();
    CHECK(!placed.layers.empty() && placed.kv.size() == placed.layers.size() && placed.output == "CPU",
          "placement: %zu layers, %zu KV, output '%s'", placed.layers.size(), placed.kv.size(), placed.output.c_str());
    for (size_t i = 0; i < placed.layers.size(); i++) {
        CHECK(placed.layers[i] == "CPU" && placed.kv[i] == "CPU", "layer %zu on '%s', its KV on '%s'", i, placed.layers[i].c_str(), placed.kv[i].c_str());
    }
    CHECK(placed.device_names == std::vector<std::string>{"CPU"} && placed.device_descriptions.size() == 1, "devices named once");
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
    // the KV cells the two running requests hold: their prompts, evaluated in this step
    CHECK(e->kv_cells() == info.n_ctx && e->kv_cells_used() == 2 * (int32_t) prompt.size(), "KV cells used %d of %d after one step "
          "(two prompts of %zu)", e->kv_cells_used(), e->kv_cells(), prompt.size());
    drain(*e, three);
    CHECK(e->kv_cells_used() == 0, "no KV cell is held once every request ended: %d", e->kv_cells_used());
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

    // prefix reuse: a request goes to the idle slot holding its prefix, and greedy text is the same as without reuse
    const std::string first = "User: Tell me about the quick brown fox and the lazy dog, in a few words.\nAssistant:";
    std::vector<int32_t> pa, pb;
    CHECK(e->tokenize(first, pa, err) && e->tokenize("Instruct: Write a poem about the sea and the sky.\nOutput:", pb, err), "tokenize");
    auto cached_run = [&](phi2j::Engine & en, int32_t id, const std::vector<int32_t> & p, bool reuse) {
        phi2j::GenerationOptions o = greedy();
        o.cachePrompt = reuse;
        std::map<int32_t, Run> m;
        CHECK(en.submit(id, p, 8, o, err), "submit %d: %s", id, err.message.c_str());
        drain(en, m);
        CHECK(m[id].finished, "request %d finished", id);
        return m[id];
    };
    {
        const Run a = cached_run(*e, 70, pa, true);
        const Run b = cached_run(*e, 71, pb, true);
        CHECK(b.slot != a.slot && b.cached == 0, "a new conversation takes the least recently used slot, not the one holding another");
        const Run b_again = cached_run(*e, 74, pb, true);
        CHECK(b_again.slot == b.slot && b_again.cached == (int32_t) pb.size() - 1,
              "a prompt goes to the slot holding it, not the least recently used: slot %d, %d cached", b_again.slot, b_again.cached);
        std::vector<int32_t> pa2 = pa;
        pa2.insert(pa2.end(), a.tokens.begin(), a.tokens.end());
        std::vector<int32_t> more;
        CHECK(e->tokenize("\nUser: And then?\nAssistant:", more, err), "tokenize");
        pa2.insert(pa2.end(), more.begin(), more.end());
        const Run a2 = cached_run(*e, 72, pa2, true);
        CHECK(a2.slot == a.slot && a2.cached == (int32_t) (pa.size() + a.tokens.size() - 1),
              "the next turn goes to its conversation's slot %d (got %d) and reuses its prompt and answer: %d cached", a.slot, a2.slot, a2.cached);
        CHECK(a2.evaluated == (int32_t) pa2.size() - a2.cached, "only the rest is evaluated: %d", a2.evaluated);
        const Run fresh = cached_run(*e, 73, pa2, false);
        CHECK(fresh.cached == 0 && fresh.tokens == a2.tokens, "greedy tokens are the same with and without reuse");
    }
    // the host cache (cacheRamMib): with one slot, a conversation that another pushed out is restored, not evaluated again
    {
        phi2j::ModelParams hp = mp;
        hp.parallel = 1;
        hp.contextSize = 128;
        hp.embeddings = false;
        hp.cacheRamMib = 16;
        auto h = phi2j::Engine::load(hp, err);
        CHECK(h != nullptr, "load with a host cache: %s", err.message.c_str());
        if (h) {
            const Run a = cached_run(*h, 80, pa, true);
            const Run b = cached_run(*h, 81, pb, true);
            CHECK(b.cached == 0, "another prompt finds nothing cached: %d", b.cached);
            const Run again = cached_run(*h, 82, pa, true);
            CHECK(again.cached == (int32_t) pa.size() - 1 && again.tokens == a.tokens,
                  "the first prompt comes back from host memory: %d of %zu cached", again.cached, pa.size());
            const Run b2 = cached_run(*h, 83, pb, true);
            CHECK(b2.cached == (int32_t) pb.size() - 1 && b2.tokens == b.tokens, "and so does the second: %d cached", b2.cached);
        }
        // two slots: a state saved from one slot is restored into the other
        hp.parallel = 2;
        hp.contextSize = 256;
        auto two = phi2j::Engine::load(hp, err);
        CHECK(two != nullptr, "load with two slots and a host cache: %s", err.message.c_str());
        if (two) {
            std::vector<int32_t> pc;
            CHECK(two->tokenize("Alice: Where is the nearest station, and when does the last train leave tonight?\nBob:", pc, err), "tokenize");
            const Run a = cached_run(*two, 84, pa, true);
            const Run b = cached_run(*two, 85, pb, true);
            const Run c = cached_run(*two, 86, pc, true);      // takes a's slot, the least recently used: a goes to host memory
            CHECK(c.slot == a.slot && b.slot != a.slot, "slots %d %d %d", a.slot, b.slot, c.slot);
            const Run again = cached_run(*two, 87, pa, true);  // the least recently used slot is now b's
            CHECK(again.slot == b.slot && again.cached == (int32_t) pa.size() - 1 && again.tokens == a.tokens,
                  "a comes back from host memory into the other slot %d: %d of %zu cached", again.slot, again.cached, pa.size());
        }
        hp.cacheRamMib = -1;
        CHECK(!phi2j::Engine::load(hp, err) && err.field == "cacheRamMib", "a negative cache size is refused, naming cacheRamMib");
    }

    // structured output: a grammar constrains the text; a bad grammar or schema is refused at submit, naming its field
    {
        phi2j::GenerationOptions g = greedy();
        g.ignoreEndOfText = false;
        g.grammar = "root ::= \"yes\" | \"no\"";
        std::map<int32_t, Run> m;
        CHECK(e->submit(90, prompt, 8, g, err), "submit: %s", err.message.c_str());
        drain(*e, m);
        CHECK(m[90].finished && (m[90].text == "yes" || m[90].text == "no") && m[90].stop == (int) phi2j::Stop::END_OF_TEXT,
              "the text follows the grammar and ends with it: '%s' (stop %d)", m[90].text.c_str(), m[90].stop);
        g.grammar = "root ::= (";
        CHECK(!e->submit(91, prompt, 8, g, err) && err.field == "grammar" && err.message.find("parse") != std::string::npos,
              "a broken grammar is refused with llama.cpp's reason: %s", err.message.c_str());
        g.grammar.clear();
        g.jsonSchema = R"({"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false})";
        std::map<int32_t, Run> j;
        CHECK(e->submit(92, prompt, 24, g, err), "submit: %s", err.message.c_str());
        drain(*e, j);
        std::string compact;
        for (char c : j[92].text) if (c != ' ' && c != '\n' && c != '\t') compact += c;
        CHECK(compact == "{\"ok\":true}" || compact == "{\"ok\":false}", "the text follows the schema: '%s'", j[92].text.c_str());
        g.jsonSchema = "{\"type\": ";
        CHECK(!e->submit(93, prompt, 8, g, err) && err.field == "jsonSchema", "malformed JSON is refused, naming jsonSchema: %s",
              err.message.c_str());
        g.jsonSchema = R"({"type":"object","properties":{"a":{"type":"string","pattern":"abc"}}})";
        CHECK(!e->submit(95, prompt, 8, g, err) && err.field == "jsonSchema" && err.message.find("/properties/a/pattern") != std::string::npos,
              "a pattern the converter would accept as any string is refused, naming it: %s", err.message.c_str());
        g.jsonSchema = R"({"type":"array","items":{"type":"integer","multipleOf":3}})";
        CHECK(!e->submit(96, prompt, 8, g, err) && err.field == "jsonSchema" && err.message.find("multipleOf") != std::string::npos,
              "a keyword the converter ignores is refused, naming it: %s", err.message.c_str());
        g.jsonSchema = R"({"title":"t","type":"string","pattern":"^[a-z]{1,8}$","format":"date"})";
        CHECK(e->submit(97, prompt, 8, g, err), "a supported pattern, format and annotation pass: %s", err.message.c_str());
        std::map<int32_t, Run> ok;
        drain(*e, ok);
        g.jsonSchema = R"({"$ref":"#/definitions/missing"})";
        CHECK(!e->submit(94, prompt, 8, g, err) && err.field == "jsonSchema" && err.message.find("missing") != std::string::npos,
              "a schema the converter cannot follow is refused with its reason: %s", err.message.c_str());
    }

    e.reset();
    std::printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
