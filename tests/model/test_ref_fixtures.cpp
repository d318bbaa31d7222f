// The CPU references (tests/ref) against the float64 fixtures, plus op-level sanity checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/safetensors.h"
#include "tests/ref/ref_model.h"
#include "tests/ref/ref_ops.h"

namespace vkc::ref {
namespace {

const std::string k_fixtures = VKC_FIXTURES_DIR;

// max |a - b| / max |b|
double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); i++) {
        num = std::max(num, std::fabs(double(a[i]) - double(b[i])));
        den = std::max(den, std::fabs(double(b[i])));
    }
    return den > 0 ? num / den : num;
}

std::vector<double> rand_vec(size_t n, uint32_t seed, double scale = 1.0) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(-scale, scale);
    std::vector<double> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
    EXPECT_EQ(a.size(), b.size());
    double m = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); i++) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

std::vector<int> to_int(const std::vector<int64_t>& v) { return std::vector<int>(v.begin(), v.end()); }

// ---------------------------------------------------------------- fixtures

struct FixtureCase {
    std::string name;     // folder under fixtures/
    std::string variant;  // "f32" / "bf16" (v1) or "" (v2)
    std::string model_dir() const { return k_fixtures + "/" + name + (variant.empty() ? "" : "/" + variant); }
    std::string expected() const { return k_fixtures + "/" + name + "/expected.safetensors"; }
};

void PrintTo(const FixtureCase& c, std::ostream* os) { *os << c.name << "/" << c.variant; }

std::string case_name(const testing::TestParamInfo<FixtureCase>& i) {
    std::string s = i.param.name + (i.param.variant.empty() ? "" : "_" + i.param.variant);
    for (char& ch : s)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return s;
}

class RefFixture : public testing::TestWithParam<FixtureCase> {};

TEST_P(RefFixture, ForwardMatchesExpected) {
    const FixtureCase& fc = GetParam();
    const ModelConfig cfg = load_config(fc.model_dir());
    const TensorStore store = TensorStore::open_dir(fc.model_dir());
    const auto exp = SafetensorsFile::open(fc.expected());
    const auto& et = exp->tensors();
    const std::vector<int> ids = to_int(read_i64(et.at("input_ids")));
    const RefOutput out = forward(store, cfg, ids);

    ASSERT_EQ(out.logits.size(), size_t(et.at("logits").numel()));
    double worst = 0;
    int compared = 0;
    for (const auto& [name, view] : et) {
        if (name == "input_ids" || name == "gen_prompt" || name == "gen_greedy") continue;
        std::vector<float> ours;
        if (name == "logits") {
            ours = out.logits;
        } else {
            auto it = out.intermediates.find(name);
            ASSERT_NE(it, out.intermediates.end()) << "reference does not produce " << name;
            ours = it->second;
        }
        const std::vector<float> ref = read_f32(view);
        ASSERT_EQ(ours.size(), ref.size()) << name << " " << view.shape_str();
        const double e = rel_err(ours, ref);
        std::printf("  %-28s %-14s rel err %.3e\n", (fc.name + "/" + fc.variant).c_str(), name.c_str(), e);
        EXPECT_LE(e, 1e-5) << name;
        worst = std::max(worst, e);
        compared++;
    }
    EXPECT_GE(compared, 3);
    RecordProperty("max_rel_err", std::to_string(worst));
    std::printf("  %-28s worst rel err %.3e over %d tensors\n", (fc.name + "/" + fc.variant).c_str(), worst, compared);
}

TEST_P(RefFixture, GreedyMatchesExpected) {
    const FixtureCase& fc = GetParam();
    const ModelConfig cfg = load_config(fc.model_dir());
    const TensorStore store = TensorStore::open_dir(fc.model_dir());
    const auto exp = SafetensorsFile::open(fc.expected());
    const std::vector<int> prompt = to_int(read_i64(exp->tensors().at("gen_prompt")));
    const std::vector<int> want = to_int(read_i64(exp->tensors().at("gen_greedy")));
    EXPECT_EQ(greedy_generate(store, cfg, prompt, int(want.size())), want);
}

