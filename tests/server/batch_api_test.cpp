// C API additions for the server: vkc_session_truncate (prefix reuse) on a v1 and a v2 fixture, and
// vkc_decode_batch (argument validation; rows equal to sessions decoded one at a time) and
// vkc_decode_batch_argmax (each row's greedy pick).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "host/include/vkconvgpt.h"
#include "tests/common/test_env.h"

namespace {

using ModelPtr = std::unique_ptr<vkc_model, void (*)(vkc_model*)>;
using SessionPtr = std::unique_ptr<vkc_session, void (*)(vkc_session*)>;

ModelPtr load(const std::string& fixture) {
    vkc_model_params p = vkc_model_default_params();
    p.precision = VKC_PRECISION_F32;
    p.pipeline_cache_path = "";
    vkc_model* m = nullptr;
    const std::string dir = vkc::test::fixtures_dir() + "/" + fixture;
    EXPECT_EQ(vkc_model_load(dir.c_str(), &p, &m), VKC_OK) << vkc_last_error();
    return ModelPtr(m, vkc_model_free);
}

SessionPtr session(vkc_model* m, int ctx) {
    vkc_session_params sp = vkc_session_default_params();
    sp.n_ctx = ctx;
    vkc_session* s = nullptr;
    EXPECT_EQ(vkc_session_create(m, &sp, &s), VKC_OK) << vkc_last_error();
    return SessionPtr(s, vkc_session_free);
}

std::vector<int32_t> ids(int n, int seed, int vocab) {
    std::vector<int32_t> v(n);
    for (int i = 0; i < n; ++i) v[i] = (seed * 131 + i * 37 + (i * i) % 11) % vocab;
    return v;
}

std::vector<float> eval_all(vkc_session* s, const std::vector<int32_t>& x, int vocab) {
    std::vector<float> out(x.size() * size_t(vocab));
    EXPECT_EQ(vkc_session_eval_all(s, x.data(), (int32_t)x.size(), out.data()), VKC_OK) << vkc_last_error();
    return out;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    double d = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, (double)std::fabs(a[i] - b[i]));
    return d;
}

// Pairs of sessions (context 64) with the same prompt of 3 + i tokens each (seed base + i): `batch` to
// decode together, `single` one at a time.
struct Twins {
    std::vector<SessionPtr> batch, single;
};
Twins twins(vkc_model* m, int n, int base) {
    const int V = vkc_model_vocab_size(m);
    Twins t;
    for (int i = 0; i < n; ++i) {
        t.batch.push_back(session(m, 64));
        t.single.push_back(session(m, 64));
        const auto p = ids(3 + i, base + i, V);
        EXPECT_EQ(vkc_session_eval(t.batch.back().get(), p.data(), (int32_t)p.size(), nullptr), VKC_OK);
        EXPECT_EQ(vkc_session_eval(t.single.back().get(), p.data(), (int32_t)p.size(), nullptr), VKC_OK);
    }
    return t;
}

// Eval A+B, truncate to |A|, eval C (prefill, then decode steps) == a fresh session's A then C.
void check_truncate(const char* fixture, int n_a, int n_b, int n_c) {
    ModelPtr m = load(fixture);
    ASSERT_TRUE(m);
    const int V = vkc_model_vocab_size(m.get());
    const auto A = ids(n_a, 1, V), B = ids(n_b, 2, V), C = ids(n_c, 3, V);
    SessionPtr s = session(m.get(), 256), fresh = session(m.get(), 256);
    std::vector<int32_t> AB = A;
    AB.insert(AB.end(), B.begin(), B.end());
    eval_all(s.get(), AB, V);
    ASSERT_EQ(vkc_session_truncate(s.get(), n_a), VKC_OK) << vkc_last_error();
    EXPECT_EQ(vkc_session_pos(s.get()), n_a);
    std::vector<int32_t> held(n_a);
    int32_t n_held = 0;
    ASSERT_EQ(vkc_session_tokens(s.get(), held.data(), n_a, &n_held), VKC_OK);
    EXPECT_EQ(held, A);
    eval_all(fresh.get(), A, V);
    const std::vector<float> got = eval_all(s.get(), C, V), want = eval_all(fresh.get(), C, V);
    const double d = max_abs_diff(got, want);
    std::printf("metric %s truncate %d+%d -> %d, +%d prefill: max |diff| %.3g\n", fixture, n_a, n_b, n_a, n_c, d);
    EXPECT_LE(d, 1e-5);
    // Decode steps after the truncated prefix, also through vkc_decode_batch.
    for (int k = 0; k < 4; ++k) {
        const int32_t id = (k * 7 + 5) % V;
        std::vector<float> a(V), b(V);
        vkc_session* one = s.get();
        ASSERT_EQ(vkc_decode_batch(&one, &id, 1, a.data()), VKC_OK) << vkc_last_error();
        ASSERT_EQ(vkc_session_eval(fresh.get(), &id, 1, b.data()), VKC_OK);
        EXPECT_LE(max_abs_diff(a, b), 1e-5) << "decode step " << k;
    }
}

TEST(ServerApi, TruncateV1) { check_truncate("v1-tiny-tied/f32", 9, 7, 6); }
// v2 chunk size 16: truncating at 20 re-opens the closed chunk [16, 32) (closed by B), at 10 chunk [0, 16).
TEST(ServerApi, TruncateV2IntoClosedChunk) { check_truncate("v2-tiny", 20, 15, 20); }
TEST(ServerApi, TruncateV2IntoFirstChunk) { check_truncate("v2-tiny", 10, 30, 25); }

