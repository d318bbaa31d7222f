// attention family: qk_norm_rope (per-head RMSNorm + RoPE + K/V cache write) and causal GQA attention
// (single pass and split-K) against the CPU references of tests/ref/ref_ops.h.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "model/kernels/attention.h"
#include "model/kernels/basic.h"
#include "tests/common/gpu_helpers.h"
#include "tests/common/quant_helpers.h"
#include "tests/ref/ref_ops.h"

using namespace vkc;
using namespace vkc::test;

namespace {

constexpr float kEps = 1e-6f;
constexpr float kTheta = 10000.f;
constexpr float kGuard = 12345.f; // sentinel after the end of written buffers

// Roped values: the float32 angle fl(p * inv_freq) is itself only defined to ~1 ulp of the angle (the
// GPU's inv_freq may differ by 1 ulp from the reference's), so the tolerance grows with the position.
double rope_tol(int max_pos) { return 1e-5 + 3.0 * max_pos * std::ldexp(1.0, -24); }

// Heads [h0, h0 + n) of every row of x [T, heads, hd] -> [T, n, hd].
std::vector<float> heads_of(const std::vector<float>& x, int T, int heads, int hd, int h0, int n) {
    std::vector<float> r(size_t(T) * n * hd);
    for (int t = 0; t < T; ++t)
        std::memcpy(&r[size_t(t) * n * hd], &x[(size_t(t) * heads + h0) * hd], size_t(n) * hd * sizeof(float));
    return r;
}

std::vector<float> with_guard(size_t n, size_t guard) {
    std::vector<float> v(n + guard, 0.f);
    for (size_t i = n; i < v.size(); ++i) v[i] = kGuard;
    return v;
}

void expect_guard(const std::vector<float>& v, size_t n) {
    for (size_t i = n; i < v.size(); ++i) ASSERT_EQ(v[i], kGuard) << "written past the end at " << i;
}

// CPU reference of qk_norm_rope for x [T, heads, hd]. RoPE as HF's float32 model computes it: inv_freq in
// float32 (ref::rope_inv_freq(.., f32 = true)), angle = fl32(float(p) * inv_freq), then cos / sin of that
// float angle (ref::rope takes the exact product instead, which differs by up to ulp(angle) / 2).
std::vector<float> ref_qk(std::vector<float> x, const std::vector<float>& w, int heads, int hd, int pos0,
                          uint32_t flags) {
    if (flags & QKR_NORM) x = ref::rmsnorm(x, w, kEps);
    if (!(flags & QKR_ROPE)) return x;
    const std::vector<double> inv = ref::rope_inv_freq(hd, kTheta, true);
    const int half = hd / 2;
    const size_t T = x.size() / (size_t(heads) * hd);
    for (size_t t = 0; t < T; ++t)
        for (int h = 0; h < heads; ++h) {
            float* r = &x[(t * heads + h) * hd];
            for (int i = 0; i < half; ++i) {
                const double ang = double(float(pos0 + int(t)) * float(inv[size_t(i)]));
                const double c = std::cos(ang), s = std::sin(ang), a = r[i], b = r[i + half];
                r[i] = float(a * c - b * s);
                r[i + half] = float(b * c + a * s);
            }
        }
    return x;
}

struct QkCase {
    int hd, nh, nkv, T, pos0;
    uint32_t flags = QKR_NORM | QKR_ROPE;
    int ctx_delta = 3; // cache capacity = pos0 + T + ctx_delta (negative: the batch overruns the cache)
};

class QkNormRope : public VkTest {};

// Buffers of one qk_norm_rope / qkv_rope case: norm weights, position, q_out (with a guard), caches of
// ctx + 2 rows (2 past the capacity given to the kernel) with random contents.
struct QkIo {
    Buffers b;
    std::vector<float> qn, kn, kc0, vc0;
    BufferRef qn_b, kn_b, seq, q_out, kc, vc;
    int ctx = 0, rows = 0;
    size_t kv_row = 0, nq = 0;
    QkIo(const QkCase& c, uint32_t seed) {
        ctx = c.pos0 + c.T + c.ctx_delta;
        rows = ctx + 2;
        kv_row = size_t(c.nkv) * c.hd;
        nq = size_t(c.T) * c.nh * c.hd;
        qn = random_vec(c.hd, seed + 1, 0.5f, 1.5f), kn = random_vec(c.hd, seed + 2, 0.5f, 1.5f);
        kc0 = random_vec(rows * kv_row, seed + 3), vc0 = random_vec(rows * kv_row, seed + 4);
        qn_b = b.from(qn), kn_b = b.from(kn);
        seq = b.from(std::vector<uint32_t>{uint32_t(c.pos0), 0, 0, 0});
        q_out = b.from(with_guard(nq, 16));
        kc = b.from(kc0), vc = b.from(vc0);
    }
    QkNormRopePush push(const QkCase& c) const {
        return {uint32_t(c.T), uint32_t(c.nh), uint32_t(c.nkv), uint32_t(c.hd), kEps, kTheta, c.flags, uint32_t(ctx)};
    }
    // q_out and the caches against the CPU reference of qkv [T, heads, hd]: rows of this batch (inside the
    // capacity) hold the new k / v (v within v_tol; 0: copied exactly), every other row is untouched.
    void check(const QkCase& c, const std::vector<float>& qkv, double extra_tol, double v_tol);
};

void run_qk(const QkNormRopeKernel& k, const QkCase& c, uint32_t seed) {
    SCOPED_TRACE(::testing::Message() << "hd " << c.hd << " nh " << c.nh << " nkv " << c.nkv << " T " << c.T
                                      << " pos0 " << c.pos0 << " flags " << c.flags << " ctx_delta " << c.ctx_delta);
    const int heads = c.nh + 2 * c.nkv;
    std::vector<float> qkv = random_vec(size_t(c.T) * heads * c.hd, seed, -2.f, 2.f);
    QkIo io(c, seed);
    BufferRef qkv_b = io.b.from(qkv);
    const bool norm = c.flags & QKR_NORM;
    BoundSet set = k.bind(io.b.sets(), qkv_b, norm ? io.qn_b : qkv_b, norm ? io.kn_b : qkv_b, io.seq, io.q_out,
                          io.kc, io.vc);
    run_once([&](Recorder& rec) { k.record(rec, set, io.push(c)); });
    io.check(c, qkv, 0.0, 0.0);
}

void QkIo::check(const QkCase& c, const std::vector<float>& qkv, double extra_tol, double v_tol) {
    const int heads = c.nh + 2 * c.nkv, hd = c.hd;
    const double tol = ((c.flags & QKR_ROPE) ? rope_tol(c.pos0 + c.T) : 1e-5) + extra_tol;
    std::vector<float> q_ref = ref_qk(heads_of(qkv, c.T, heads, hd, 0, c.nh), qn, c.nh, hd, c.pos0, c.flags);
    std::vector<float> q_gpu = b.read(q_out, nq + 16);
    expect_guard(q_gpu, nq);
    q_gpu.resize(nq);
    EXPECT_LE(rel_error(q_gpu, q_ref), tol);

    std::vector<float> k_ref = ref_qk(heads_of(qkv, c.T, heads, hd, c.nh, c.nkv), kn, c.nkv, hd, c.pos0, c.flags);
    std::vector<float> v_new = heads_of(qkv, c.T, heads, hd, c.nh + c.nkv, c.nkv);
    std::vector<float> kc_gpu = b.read(kc, rows * kv_row), vc_gpu = b.read(vc, rows * kv_row);
    std::vector<float> k_got, k_want, v_got, v_want;
    for (int r = 0; r < rows; ++r) {
        const int t = r - c.pos0;
        const bool written = t >= 0 && t < c.T && r < ctx;
        for (size_t i = 0; i < kv_row; ++i) {
            const size_t at = size_t(r) * kv_row + i;
            if (written) {
                k_got.push_back(kc_gpu[at]);
                k_want.push_back(k_ref[size_t(t) * kv_row + i]);
                if (v_tol == 0.0) {
                    ASSERT_EQ(vc_gpu[at], v_new[size_t(t) * kv_row + i]) << "v row " << r;
                }
                v_got.push_back(vc_gpu[at]);
                v_want.push_back(v_new[size_t(t) * kv_row + i]);
            } else {
                ASSERT_EQ(kc_gpu[at], kc0[at]) << "k row " << r << " must stay untouched";
                ASSERT_EQ(vc_gpu[at], vc0[at]) << "v row " << r << " must stay untouched";
            }
        }
    }
    if (!k_want.empty()) {
        EXPECT_LE(rel_error(k_got, k_want), tol);
        EXPECT_LE(rel_error(v_got, v_want), v_tol);
    }
}

// qkv_rope: x [T, x_stride] (K used), W [heads hd, K], norm weights [K] -> the CPU reference qkv =
// RMSNorm(x) * nw times W^T in double, then checked as qk_norm_rope's outputs.
void run_qkv(const QkvRopeKernel& k, WeightType type, const QkCase& c, int K, int x_stride, uint32_t seed) {
    SCOPED_TRACE(::testing::Message() << weight_type_suffix(type) << " K " << K << " x_stride " << x_stride << " hd "
                                      << c.hd << " nh " << c.nh << " nkv " << c.nkv << " T " << c.T << " pos0 "
                                      << c.pos0 << " flags " << c.flags << " ctx_delta " << c.ctx_delta);
    const int heads = c.nh + 2 * c.nkv, N = heads * c.hd;
    std::vector<float> x = random_vec(size_t(c.T) * x_stride, seed + 10, -2.f, 2.f);
    std::vector<float> nw = random_vec(K, seed + 11, 0.5f, 1.5f);
    std::vector<float> w = random_vec(size_t(N) * K, seed + 12, -0.3f, 0.3f);
    if (type == WeightType::f16) w = Buffers::round_f16(w);
    Quantized q;
    if (weight_type_quantized(type)) {
        q = quantize(type, w, N, K);
        w = q.deq; // the reference multiplies the values the GPU dequantizes
    }
    std::vector<float> qkv(size_t(c.T) * N);
    for (int t = 0; t < c.T; ++t) {
        double ss = 0;
        for (int i = 0; i < K; ++i) ss += double(x[size_t(t) * x_stride + i]) * x[size_t(t) * x_stride + i];
        const double r = 1.0 / std::sqrt(ss / K + kEps);
        for (int n = 0; n < N; ++n) {
            double acc = 0;
            for (int i = 0; i < K; ++i) acc += x[size_t(t) * x_stride + i] * r * nw[i] * w[size_t(n) * K + i];
            qkv[size_t(t) * N + n] = float(acc);
        }
    }
    QkIo io(c, seed);
    WeightTensor wt = weight_type_quantized(type) ? quant_weight(io.b, type, q, N, K) : io.b.weight(w, N, K, type);
    ASSERT_TRUE(k.supports(wt));
    const bool norm = c.flags & QKR_NORM;
    BufferRef xb = io.b.from(x), nwb = io.b.from(nw);
    BoundSet set = k.bind(io.b.sets(), xb, wt, nwb, norm ? io.qn_b : xb, norm ? io.kn_b : xb, io.seq, io.q_out,
                          io.kc, io.vc);
    run_once([&](Recorder& rec) { k.record(rec, set, io.push(c), uint32_t(K), uint32_t(x_stride), kEps); });
    io.check(c, qkv, 2e-5, 2e-5); // the projection's float sums: a few ulp of each value
}

TEST_F(QkNormRope, ShapesAndPositions) {
    QkNormRopeKernel k(env());
    const int hds[] = {32, 48, 128, 256};
    const int hk[][2] = {{4, 2}, {6, 2}, {16, 8}, {3, 3}, {4, 1}};
    const int Ts[] = {1, 5, 64, 77}, pos0s[] = {0, 9, 300};
    int i = 0;
    for (int hd : hds)
        for (auto& g : hk) {
            run_qk(k, {hd, g[0], g[1], Ts[i % 4], pos0s[i % 3]}, 100 + i);
            ++i;
        }
}

TEST_F(QkNormRope, OddHeadDimWithoutRope) {
    QkNormRopeKernel k(env());
    const int hk[][2] = {{4, 2}, {6, 2}, {16, 8}, {3, 3}, {4, 1}};
    const int Ts[] = {1, 5, 64, 77};
    for (int i = 0; i < 5; ++i) run_qk(k, {17, hk[i][0], hk[i][1], Ts[i % 4], (i % 3) * 9, QKR_NORM}, 200 + i);
}

TEST_F(QkNormRope, FlagCombinations) {
    QkNormRopeKernel k(env());
    for (uint32_t flags : {0u, uint32_t(QKR_NORM), uint32_t(QKR_ROPE), uint32_t(QKR_NORM | QKR_ROPE)}) {
        run_qk(k, {48, 6, 2, 5, 9, flags}, 300 + flags);
        run_qk(k, {128, 4, 1, 3, 300, flags}, 310 + flags);
    }
    run_qk(k, {17, 3, 3, 4, 2, 0}, 320);
}

TEST_F(QkNormRope, LongPositionsAndCacheCapacity) {
    QkNormRopeKernel k(env());
    run_qk(k, {128, 16, 8, 1, 2000}, 400);
    run_qk(k, {64, 4, 2, 3, 20000}, 401);
    // batch runs past the capacity: rows >= ctx are never written (host bug guard)
    run_qk(k, {32, 4, 2, 7, 9, QKR_NORM | QKR_ROPE, -3}, 402);
    run_qk(k, {32, 4, 2, 5, 9, QKR_NORM | QKR_ROPE, -5}, 403); // nothing fits: only q is written
}

// The decode fusion of the qkv projection, every weight type: odd K (element path; quantized: a last
// block mostly padding), K a multiple of the 16-byte vector, padded x rows, hd 32 .. 256, batches of
// tokens, positions past the capacity, every flag set.
TEST_F(QkNormRope, FusedQkvProjection) {
    uint32_t seed = 500;
    for (WeightType type : {WeightType::f32, WeightType::f16, WeightType::q8_0, WeightType::q4_0}) {
        QkvRopeKernel k(env(), type);
        run_qkv(k, type, {32, 4, 2, 1, 9}, 37, 37, seed++);
        run_qkv(k, type, {128, 16, 8, 1, 31}, 144, 148, seed++);
        run_qkv(k, type, {64, 6, 2, 3, 300}, 64, 64, seed++);
        run_qkv(k, type, {256, 3, 3, 2, 0}, 96, 100, seed++);
        run_qkv(k, type, {48, 4, 1, 5, 9, QKR_NORM}, 1000, 1003, seed++);
        run_qkv(k, type, {32, 4, 2, 7, 9, QKR_NORM | QKR_ROPE, -3}, 40, 40, seed++); // rows past the capacity
        run_qkv(k, type, {17, 3, 3, 2, 4, 0}, 33, 33, seed++);                        // odd hd, no norm / rope
    }
}

TEST_F(QkNormRope, FusedQkvRejectsWhatItCannotFuse) {
    Buffers b;
    QkvRopeKernel q8(env(), WeightType::q8_0);
    const Quantized q = quantize(WeightType::q8_0, random_vec(64 * 32, 1), 64, 32);
    EXPECT_TRUE(q8.supports(quant_weight(b, WeightType::q8_0, q, 64, 32)));
    EXPECT_FALSE(q8.supports(quant_weight(b, WeightType::q8_0, q, 64, 32, 32)));  // 2 parts
    EXPECT_FALSE(q8.supports(quant_weight(b, WeightType::q8_0, q, 64, 32, 100))); // scales after row 100, not 64
    QkvRopeKernel k(env(), WeightType::f32);
    EXPECT_FALSE(k.supports(b.weight(random_vec(64 * 32, 1), 64, 32, WeightType::f16)));          // other type
    EXPECT_FALSE(k.supports(b.weight(random_vec(64 * 1025, 1), 64, 1025, WeightType::f32)));      // K > 1024
    EXPECT_FALSE(k.supports(b.weight(random_vec(64 * 32, 1), 64, 32, WeightType::f32, 16)));      // 4 parts
    EXPECT_TRUE(k.supports(b.weight(random_vec(64 * 32, 1), 64, 32, WeightType::f32)));
}

TEST_F(QkNormRope, RejectsOddHeadDimWithRope) {
    Buffers b;
    BufferRef x = b.zeros(4096);
    QkNormRopeKernel k(env());
    BoundSet set = k.bind(b.sets(), x, x, x, x, b.zeros(4096), b.zeros(4096), b.zeros(4096));
    QkNormRopePush push{1, 2, 1, 17, kEps, kTheta, QKR_ROPE, 4};
    CommandBuffer cb(ctx());
    Recorder rec(cb.begin(true));
    EXPECT_THROW(k.record(rec, set, push), Error);
    cb.end();
}

// ---------------------------------------------------------------- attention

struct AttnCase {
    int hd, nh, nkv, T, pos0, window;
    uint32_t splits = 1;
};

class Attention : public VkTest {};

void run_attn(const AttentionKernel& k, const AttnCase& c, uint32_t seed) {
    SCOPED_TRACE(::testing::Message() << "hd " << c.hd << " nh " << c.nh << " nkv " << c.nkv << " T " << c.T
                                      << " pos0 " << c.pos0 << " window " << c.window << " splits " << c.splits);
    const int hd = c.hd, S = c.pos0 + c.T, ctx = S + 5;
    const size_t kv_row = size_t(c.nkv) * hd, nq = size_t(c.T) * c.nh * hd;
    std::vector<float> q = random_vec(nq, seed, -1.5f, 1.5f);
    std::vector<float> kc = random_vec(ctx * kv_row, seed + 1), vc = random_vec(ctx * kv_row, seed + 2);
    // rows past the batch: large values, so a leaking mask (a future key read) shows up
    std::vector<float> junk = random_vec((ctx - S) * kv_row, seed + 3, -8.f, 8.f);
    std::copy(junk.begin(), junk.end(), kc.begin() + S * kv_row);
    std::copy(junk.rbegin(), junk.rend(), vc.begin() + S * kv_row);

    Buffers b;
    BufferRef q_b = b.from(q), kc_b = b.from(kc), vc_b = b.from(vc);
    BufferRef seq = b.from(std::vector<uint32_t>{uint32_t(c.pos0), 0, 0, 0});
    BufferRef out = b.from(with_guard(nq, 16));
    BufferRef scratch;
    if (c.splits > 1) scratch = b.zeros(AttentionKernel::scratch_bytes(c.T, c.nh, hd, c.splits));
    BoundSet set = k.bind(b.sets(), q_b, kc_b, vc_b, seq, out, scratch);
    AttentionPush push{uint32_t(c.T), uint32_t(c.nh), uint32_t(c.nkv), uint32_t(hd), uint32_t(c.window),
                       float(1.0 / std::sqrt(double(hd)))};
    run_once([&](Recorder& rec) { k.record(rec, set, push, c.splits); });

    std::vector<float> kv(kc.begin(), kc.begin() + S * kv_row), vv(vc.begin(), vc.begin() + S * kv_row);
    std::vector<float> want = ref::attention(q, kv, vv, c.nh, c.nkv, hd, c.pos0, c.window);
    std::vector<float> got = b.read(out, nq + 16);
    expect_guard(got, nq);
    got.resize(nq);
    EXPECT_LE(rel_error(got, want), 1e-5);
}

TEST_F(Attention, ShapesPositionsWindows) {
    AttentionKernel k(env());
    const int hds[] = {32, 48, 128, 17, 256};
    const int hk[][2] = {{4, 2}, {6, 2}, {16, 8}, {3, 3}, {4, 1}};
    const int Ts[] = {1, 5, 64, 77}, pos0s[] = {0, 9, 300}, windows[] = {0, 6, 1};
    int i = 0;
    for (int hd : hds)
        for (auto& g : hk)
            for (int rep = 0; rep < 2; ++rep, ++i) {
                // every (hd, nh/nkv) pair with two (T, pos0, window) triples cycling through all values
                int T = Ts[i % 4], pos0 = pos0s[(i / 4) % 3];
                if (hd * g[0] * (T + pos0) > 256 * 16 * 100) T = std::min(T, 5); // keep lavapipe fast
                run_attn(k, {hd, g[0], g[1], T, pos0, windows[i % 3]}, 500 + i);
            }
}

TEST_F(Attention, SuggestedSplits) {
    EXPECT_EQ(AttentionKernel::suggest_splits(2048, 16, 8, 2048), 1u); // prefill: enough workgroups
    EXPECT_EQ(AttentionKernel::suggest_splits(1, 16, 8, 40), 1u);      // a few keys: one split
    const uint32_t s = AttentionKernel::suggest_splits(1, 16, 8, 32768);
    EXPECT_GT(s, 8u);
    EXPECT_LE(s, AttentionKernel::kMaxSplits);
}

TEST_F(Attention, PrefillFromZeroAndWindowEdges) {
    AttentionKernel k(env());
    run_attn(k, {64, 4, 2, 77, 0, 0}, 600);
    run_attn(k, {64, 4, 2, 77, 0, 6}, 601);
    run_attn(k, {32, 6, 2, 64, 9, 1}, 602);   // window 1: each query sees only itself
    run_attn(k, {48, 3, 3, 130, 0, 129}, 603); // window just under the key count, > one 128-key block
    run_attn(k, {16, 2, 1, 1, 0, 0}, 604);     // a single key
}

TEST_F(Attention, LongContextDecode) {
    AttentionKernel k(env());
    const uint32_t s = AttentionKernel::suggest_splits(1, 16, 8, 2001);
    EXPECT_GT(s, 1u);
    for (uint32_t splits : {1u, s, 7u}) {
        run_attn(k, {128, 16, 8, 1, 2000, 0, splits}, 700 + splits);
        run_attn(k, {64, 4, 1, 1, 2000, 300, splits}, 710 + splits);
    }
    run_attn(k, {256, 4, 2, 1, 2000, 0, 3}, 720);
    run_attn(k, {17, 3, 3, 1, 2000, 6, 16}, 721); // most splits empty: the window holds 6 keys
}

// One query token (decode): key counts around the 64-key block (pos0 + 1 keys), group sizes 1 to 16
// (16 query rows fill two tiles of 8), odd head dims, windows, one split and several (some empty).
TEST_F(Attention, DecodeTokenShapes) {
    AttentionKernel k(env());
    const int hds[] = {17, 32, 100, 128};
    const int hk[][2] = {{3, 3}, {6, 2}, {8, 1}, {16, 2}, {16, 1}};
    const int pos0s[] = {0, 62, 63, 64, 129};
    const int windows[] = {0, 5, 64};
    const uint32_t splits[] = {1, 2, 5};
    int i = 0;
    for (int hd : hds)
        for (auto& g : hk)
            for (int rep = 0; rep < 2; ++rep, ++i)
                run_attn(k, {hd, g[0], g[1], 1, pos0s[i % 5], windows[i % 3], splits[(i / 3) % 3]}, 1000 + i);
}

TEST_F(Attention, SplitKForBatches) {
    AttentionKernel k(env());
    run_attn(k, {48, 6, 2, 5, 300, 0, 4}, 800);
    run_attn(k, {32, 4, 2, 77, 9, 6, 3}, 801);
    run_attn(k, {128, 4, 1, 2, 0, 0, 40}, 802); // more splits than keys
}

TEST_F(Attention, RejectsBadArguments) {
    Buffers b;
    BufferRef x = b.zeros(4096);
    AttentionKernel k(env());
    BoundSet set = k.bind(b.sets(), x, x, x, x, b.zeros(4096));
    CommandBuffer cb(ctx());
    Recorder rec(cb.begin(true));
    EXPECT_THROW(k.record(rec, set, AttentionPush{1, 6, 4, 32, 0, 1.f}), Error); // nh % nkv
    EXPECT_THROW(k.record(rec, set, AttentionPush{1, 4, 2, 300, 0, 1.f}), Error); // hd > 256
    EXPECT_THROW(k.record(rec, set, AttentionPush{1, 4, 2, 32, 0, 1.f}, 2), Error); // split without scratch
    cb.end();
}

// The decode step as a model records it: qk_norm_rope -> attention (split-K) -> advance, recorded once
// and replayed for several tokens; positions come from the seq buffer only.
TEST_F(Attention, ReplayedDecodeStep) {
    const int hd = 64, nh = 4, nkv = 2, heads = nh + 2 * nkv, P0 = 9, steps = 4, cap = 32;
    const size_t kv_row = size_t(nkv) * hd;
    std::vector<float> kc = random_vec(cap * kv_row, 900), vc = random_vec(cap * kv_row, 901);
    std::vector<float> qn = random_vec(hd, 902, 0.5f, 1.5f), kn = random_vec(hd, 903, 0.5f, 1.5f);
    Buffers b;
    BufferRef qkv_b = b.zeros(heads * hd * sizeof(float)), q_b = b.zeros(nh * hd * sizeof(float));
    BufferRef out = b.zeros(nh * hd * sizeof(float)), kc_b = b.from(kc), vc_b = b.from(vc);
    BufferRef qn_b = b.from(qn), kn_b = b.from(kn);
    BufferRef seq = b.from(std::vector<uint32_t>{uint32_t(P0), 0, 0, 0});
    BufferRef scratch = b.zeros(AttentionKernel::scratch_bytes(1, nh, hd, 3));
    QkNormRopeKernel qk(env());
    AttentionKernel at(env());
    AdvanceKernel adv(env());
    BoundSet s_qk = qk.bind(b.sets(), qkv_b, qn_b, kn_b, seq, q_b, kc_b, vc_b);
    BoundSet s_at = at.bind(b.sets(), q_b, kc_b, vc_b, seq, out, scratch);
    BoundSet s_adv = adv.bind(b.sets(), seq);
    CommandBuffer cb(ctx());
    Recorder rec(cb.begin(false));
    qk.record(rec, s_qk, {1, nh, nkv, hd, kEps, kTheta, QKR_NORM | QKR_ROPE, cap});
    at.record(rec, s_at, {1, nh, nkv, hd, 0, float(1.0 / std::sqrt(double(hd)))}, 3);
    adv.record(rec, s_adv, 1);
    rec.host_read_barrier();
    cb.end();
    for (int s = 0; s < steps; ++s) {
        const int p = P0 + s;
        std::vector<float> qkv = random_vec(heads * hd, 910 + s, -2.f, 2.f);
        std::memcpy(qkv_b.mapped, qkv.data(), qkv.size() * sizeof(float));
        cb.submit_and_wait();
        // host mirror of the cache
        std::vector<float> q = ref_qk(heads_of(qkv, 1, heads, hd, 0, nh), qn, nh, hd, p, QKR_NORM | QKR_ROPE);
        std::vector<float> k = ref_qk(heads_of(qkv, 1, heads, hd, nh, nkv), kn, nkv, hd, p, QKR_NORM | QKR_ROPE);
        std::copy(k.begin(), k.end(), kc.begin() + p * kv_row);
        std::copy(qkv.begin() + (nh + nkv) * hd, qkv.end(), vc.begin() + p * kv_row);
        std::vector<float> kv(kc.begin(), kc.begin() + (p + 1) * kv_row), vv(vc.begin(), vc.begin() + (p + 1) * kv_row);
        std::vector<float> want = ref::attention(q, kv, vv, nh, nkv, hd, p, 0);
        EXPECT_LE(rel_error(b.read(out, nh * hd), want), rope_tol(p)) << "step " << s;
    }
    EXPECT_EQ(b.read<uint32_t>(seq, 1)[0], uint32_t(P0 + steps));
    EXPECT_EQ(cb.record_count(), 1u);
}

} // namespace