INSTANTIATE_TEST_SUITE_P(All, RefFixture,
                         testing::Values(FixtureCase{"v1-tiny-tied", "f32"}, FixtureCase{"v1-tiny-tied", "bf16"},
                                         FixtureCase{"v1-tiny-untied", "f32"}, FixtureCase{"v1-tiny-untied", "bf16"},
                                         FixtureCase{"v1-tiny-swa", "f32"}, FixtureCase{"v1-tiny-swa", "bf16"},
                                         FixtureCase{"v2-tiny", ""}, FixtureCase{"v2-tiny-g256", ""}),
                         case_name);

// The f32 and bf16 v1 checkpoints must hold identical values.
TEST(RefFixtures, V1Bf16EqualsF32) {
    for (const char* name : {"v1-tiny-tied", "v1-tiny-untied", "v1-tiny-swa"}) {
        const std::string base = k_fixtures + "/" + name;
        const TensorStore a = TensorStore::open_dir(base + "/f32"), b = TensorStore::open_dir(base + "/bf16");
        ASSERT_EQ(a.names(), b.names()) << name;
        for (const std::string& n : a.names()) EXPECT_EQ(read_f32(a.get(n)), read_f32(b.get(n))) << name << " " << n;
    }
}

// ---------------------------------------------------------------- Hilbert

TEST(RefHilbert, BijectionAndNeighbours) {
    for (int G = 2; G <= 256; G *= 2) {
        std::vector<char> seen(size_t(G) * G, 0);
        int px = 0, py = 0;
        for (int64_t t = 0; t < int64_t(G) * G; t++) {
            int x = -1, y = -1;
            hilbert_d2xy(G, t, &x, &y);
            ASSERT_TRUE(x >= 0 && x < G && y >= 0 && y < G) << "G=" << G << " t=" << t;
            ASSERT_FALSE(seen[size_t(y) * G + x]) << "G=" << G << " t=" << t << " repeats a cell";
            seen[size_t(y) * G + x] = 1;
            ASSERT_EQ(hilbert_xy2d(G, x, y), t) << "G=" << G;
            if (t > 0) {
                ASSERT_EQ(std::abs(x - px) + std::abs(y - py), 1) << "G=" << G << " t=" << t;
            }
            px = x;
            py = y;
        }
    }
}

TEST(RefHilbert, Orientation) {
    // The spec's example list (0,0)(1,0)(1,1)(0,1)(0,2)(0,3) holds for even log2(G) (G = 16, 64, 256);
    // for odd log2(G), G = 32 included, the literal algorithm gives the transpose. v2-tiny (G = 32) matches
    // the literal algorithm, so the example's "G = 32" label is the slip.
    const int even[6][2] = {{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 2}, {0, 3}};
    for (int G : {4, 16, 64, 256, 8, 32, 128}) {
        const bool odd = (__builtin_ctz(unsigned(G)) % 2) == 1;
        for (int t = 0; t < 6; t++) {
            int x, y;
            hilbert_d2xy(G, t, &x, &y);
            EXPECT_EQ(x, odd ? even[t][1] : even[t][0]) << "G=" << G << " t=" << t;
            EXPECT_EQ(y, odd ? even[t][0] : even[t][1]) << "G=" << G << " t=" << t;
        }
    }
    int x, y;
    hilbert_d2xy(256, 65535, &x, &y); // the curve ends at the opposite corner of the first row
    EXPECT_EQ(y, 0);
    EXPECT_EQ(x, 255);
}

// ---------------------------------------------------------------- common ops

TEST(RefOps, RmsnormMatmulSwiglu) {
    const std::vector<double> x = {3, 4, 0, 0, 1, 1, 1, 1}; // [2, 4]
    const std::vector<double> w = {1, 2, 3, 4};
    const auto y = rmsnorm(x, w, 0.0);
    const double s0 = 1.0 / std::sqrt(25.0 / 4.0);
    EXPECT_NEAR(y[0], 3 * s0, 1e-12);
    EXPECT_NEAR(y[1], 8 * s0, 1e-12);
    EXPECT_NEAR(y[7], 4.0, 1e-12);
    const std::vector<double> W = {1, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1}; // [3, 4]
    const auto m = matmul(x, W, 3, 4);
    EXPECT_EQ(m, (std::vector<double>{3, 4, 7, 1, 2, 4}));
    const auto g = swiglu(std::vector<double>{0.0, 2.0}, std::vector<double>{5.0, 3.0});
    EXPECT_NEAR(g[0], 0.0, 1e-15);
    EXPECT_NEAR(g[1], 3.0 * 2.0 / (1.0 + std::exp(-2.0)), 1e-12);
}