TEST(ServerApi, TruncateRejectsBadCounts) {
    ModelPtr m = load("v1-tiny-tied/f32");
    ASSERT_TRUE(m);
    SessionPtr s = session(m.get(), 64);
    const int32_t x[3] = {1, 2, 3};
    ASSERT_EQ(vkc_session_eval(s.get(), x, 3, nullptr), VKC_OK);
    EXPECT_EQ(vkc_session_truncate(s.get(), 4), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_truncate(s.get(), -1), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_truncate(nullptr, 0), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_pos(s.get()), 3);
    EXPECT_EQ(vkc_session_truncate(s.get(), 0), VKC_OK);
    EXPECT_EQ(vkc_session_pos(s.get()), 0);
}

TEST(ServerApi, DecodeBatchEqualsSingleDecodes) {
    ModelPtr m = load("v1-tiny-tied/f32");
    ASSERT_TRUE(m);
    const int V = vkc_model_vocab_size(m.get());
    auto [batch, single] = twins(m.get(), 3, 10);
    vkc_session* ss[3] = {batch[0].get(), batch[1].get(), batch[2].get()};
    for (int step = 0; step < 3; ++step) {
        const int32_t x[3] = {(step * 3 + 1) % V, (step * 5 + 2) % V, (step * 11 + 3) % V};
        std::vector<float> rows(3 * size_t(V)), one(V);
        ASSERT_EQ(vkc_decode_batch(ss, x, 3, rows.data()), VKC_OK) << vkc_last_error();
        for (int i = 0; i < 3; ++i) {
            ASSERT_EQ(vkc_session_eval(single[i].get(), &x[i], 1, one.data()), VKC_OK);
            std::vector<float> row(rows.begin() + i * V, rows.begin() + (i + 1) * V);
            EXPECT_EQ(row, one) << "session " << i << " step " << step;
        }
    }
}

// vkc_decode_batch_argmax: each row's pick is the argmax of the logits the same step gives (lowest id on
// ties), with logits read back or not (NULL: the picks alone), for a shared-kernel batch and a batch of one.
TEST(ServerApi, DecodeBatchArgmaxIsEachRowsGreedyPick) {
    ModelPtr m = load("v1-tiny-tied/f32");
    ASSERT_TRUE(m);
    const int V = vkc_model_vocab_size(m.get());
    auto [batch, single] = twins(m.get(), 3, 20);
    vkc_session* ss[3] = {batch[0].get(), batch[1].get(), batch[2].get()};
    for (int step = 0; step < 4; ++step) {
        const int n = step == 3 ? 1 : 3;
        const int32_t x[3] = {(step * 7 + 1) % V, (step * 3 + 4) % V, (step * 13 + 2) % V};
        std::vector<float> rows(3 * size_t(V)), one(V);
        int32_t pick[3] = {-2, -2, -2};
        const bool with_logits = step % 2 == 0;
        ASSERT_EQ(vkc_decode_batch_argmax(ss, x, n, with_logits ? rows.data() : nullptr, pick), VKC_OK)
            << vkc_last_error();
        for (int i = 0; i < n; ++i) {
            ASSERT_EQ(vkc_session_eval(single[i].get(), &x[i], 1, one.data()), VKC_OK);
            const int32_t want = int32_t(std::max_element(one.begin(), one.end()) - one.begin());
            EXPECT_EQ(pick[i], want) << "session " << i << " step " << step;
            if (with_logits) {
                EXPECT_EQ(std::vector<float>(rows.begin() + i * V, rows.begin() + (i + 1) * V), one);
            }
        }
    }
    EXPECT_EQ(vkc_decode_batch_argmax(ss, nullptr, 3, nullptr, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_NE(std::string(vkc_last_error()).find("argmax"), std::string::npos) << vkc_last_error();
}

TEST(ServerApi, DecodeBatchValidatesBeforeRunning) {
    ModelPtr m = load("v1-tiny-tied/f32"), other = load("v2-tiny");
    ASSERT_TRUE(m && other);
    SessionPtr a = session(m.get(), 8), b = session(m.get(), 8), c = session(other.get(), 8);
    const int32_t x[2] = {1, 2};
    vkc_session* dup[2] = {a.get(), a.get()};
    vkc_session* mixed[2] = {a.get(), c.get()};
    vkc_session* null_one[2] = {a.get(), nullptr};
    vkc_session* ok[2] = {a.get(), b.get()};
    EXPECT_EQ(vkc_decode_batch(dup, x, 2, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_NE(std::string(vkc_last_error()).find("twice"), std::string::npos) << vkc_last_error();
    EXPECT_EQ(vkc_decode_batch(mixed, x, 2, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_NE(std::string(vkc_last_error()).find("another model"), std::string::npos) << vkc_last_error();
    EXPECT_EQ(vkc_decode_batch(null_one, x, 2, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_decode_batch(ok, x, 0, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_decode_batch(nullptr, x, 2, nullptr), VKC_INVALID_ARGUMENT);
    const int32_t bad[2] = {1, vkc_model_vocab_size(m.get())};
    EXPECT_EQ(vkc_decode_batch(ok, bad, 2, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_EQ(vkc_session_pos(a.get()), 0) << "a rejected batch evaluated nothing";
    // A full session fails the whole batch before any step runs.
    const int32_t fill[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ASSERT_EQ(vkc_session_eval(b.get(), fill, 8, nullptr), VKC_OK);
    EXPECT_EQ(vkc_decode_batch(ok, x, 2, nullptr), VKC_INVALID_ARGUMENT);
    EXPECT_NE(std::string(vkc_last_error()).find("full"), std::string::npos) << vkc_last_error();
    EXPECT_EQ(vkc_session_pos(a.get()), 0);
    EXPECT_EQ(vkc_decode_batch(ok, x, 1, nullptr), VKC_OK) << "the first session alone still fits";
    EXPECT_EQ(vkc_session_pos(a.get()), 1);
}

} // namespace
