// The public C API (vkconvgpt.h) from C++: v1-tiny-tied f32 fixture through eval and greedy
// generation, bad inputs (each with its documented status and a last-error text), session state
// save/restore, several sessions and threads on one model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/host/api_test_util.h"

using namespace vkc;
using namespace vkc::test;
using namespace vkc::api_test;

namespace {

// v1-tiny-tied f32, loaded once for the suite.
class CApi : public VkTest {
protected:
    static void SetUpTestSuite() {
        expected_ = fixture("v1-tiny-tied") + "/expected.safetensors";
        model_ = load(fixture("v1-tiny-tied/f32"));
    }
    static void TearDownTestSuite() {
        vkc_model_free(model_);
        model_ = nullptr;
    }
    static std::string expected_;
    static vkc_model* model_;
};
std::string CApi::expected_;
vkc_model* CApi::model_ = nullptr;

TEST_F(CApi, ModelInfo) {
    ASSERT_NE(model_, nullptr);
    EXPECT_EQ(vkc_model_vocab_size(model_), 512);
    EXPECT_EQ(vkc_model_bos(model_), 0);
    EXPECT_EQ(vkc_model_eos(model_), 2);
    EXPECT_EQ(vkc_model_max_context(model_), 256);
    EXPECT_STREQ(vkc_model_arch(model_), "convgpt");
    EXPECT_FALSE(vkc_model_has_tokenizer(model_));
    EXPECT_STREQ(vkc_model_chat_template(model_), "");
    EXPECT_GT(std::strlen(vkc_model_device_name(model_)), 0u);
    EXPECT_EQ(vkc_model_vocab_size(nullptr), -1);
    EXPECT_EQ(vkc_model_arch(nullptr), nullptr);
}

TEST_F(CApi, EvalMatchesReferenceLogits) {
    auto ids = read_ids(expected_, "input_ids");
    auto ref = read_f32(expected_, "logits");
    const int V = 512, T = (int)ids.size(), P = 20;
    vkc_session* s = session(model_);
    std::vector<float> all(size_t(P) * V), last(V);
    // Rows [0, P) through one batched prefill with every row's logits, then token-by-token decode.
    ASSERT_EQ(vkc_session_eval_all(s, ids.data(), P, all.data()), VKC_OK) << vkc_last_error();
    std::vector<float> got(all);
    for (int t = P; t < T; ++t) {
        ASSERT_EQ(vkc_session_eval(s, &ids[t], 1, last.data()), VKC_OK) << vkc_last_error();
        got.insert(got.end(), last.begin(), last.end());
    }
    EXPECT_LE(rel_error(got, ref), 1e-4);
    EXPECT_EQ(vkc_session_pos(s), T);
    // Prefill of several tokens with only the last row (and NULL logits) after a reset.
    ASSERT_EQ(vkc_session_reset(s), VKC_OK);
    EXPECT_EQ(vkc_session_pos(s), 0);
    ASSERT_EQ(vkc_session_eval(s, ids.data(), T - 1, nullptr), VKC_OK) << vkc_last_error();
    ASSERT_EQ(vkc_session_eval(s, ids.data() + T - 1, 1, last.data()), VKC_OK);
    std::vector<float> ref_last(ref.end() - V, ref.end());
    EXPECT_LE(rel_error(last, ref_last), 1e-4);
    std::vector<int32_t> held(T);
    int32_t n = 0;
    ASSERT_EQ(vkc_session_tokens(s, held.data(), T, &n), VKC_OK);
    EXPECT_EQ(n, T);
    EXPECT_EQ(held, ids);
    vkc_session_free(s);
}

TEST_F(CApi, GreedyGenerationReproducesFixture) {
    auto prompt = read_ids(expected_, "gen_prompt");
    auto want = read_ids(expected_, "gen_greedy");
    vkc_session* s = session(model_);
    vkc_sampler* g = greedy_sampler();
    vkc_generate_params gp = vkc_generate_default_params();
    gp.max_tokens = (int32_t)want.size();
    Collected c;
    vkc_generate_result r;
    ASSERT_EQ(vkc_generate_ids(s, g, prompt.data(), (int32_t)prompt.size(), &gp, collect, &c, &r), VKC_OK)
        << vkc_last_error();
    EXPECT_EQ(c.ids, want);
    EXPECT_EQ(c.text, ""); // no tokenizer: empty pieces
    EXPECT_EQ(r.n_prompt, (int32_t)prompt.size());
    EXPECT_EQ(r.n_generated, (int32_t)want.size());
    EXPECT_EQ(r.stop_reason, VKC_STOP_MAX_TOKENS);
    // The session holds the prompt and every generated token.
    EXPECT_EQ(vkc_session_pos(s), int32_t(prompt.size() + want.size()));

    // The callback stops generation; the session stays usable and continues where it stopped.
    ASSERT_EQ(vkc_session_reset(s), VKC_OK);
    Collected c2;
    c2.stop_after = 5;
    ASSERT_EQ(vkc_generate_ids(s, g, prompt.data(), (int32_t)prompt.size(), &gp, collect, &c2, &r), VKC_OK);
    EXPECT_EQ(r.stop_reason, VKC_STOP_CALLBACK);
    ASSERT_EQ(c2.ids.size(), 5u);
    // greedy generation decodes in chains; what a chain ran past the stop is not held
    EXPECT_EQ(vkc_session_pos(s), int32_t(prompt.size() + 5));
    EXPECT_TRUE(std::equal(c2.ids.begin(), c2.ids.end(), want.begin()));
    Collected c3;
    gp.max_tokens = 3;
    ASSERT_EQ(vkc_generate_ids(s, g, &want[5], 1, &gp, collect, &c3, &r), VKC_OK); // want[5] as a 1-token prompt
    EXPECT_EQ(c3.ids, std::vector<int32_t>(want.begin() + 6, want.begin() + 9));

    // Context full: generation stops with VKC_STOP_CONTEXT; every token but the last is in the session.
    vkc_session* small = session(model_, (int)prompt.size() + 4);
    gp.max_tokens = 0;
    Collected c4;
    ASSERT_EQ(vkc_generate_ids(small, g, prompt.data(), (int32_t)prompt.size(), &gp, collect, &c4, &r), VKC_OK);
    EXPECT_EQ(r.stop_reason, VKC_STOP_CONTEXT);
    EXPECT_EQ(r.n_generated, 5);
    EXPECT_EQ(vkc_session_pos(small), (int32_t)prompt.size() + 4);
    EXPECT_TRUE(std::equal(c4.ids.begin(), c4.ids.end(), want.begin()));
    vkc_session_free(small);
    vkc_sampler_free(g);
    vkc_session_free(s);
}

// vkc_session_decode_greedy: chains of several greedy steps reproduce the fixture's continuation, the
// session holds what they evaluated, and bad requests change nothing.
TEST_F(CApi, GreedyChainsReproduceFixture) {
    auto prompt = read_ids(expected_, "gen_prompt");
    auto want = read_ids(expected_, "gen_greedy");
    const int V = vkc_model_vocab_size(model_);
    vkc_session* s = session(model_);
    std::vector<float> logits(V);
    ASSERT_EQ(vkc_session_eval(s, prompt.data(), (int32_t)prompt.size(), logits.data()), VKC_OK);
    std::vector<int32_t> got{int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin())};
    ASSERT_GE(vkc_session_max_greedy_steps(s), 7);
    while (got.size() < want.size()) {
        const int32_t k = std::min<int32_t>(7, int32_t(want.size() - got.size()));
        std::vector<int32_t> out(k);
        ASSERT_EQ(vkc_session_decode_greedy(s, got.back(), k, out.data()), VKC_OK) << vkc_last_error();
        got.insert(got.end(), out.begin(), out.end());
    }
    EXPECT_EQ(got, want);
    const int32_t held_n = vkc_session_pos(s);
    EXPECT_EQ(held_n, int32_t(prompt.size() + want.size() - 1));
    std::vector<int32_t> held(held_n);
    int32_t n = 0;
    ASSERT_EQ(vkc_session_tokens(s, held.data(), held_n, &n), VKC_OK);
    std::vector<int32_t> expect_held = prompt;
    expect_held.insert(expect_held.end(), want.begin(), want.end() - 1);
    EXPECT_EQ(held, expect_held);
    int32_t out[2];
    EXPECT_EQ(vkc_session_decode_greedy(s, V, 2, out), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_decode_greedy(s, 1, 0, out), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_decode_greedy(s, 1, 2, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_decode_greedy(nullptr, 1, 2, out), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_max_greedy_steps(nullptr), -1);
    EXPECT_EQ(vkc_session_pos(s), held_n);
    vkc_session_free(s);
}

TEST_F(CApi, StopOnEos) {
    // A copy of the checkpoint whose config names the 4th greedy token as eos.
    auto prompt = read_ids(expected_, "gen_prompt");
    auto want = read_ids(expected_, "gen_greedy");
    const std::string dir = model_copy("eos", want[3], "");
    vkc_model* m = load(dir);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(vkc_model_eos(m), want[3]);
    vkc_session* s = session(m);
    vkc_sampler* g = greedy_sampler();
    vkc_generate_params gp = vkc_generate_default_params();
    gp.max_tokens = 10;
    Collected c;
    vkc_generate_result r;
    ASSERT_EQ(vkc_generate_ids(s, g, prompt.data(), (int32_t)prompt.size(), &gp, collect, &c, &r), VKC_OK);
    EXPECT_EQ(r.stop_reason, VKC_STOP_EOS);
    EXPECT_EQ(r.n_generated, 4);
    EXPECT_EQ(c.ids, std::vector<int32_t>(want.begin(), want.begin() + 3)); // eos is not streamed
    EXPECT_EQ(vkc_session_pos(s), (int32_t)prompt.size() + 3);             // nor appended
    // stop_on_eos off: eos is an ordinary token.
    ASSERT_EQ(vkc_session_reset(s), VKC_OK);
    gp.stop_on_eos = false;
    Collected c2;
    ASSERT_EQ(vkc_generate_ids(s, g, prompt.data(), (int32_t)prompt.size(), &gp, collect, &c2, &r), VKC_OK);
    EXPECT_EQ(r.stop_reason, VKC_STOP_MAX_TOKENS);
    EXPECT_EQ(c2.ids, std::vector<int32_t>(want.begin(), want.begin() + 10));
    vkc_sampler_free(g);
    vkc_session_free(s);
    vkc_model_free(m);
}

TEST_F(CApi, SeveralSessionsAndThreads) {
    auto prompt = read_ids(expected_, "gen_prompt");
    auto want = read_ids(expected_, "gen_greedy");
    // Interleaved decodes of two sessions keep separate state.
    vkc_session* a = session(model_);
    vkc_session* b = session(model_, 64);
    const int V = 512;
    std::vector<float> la(V), lb(V);
    ASSERT_EQ(vkc_session_eval(a, prompt.data(), (int32_t)prompt.size(), la.data()), VKC_OK);
    ASSERT_EQ(vkc_session_eval(b, prompt.data(), (int32_t)prompt.size(), lb.data()), VKC_OK);
    for (size_t i = 0; i < 12; ++i) {
        int32_t ga = int32_t(std::max_element(la.begin(), la.end()) - la.begin());
        int32_t gb = int32_t(std::max_element(lb.begin(), lb.end()) - lb.begin());
        ASSERT_EQ(ga, want[i]);
        ASSERT_EQ(gb, want[i]);
        ASSERT_EQ(vkc_session_eval(a, &ga, 1, la.data()), VKC_OK);
        ASSERT_EQ(vkc_session_eval(b, &gb, 1, lb.data()), VKC_OK);
    }
    vkc_session_free(a);
    vkc_session_free(b);
    // Sessions on different threads share the model (submissions serialized by its mutex).
    const size_t n_gen = 8;
    std::vector<std::vector<int32_t>> got(2);
    std::vector<std::thread> ts;
    for (int t = 0; t < 2; ++t)
        ts.emplace_back([&, t] {
            vkc_session* s = nullptr;
            vkc_sampler* g = nullptr;
            vkc_sampler_params sp = vkc_sampler_default_params();
            sp.temperature = 0;
            if (vkc_session_create(model_, nullptr, &s) != VKC_OK || vkc_sampler_create(&sp, &g) != VKC_OK) return;
            vkc_generate_params gp = vkc_generate_default_params();
            gp.max_tokens = (int32_t)n_gen;
            Collected c;
            if (vkc_generate_ids(s, g, prompt.data(), (int32_t)prompt.size(), &gp, collect, &c, nullptr) == VKC_OK)
                got[t] = c.ids;
            vkc_sampler_free(g);
            vkc_session_free(s);
        });
    for (auto& t : ts) t.join();
    for (auto& g : got) EXPECT_EQ(g, std::vector<int32_t>(want.begin(), want.begin() + n_gen));
}

TEST_F(CApi, SessionOutlivesModelHandle) {
    vkc_model* m = load(fixture("v1-tiny-tied/f32"));
    ASSERT_NE(m, nullptr);
    vkc_session* s = session(m);
    vkc_model_free(m); // the session keeps the model alive
    auto prompt = read_ids(expected_, "gen_prompt");
    std::vector<float> l(512);
    EXPECT_EQ(vkc_session_eval(s, prompt.data(), (int32_t)prompt.size(), l.data()), VKC_OK) << vkc_last_error();
    vkc_session_free(s);
}

// ---- session state ----------------------------------------------------------------------------------

TEST_F(CApi, StateSaveRestoreGivesIdenticalLogits) {
    auto ids = read_ids(expected_, "input_ids");
    const int V = 512, P = 12;
    vkc_session* a = session(model_);
    std::vector<float> la(V), lb(V);
    ASSERT_EQ(vkc_session_eval(a, ids.data(), P, nullptr), VKC_OK);
    size_t size = 0, written = 0;
    ASSERT_EQ(vkc_session_state_size(a, &size), VKC_OK);
    // Too small a buffer: the required size comes back.
    EXPECT_EQ(vkc_session_state_save(a, nullptr, 0, &written), VKC_BUFFER_TOO_SMALL);
    EXPECT_EQ(written, size);
    std::vector<uint8_t> blob(size);
    ASSERT_EQ(vkc_session_state_save(a, blob.data(), blob.size(), &written), VKC_OK) << vkc_last_error();
    EXPECT_EQ(written, size);

    vkc_session* b = session(model_);
    ASSERT_EQ(vkc_session_eval(b, ids.data() + 30, 5, nullptr), VKC_OK); // other content, overwritten
    ASSERT_EQ(vkc_session_state_load(b, blob.data(), blob.size()), VKC_OK) << vkc_last_error();
    EXPECT_EQ(vkc_session_pos(b), P);
    std::vector<int32_t> tb(P);
    int32_t n = 0;
    ASSERT_EQ(vkc_session_tokens(b, tb.data(), P, &n), VKC_OK);
    EXPECT_EQ(tb, std::vector<int32_t>(ids.begin(), ids.begin() + P));
    // Continue both: decode, then a short prefill; logits must be bit-identical.
    ASSERT_EQ(vkc_session_eval(a, &ids[P], 1, la.data()), VKC_OK);
    ASSERT_EQ(vkc_session_eval(b, &ids[P], 1, lb.data()), VKC_OK);
    EXPECT_EQ(la, lb);
    ASSERT_EQ(vkc_session_eval(a, &ids[P + 1], 4, la.data()), VKC_OK);
    ASSERT_EQ(vkc_session_eval(b, &ids[P + 1], 4, lb.data()), VKC_OK);
    EXPECT_EQ(la, lb);

    // Through a file, into a third session.
    const std::string path = ::testing::TempDir() + "/vkc_state_test_" + std::to_string(getpid()) + ".bin";
    ASSERT_EQ(vkc_session_state_save_file(a, path.c_str()), VKC_OK) << vkc_last_error();
    vkc_session* c = session(model_);
    ASSERT_EQ(vkc_session_state_load_file(c, path.c_str()), VKC_OK) << vkc_last_error();
    std::vector<float> lc(V);
    ASSERT_EQ(vkc_session_eval(a, &ids[P + 5], 1, la.data()), VKC_OK);
    ASSERT_EQ(vkc_session_eval(c, &ids[P + 5], 1, lc.data()), VKC_OK);
    EXPECT_EQ(la, lc);
    std::remove(path.c_str());

    // Bad states: truncated, garbage, missing file, another context length.
    EXPECT_EQ(vkc_session_state_load(c, blob.data(), blob.size() - 7), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "session state")) << vkc_last_error();
    std::vector<uint8_t> junk(blob.size(), 0x5a);
    EXPECT_EQ(vkc_session_state_load(c, junk.data(), junk.size()), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "magic")) << vkc_last_error();
    EXPECT_EQ(vkc_session_state_load_file(c, "/nonexistent/state.bin"), VKC_IO_ERROR);
    EXPECT_TRUE(contains(vkc_last_error(), "/nonexistent/state.bin"));
    vkc_session* d = session(model_, 64);
    EXPECT_EQ(vkc_session_state_load(d, blob.data(), blob.size()), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "256") && contains(vkc_last_error(), "64")) << vkc_last_error();
    EXPECT_EQ(vkc_session_pos(d), 0); // unchanged by a rejected state
    vkc_session_free(a);
    vkc_session_free(b);
    vkc_session_free(c);
    vkc_session_free(d);
}