TEST(RefOps, FloatAndDoubleAgree) {
    const auto xd = rand_vec(6 * 32, 1), wd = rand_vec(32, 2), Wd = rand_vec(16 * 32, 3);
    const std::vector<float> xf(xd.begin(), xd.end()), wf(wd.begin(), wd.end()), Wf(Wd.begin(), Wd.end());
    const auto a = matmul(rmsnorm(xd, wd, 1e-6), Wd, 16, 32);
    const auto b = matmul(rmsnorm(xf, wf, 1e-6), Wf, 16, 32);
    for (size_t i = 0; i < a.size(); i++) EXPECT_NEAR(a[i], b[i], 1e-5);
}

TEST(RefOps, Rope) {
    const int heads = 2, hd = 8;
    auto x = rand_vec(3 * heads * hd, 4);
    const auto x0 = x;
    rope(x, heads, hd, 0, 10000.0);
    for (int i = 0; i < heads * hd; i++) EXPECT_DOUBLE_EQ(x[size_t(i)], x0[size_t(i)]); // position 0: identity
    // norms of each (i, i + hd/2) pair are preserved; pair 0 rotates by exactly pos radians
    for (int t = 1; t < 3; t++)
        for (int h = 0; h < heads; h++) {
            const size_t b = size_t(t * heads + h) * hd;
            for (int i = 0; i < hd / 2; i++) {
                EXPECT_NEAR(std::hypot(x[b + i], x[b + i + hd / 2]), std::hypot(x0[b + i], x0[b + i + hd / 2]), 1e-12);
            }
            EXPECT_NEAR(x[b], x0[b] * std::cos(t) - x0[b + hd / 2] * std::sin(t), 1e-12);
        }
    // pos0 offset == rows further down
    auto y = std::vector<double>(x0.begin() + 2 * heads * hd, x0.end());
    rope(y, heads, hd, 2, 10000.0);
    for (int i = 0; i < heads * hd; i++) EXPECT_DOUBLE_EQ(y[size_t(i)], x[size_t(2 * heads * hd + i)]);
    // inv_freq = theta^(-2i/hd): double by default (matches the fixtures), float32-rounded on request
    const auto inv = rope_inv_freq(hd, 10000.0), inv32 = rope_inv_freq(hd, 10000.0, true);
    EXPECT_EQ(inv[0], 1.0);
    EXPECT_NEAR(inv[2], 0.01, 1e-17);
    EXPECT_EQ(inv32[2], double(0.01f));
    EXPECT_NE(inv32[2], inv[2]);
}

TEST(RefOps, AttentionBasics) {
    const int nh = 4, nkv = 2, hd = 4, S = 5;
    const auto q = rand_vec(size_t(S) * nh * hd, 5), k = rand_vec(size_t(S) * nkv * hd, 6),
               v = rand_vec(size_t(S) * nkv * hd, 7);
    const auto o = attention(q, k, v, nh, nkv, hd, 0, 0);
    // row 0 sees only key 0: output = v[0] of the right kv head (h / 2)
    for (int h = 0; h < nh; h++)
        for (int c = 0; c < hd; c++) EXPECT_NEAR(o[size_t(h) * hd + c], v[size_t(h / 2) * hd + c], 1e-12);
    // window 1: every row sees only itself
    const auto o1 = attention(q, k, v, nh, nkv, hd, 0, 1);
    for (int t = 0; t < S; t++)
        for (int h = 0; h < nh; h++)
            for (int c = 0; c < hd; c++)
                EXPECT_NEAR(o1[(size_t(t) * nh + h) * hd + c], v[(size_t(t) * nkv + h / 2) * hd + c], 1e-12);
    // decode rows (pos0 > 0) equal the full-prefill rows
    const std::vector<double> q_tail(q.begin() + 3 * nh * hd, q.end());
    const auto o_tail = attention(q_tail, k, v, nh, nkv, hd, 3, 0);
    EXPECT_LT(max_abs_diff(o_tail, std::vector<double>(o.begin() + 3 * nh * hd, o.end())), 1e-14);
    // hand case, T = S = 2, hd = 1: row 0 sees key 0 only; row 1 has equal scores -> mean of the values
    const std::vector<double> q2 = {1, 1}, k2 = {0, 0}, v2 = {2, 4};
    const auto o2 = attention(q2, k2, v2, 1, 1, 1, 0, 0);
    EXPECT_NEAR(o2[0], 2.0, 1e-12);
    EXPECT_NEAR(o2[1], 3.0, 1e-12);
    // scale hd^-0.5: q.k = 2 * ln 3 with hd = 4 -> weights 1 : 3
    const double l3 = std::log(3.0) / 2;
    const std::vector<double> q3 = {0, 0, 0, 0, l3, l3, l3, l3}, k3 = {0, 0, 0, 0, 1, 1, 1, 1}, v3 = {0, 0, 0, 0, 4, 4, 4, 4};
    EXPECT_NEAR(attention(q3, k3, v3, 1, 1, 4, 0, 0)[4], 3.0, 1e-12);
}

// ---------------------------------------------------------------- v1 embedding

TEST(RefOps, EmbedConvPoolNorm) {
    // k = 1 identity conv: Y = X; pool 2 x 2 of a 4 x 4 grid; then ScaleNorm with g = 2.
    const int e = 4, f = 2, k = 1;
    std::vector<double> conv(size_t(e) * e * k, 0.0);
    for (int o = 0; o < e; o++) conv[size_t(o) * e + o] = 1.0;
    std::vector<double> x(size_t(e) * e);
    for (int i = 0; i < e * e; i++) x[size_t(i)] = i;
    const auto p = embed_conv_pool_norm(x, conv, 2.0, e, f, k);
    const double P[4] = {(0 + 1 + 4 + 5) / 4.0, (2 + 3 + 6 + 7) / 4.0, (8 + 9 + 12 + 13) / 4.0, (10 + 11 + 14 + 15) / 4.0};
    double ss = 0;
    for (double v : P) ss += v * v;
    const double denom = std::sqrt(ss) / 2.0;
    for (int i = 0; i < 4; i++) EXPECT_NEAR(p[size_t(i)], P[i] / denom * 2.0, 1e-12);
    // causal shift: k = 2 with only the tap j = 0 (reads w - 1) set
    std::vector<double> conv2(size_t(e) * e * 2, 0.0);
    for (int o = 0; o < e; o++) conv2[(size_t(o) * e + o) * 2 + 0] = 1.0;
    std::vector<double> x2(size_t(e) * e, 0.0);
    x2[size_t(1) * e + (e - 1)] = 1.0; // last column: shifted out of the grid -> all zero -> 1e-5 floor
    const auto p2 = embed_conv_pool_norm(x2, conv2, 1.0, e, f, 2);
    for (double v : p2) EXPECT_EQ(v, 0.0);
}

// ---------------------------------------------------------------- v2 ops

TEST(RefOps, Conv1dCausal) {
    const int d = 2, k1 = 3, T = 5;
    std::vector<double> a(size_t(T) * d, 0.0);
    a[0] = 1.0; // impulse at t = 0, channel 0
    const std::vector<double> w = {1, 2, 3, 4, 5, 6}, bias = {0.5, -1};
    const auto c = conv1d_causal(a, w, bias, k1);
    // channel 0 response: t=0 -> w[2], t=1 -> w[1], t=2 -> w[0], later 0 (plus bias)
    EXPECT_DOUBLE_EQ(c[0], 3.5);
    EXPECT_DOUBLE_EQ(c[2], 2.5);
    EXPECT_DOUBLE_EQ(c[4], 1.5);
    EXPECT_DOUBLE_EQ(c[6], 0.5);
    for (int t = 0; t < T; t++) EXPECT_DOUBLE_EQ(c[size_t(t) * d + 1], -1.0);
}