TEST_F(CApi, StateSaveRestoreV2) {
    // v2 state: mixer histories, chunk memory (keys, values, key sums) across a chunk boundary.
    const std::string exp = fixture("v2-tiny") + "/expected.safetensors";
    auto ids = read_ids(exp, "input_ids");
    vkc_model* m = load(fixture("v2-tiny"));
    ASSERT_NE(m, nullptr);
    const int V = vkc_model_vocab_size(m), P = 40;
    vkc_session* a = session(m, 128);
    ASSERT_EQ(vkc_session_eval(a, ids.data(), P, nullptr), VKC_OK) << vkc_last_error();
    size_t size = 0, written = 0;
    ASSERT_EQ(vkc_session_state_size(a, &size), VKC_OK);
    std::vector<uint8_t> blob(size);
    ASSERT_EQ(vkc_session_state_save(a, blob.data(), size, &written), VKC_OK) << vkc_last_error();
    vkc_session* b = session(m, 128);
    ASSERT_EQ(vkc_session_state_load(b, blob.data(), written), VKC_OK) << vkc_last_error();
    std::vector<float> la(V), lb(V);
    for (int t = P; t < P + 3; ++t) {
        ASSERT_EQ(vkc_session_eval(a, &ids[t], 1, la.data()), VKC_OK);
        ASSERT_EQ(vkc_session_eval(b, &ids[t], 1, lb.data()), VKC_OK);
        EXPECT_EQ(la, lb) << "step " << t;
    }
    // A v1 state is refused by this v2 session.
    vkc_session* v1 = session(model_);
    std::vector<uint8_t> v1_blob;
    ASSERT_EQ(vkc_session_state_size(v1, &size), VKC_OK);
    v1_blob.resize(size);
    ASSERT_EQ(vkc_session_state_save(v1, v1_blob.data(), size, &written), VKC_OK);
    EXPECT_EQ(vkc_session_state_load(b, v1_blob.data(), written), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "different model")) << vkc_last_error();
    vkc_session_free(v1);
    vkc_session_free(a);
    vkc_session_free(b);
    vkc_model_free(m);
}