TEST(RefOps, Conv2dHilbert) {
    const int G = 8, k2 = 3, d = 3, S = 40;
    const auto a = rand_vec(size_t(S) * d, 8), w = rand_vec(size_t(d) * k2 * k2, 9), bias = rand_vec(d, 10);
    const auto c = conv2d_hilbert(a, w, bias, k2, G);
    // independent check: scan the grid for cells written no later than t inside the window
    for (int t = 0; t < S; t++) {
        int x, y;
        hilbert_d2xy(G, t, &x, &y);
        for (int ch = 0; ch < d; ch++) {
            double s = bias[size_t(ch)];
            for (int p = 0; p <= t; p++) {
                int px, py;
                hilbert_d2xy(G, p, &px, &py);
                if (std::abs(px - x) <= 1 && std::abs(py - y) <= 1)
                    s += w[(size_t(ch) * k2 + (py - y + 1)) * k2 + (px - x + 1)] * a[size_t(p) * d + ch];
            }
            EXPECT_NEAR(c[size_t(t) * d + ch], s, 1e-12) << "t=" << t;
        }
    }
    // t = 0 sees only itself (center tap); decode rows equal prefill rows
    for (int ch = 0; ch < d; ch++)
        EXPECT_NEAR(c[size_t(ch)], bias[size_t(ch)] + w[(size_t(ch) * k2 + 1) * k2 + 1] * a[size_t(ch)], 1e-12);
    const auto tail = conv2d_hilbert(a, w, bias, k2, G, 30);
    EXPECT_LT(max_abs_diff(tail, std::vector<double>(c.begin() + 30 * d, c.end())), 1e-15);
}

TEST(RefOps, GatedFusion) {
    const auto y = gated_fusion(std::vector<double>{0.0}, std::vector<double>{1.0}, std::vector<double>{-1.0},
                                std::vector<double>{2.0});
    auto silu = [](double v) { return v / (1 + std::exp(-v)); };
    EXPECT_NEAR(y[0], (0.5 * silu(1.0) + 0.5 * silu(-1.0)) * silu(2.0), 1e-14);
}

TEST(RefOps, MemoryAttentionDenseWhenFewChunks) {
    // c <= K for every query: memory attention is plain causal attention
    const int Hm = 2, Dm = 4, C = 4, K = 3, T = 16;
    const auto q = rand_vec(size_t(T) * Hm * Dm, 11), k = rand_vec(size_t(T) * Hm * Dm, 12),
               v = rand_vec(size_t(T) * Hm * Dm, 13);
    EXPECT_LT(max_abs_diff(memory_attention(q, k, v, Hm, Dm, C, K), attention(q, k, v, Hm, Hm, Dm, 0, 0)), 1e-14);
}

TEST(RefOps, MemoryAttentionSelection) {
    const int Hm = 1, Dm = 2, C = 2, K = 1, T = 8; // chunks {0,1} {2,3} {4,5} {6,7}
    // keys of chunk j point along (1, 0) with length j+1 except chunk 1 along (0, 5); q = (0, 1) at t = 6
    std::vector<double> k = {1, 0, 1, 0, 0, 5, 0, 5, 3, 0, 3, 0, 4, 0, 4, 0};
    std::vector<double> q(size_t(T) * Dm, 0.0), v(size_t(T) * Dm);
    for (int t = 0; t < T; t++) {
        v[size_t(t) * 2] = t;
        v[size_t(t) * 2 + 1] = 1;
    }
    q[12] = 0;
    q[13] = 1;
    const auto kbar = chunk_summaries(k, Hm, Dm, C);
    ASSERT_EQ(kbar.size(), 8u);
    EXPECT_EQ(select_chunks(&q[12], kbar, 0, Hm, Dm, 3, K), std::vector<int>{1});
    EXPECT_EQ(select_chunks(&q[12], kbar, 0, Hm, Dm, 3, 2), (std::vector<int>{0, 1})); // tie 0 vs 2 -> 0
    EXPECT_EQ(select_chunks(&q[12], kbar, 0, Hm, Dm, 1, K), std::vector<int>{0});      // c <= K: all
    // t = 6 attends to keys {2, 3} (selected) and {6}: scores 5/sqrt2, 5/sqrt2, 0
    const auto o = memory_attention(q, k, v, Hm, Dm, C, K);
    const double e5 = std::exp(5 / std::sqrt(2.0)), den = 2 * e5 + 1;
    EXPECT_NEAR(o[12], (2 * e5 + 3 * e5 + 6) / den, 1e-12);
    // decode rows equal prefill rows
    const std::vector<double> q_tail(q.begin() + 5 * Dm, q.end());
    const auto tail = memory_attention(q_tail, k, v, Hm, Dm, C, K, 5);
    EXPECT_LT(max_abs_diff(tail, std::vector<double>(o.begin() + 5 * Dm, o.end())), 1e-15);
}

} // namespace
} // namespace vkc::ref