TEST_F(CApi, StateFromAnotherModelIsRejected) {
    vkc_model* other = load(fixture("v1-tiny-untied/f32"));
    ASSERT_NE(other, nullptr);
    vkc_session* so = session(other);
    auto ids = read_ids(expected_, "input_ids");
    ASSERT_EQ(vkc_session_eval(so, ids.data(), 6, nullptr), VKC_OK);
    size_t size = 0, written = 0;
    ASSERT_EQ(vkc_session_state_size(so, &size), VKC_OK);
    std::vector<uint8_t> blob(size);
    ASSERT_EQ(vkc_session_state_save(so, blob.data(), size, &written), VKC_OK);
    vkc_session* s = session(model_);
    EXPECT_EQ(vkc_session_state_load(s, blob.data(), written), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "different model")) << vkc_last_error();
    EXPECT_EQ(vkc_session_pos(s), 0);
    vkc_session_free(s);
    vkc_session_free(so);
    vkc_model_free(other);
}

// ---- bad input ----------------------------------------------------------------------------------------

TEST_F(CApi, BadInputs) {
    vkc_model* m = nullptr;
    vkc_model_params p = test_params();
    // Null pointers.
    EXPECT_EQ(vkc_model_load(nullptr, &p, &m), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "dir is NULL"));
    EXPECT_EQ(vkc_model_load(fixture("v1-tiny-tied/f32").c_str(), &p, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "out is NULL"));
    EXPECT_EQ(vkc_session_create(nullptr, nullptr, nullptr), VKC_INVALID_ARGUMENT);
    vkc_session* s = nullptr;
    EXPECT_EQ(vkc_session_create(nullptr, nullptr, &s), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "model is NULL"));
    EXPECT_EQ(s, nullptr);
    EXPECT_EQ(vkc_session_eval(nullptr, nullptr, 1, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_sampler_sample(nullptr, nullptr, 0, nullptr, 0), -(int32_t)VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "sampler is NULL"));
    EXPECT_EQ(vkc_generate(nullptr, nullptr, "x", nullptr, nullptr, nullptr, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_pos(nullptr), -1);
    vkc_model_free(nullptr);
    vkc_session_free(nullptr);
    vkc_sampler_free(nullptr);

    // Missing directory, directory without config.json, bad precision.
    EXPECT_EQ(vkc_model_load("/nonexistent/model", &p, &m), VKC_IO_ERROR);
    EXPECT_TRUE(contains(vkc_last_error(), "/nonexistent/model")) << vkc_last_error();
    EXPECT_EQ(vkc_model_load(fixture("tokenizers").c_str(), &p, &m), VKC_IO_ERROR);
    EXPECT_TRUE(contains(vkc_last_error(), "config.json")) << vkc_last_error();
    vkc_model_params bad = p;
    bad.precision = (vkc_precision)7;
    EXPECT_EQ(vkc_model_load(fixture("v1-tiny-tied/f32").c_str(), &bad, &m), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "precision"));
    EXPECT_EQ(m, nullptr);

    // Session-level errors.
    s = session(model_, 16);
    vkc_sampler* g = greedy_sampler();
    std::vector<int32_t> ids(20, 7);
    EXPECT_EQ(vkc_generate_ids(s, g, ids.data(), 0, nullptr, nullptr, nullptr, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "empty prompt"));
    EXPECT_EQ(vkc_generate_ids(s, g, ids.data(), 20, nullptr, nullptr, nullptr, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "20") && contains(vkc_last_error(), "16")) << vkc_last_error();
    EXPECT_EQ(vkc_session_eval(s, ids.data(), 20, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "20") && contains(vkc_last_error(), "16")) << vkc_last_error();
    ids[3] = 512;
    EXPECT_EQ(vkc_generate_ids(s, g, ids.data(), 5, nullptr, nullptr, nullptr, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "512") && contains(vkc_last_error(), "out of range")) << vkc_last_error();
    EXPECT_EQ(vkc_session_eval(s, &ids[3], 1, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "out of range"));
    int32_t neg = -1;
    EXPECT_EQ(vkc_session_eval(s, &neg, 1, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_eval(s, ids.data(), 0, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_pos(s), 0); // nothing was appended by failed calls
    vkc_session* big = nullptr;
    vkc_session_params sp = vkc_session_default_params();
    sp.n_ctx = 100000;
    EXPECT_EQ(vkc_session_create(model_, &sp, &big), VKC_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(vkc_last_error(), "100000") && contains(vkc_last_error(), "256")) << vkc_last_error();

    // Text functions on a model without a tokenizer.
    int32_t out[8], n = 0;
    EXPECT_EQ(vkc_tokenize(model_, "hello", -1, false, out, 8, &n), VKC_NO_TOKENIZER);
    EXPECT_TRUE(contains(vkc_last_error(), "model has no tokenizer")) << vkc_last_error();
    EXPECT_EQ(vkc_generate(s, g, "hello", nullptr, nullptr, nullptr, nullptr), VKC_NO_TOKENIZER);
    const char* stops[] = {"x"};
    vkc_generate_params gp = vkc_generate_default_params();
    gp.stop = stops;
    gp.n_stop = 1;
    EXPECT_EQ(vkc_generate_ids(s, g, ids.data(), 2, &gp, nullptr, nullptr, nullptr), VKC_NO_TOKENIZER);

    // Success clears the last error; statuses have names.
    EXPECT_EQ(vkc_session_reset(s), VKC_OK);
    EXPECT_STREQ(vkc_last_error(), "");
    EXPECT_STREQ(vkc_status_str(VKC_OK), "ok");
    EXPECT_STREQ(vkc_status_str(VKC_INVALID_ARGUMENT), "invalid_argument");
    EXPECT_STREQ(vkc_status_str(VKC_NO_TOKENIZER), "no_tokenizer");
    EXPECT_STREQ(vkc_status_str((vkc_status)99), "unknown_status");
    vkc_sampler_free(g);
    vkc_session_free(s);
}

TEST_F(CApi, LastErrorIsThreadLocal) {
    vkc_model* m = nullptr;
    EXPECT_EQ(vkc_model_load("/nonexistent/a", nullptr, &m), VKC_IO_ERROR);
    std::string other;
    std::thread t([&] {
        other = vkc_last_error(); // nothing failed on this thread
    });
    t.join();
    EXPECT_EQ(other, "");
    EXPECT_TRUE(contains(vkc_last_error(), "/nonexistent/a"));
}

bool cancel_at_half(float f, void* user) {
    *static_cast<int*>(user) += 1;
    return f < 0.5f;
}

TEST_F(CApi, ProgressCallbackCancels) {
    vkc_model_params p = test_params();
    int calls = 0;
    p.progress = cancel_at_half;
    p.progress_user = &calls;
    vkc_model* m = nullptr;
    EXPECT_EQ(vkc_model_load(fixture("v1-tiny-tied/f32").c_str(), &p, &m), VKC_CANCELLED);
    EXPECT_TRUE(contains(vkc_last_error(), "cancel")) << vkc_last_error();
    EXPECT_EQ(m, nullptr);
    EXPECT_GT(calls, 0);
}

} // namespace
