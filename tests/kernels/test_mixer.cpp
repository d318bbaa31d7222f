// Mixer family: shader Hilbert mapping, history store + fused 1D/2D conv + norm + gated fusion against the
// CPU references (tests/ref/ref_ops.h), prefill in batches and replayed one-token decode steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "model/kernels/basic.h"
#include "model/kernels/mixer.h"
#include "runtime/status.h"
#include "tests/common/gpu_helpers.h"
#include "tests/ref/ref_ops.h"

using namespace vkc;
using namespace vkc::test;

namespace {

constexpr float kEps = 1e-5f;

struct MixCase {
    const char* name;
    int G, d, k1, k2;
    WeightType wt;
    int s0;                   // positions 0..s0-1 are already in the history (written by the host)
    std::vector<int> batches; // prefill batches from s0 on
    int decode;               // then this many one-token decode steps (one command buffer, replayed)
    int rows = 0;             // history rows (0: exactly the positions used)
    int pad = 0;              // extra floats per row of u and of m (strided rows)
    uint32_t wg = 128;        // mixer_conv workgroup size
};

void PrintTo(const MixCase& c, std::ostream* os) { *os << c.name; }

int total_len(const MixCase& c) {
    int s = c.s0 + c.decode;
    for (int t : c.batches) s += t;
    return s;
}

struct MixData {
    int S;
    std::vector<float> u; // [S, 3d] = [a | z | glin] for every position
    std::vector<float> w1, b1, w2, b2, nw;
};

MixData make_data(const MixCase& c, uint32_t seed) {
    MixData m;
    m.S = total_len(c);
    const size_t d = size_t(c.d);
    m.u = random_vec(size_t(m.S) * 3 * d, seed, -2.f, 2.f);
    m.w1 = random_vec(d * c.k1, seed + 1);
    m.b1 = random_vec(d, seed + 2, -0.5f, 0.5f);
    m.w2 = random_vec(d * c.k2 * c.k2, seed + 3);
    m.b2 = random_vec(d, seed + 4, -0.5f, 0.5f);
    m.nw = random_vec(d, seed + 5, 0.5f, 1.5f);
    return m;
}

// Column block [off, off + d) of rows r0..S-1 of u.
std::vector<float> cols(const MixData& m, int d, int off, int r0) {
    std::vector<float> r;
    for (int p = r0; p < m.S; ++p)
        r.insert(r.end(), m.u.begin() + size_t(p) * 3 * d + off, m.u.begin() + size_t(p) * 3 * d + off + d);
    return r;
}

// m rows for positions s0..S-1.
std::vector<float> reference(const MixCase& c, const MixData& m) {
    const bool h = c.wt == WeightType::f16;
    const std::vector<float> w1 = h ? Buffers::round_f16(m.w1) : m.w1, w2 = h ? Buffers::round_f16(m.w2) : m.w2;
    const std::vector<float> a = cols(m, c.d, 0, 0);
    std::vector<float> c1 = ref::conv1d_causal(a, w1, m.b1, c.k1);
    c1.erase(c1.begin(), c1.begin() + size_t(c.s0) * c.d);
    const std::vector<float> c2 = ref::rmsnorm(ref::conv2d_hilbert(a, w2, m.b2, c.k2, c.G, c.s0), m.nw, kEps);
    return ref::gated_fusion(cols(m, c.d, 2 * c.d, c.s0), c1, c2, cols(m, c.d, c.d, c.s0));
}

// GPU m rows for positions s0..S-1, batch by batch then step by step.
std::vector<float> run_gpu(const MixCase& c, const MixData& m) {
    Buffers b;
    const uint32_t d = c.d, S = m.S, rows = c.rows ? c.rows : S;
    const uint32_t us = 3 * d + c.pad, ms = d + c.pad;
    int max_t = 1;
    for (int t : c.batches) max_t = std::max(max_t, t);
    BufferRef seq = b.zeros(sizeof(SeqInfo)), u = b.zeros(size_t(max_t) * us * 4);
    BufferRef out = b.zeros(size_t(max_t) * ms * 4), hist = b.zeros(size_t(rows) * d * 4);
    float* hp = reinterpret_cast<float*>(hist.mapped);
    for (int p = 0; p < c.s0; ++p) // history as earlier batches left it
        std::memcpy(hp + size_t(p) * d, m.u.data() + size_t(p) * 3 * d, d * 4);
    reinterpret_cast<SeqInfo*>(seq.mapped)->pos = c.s0;

    WeightTensor w1 = b.weight(m.w1, d, c.k1, c.wt), w2 = b.weight(m.w2, d, c.k2 * c.k2, c.wt);
    BufferRef b1 = b.from(m.b1), b2 = b.from(m.b2), nw = b.from(m.nw);
    MixerStoreKernel store(env());
    MixerConvKernel conv(env(), c.wt, c.wg);
    AdvanceKernel adv(env());
    BoundSet s_store = store.bind(b.sets(), seq, u, hist);
    BoundSet s_conv = conv.bind(b.sets(), seq, u, hist, w1.parts[0], b1, w2.parts[0], b2, nw, out);
    BoundSet s_adv = adv.bind(b.sets(), seq);

    auto record = [&](Recorder& rec, uint32_t T) {
        store.record(rec, s_store, MixerStorePush{T, d, us, 0, rows});
        conv.record(rec, s_conv,
                    MixerConvPush{T, d, us, d, 2 * d, ms, uint32_t(c.k1), uint32_t(c.k2), uint32_t(c.G), rows, kEps});
        adv.record(rec, s_adv, T);
    };
    auto put = [&](int p0, int T) {
        float* up = reinterpret_cast<float*>(u.mapped);
        for (int t = 0; t < T; ++t) std::memcpy(up + size_t(t) * us, m.u.data() + size_t(p0 + t) * 3 * d, 3 * d * 4);
    };
    std::vector<float> res;
    auto get = [&](int T) {
        const float* op = reinterpret_cast<const float*>(out.mapped);
        for (int t = 0; t < T; ++t) res.insert(res.end(), op + size_t(t) * ms, op + size_t(t) * ms + d);
    };
    int p = c.s0;
    for (int T : c.batches) {
        put(p, T);
        run_once([&](Recorder& rec) { record(rec, T); });
        get(T);
        p += T;
    }
    if (c.decode > 0) {
        CommandBuffer cb(ctx());
        Recorder rec(cb.begin(false));
        record(rec, 1);
        rec.host_read_barrier();
        cb.end();
        for (int i = 0; i < c.decode; ++i, ++p) {
            put(p, 1);
            cb.submit_and_wait();
            get(1);
        }
        EXPECT_EQ(cb.record_count(), 1u);
    }
    EXPECT_EQ(reinterpret_cast<SeqInfo*>(seq.mapped)->pos, S);
    // the history holds a at every position
    for (uint32_t q : {uint32_t(c.s0), S - 1})
        EXPECT_EQ(std::memcmp(hp + size_t(q) * d, m.u.data() + size_t(q) * 3 * d, d * 4), 0) << "history row " << q;
    return res;
}

class MixerCase : public VkTest, public ::testing::WithParamInterface<MixCase> {};

const std::vector<MixCase> kCases = {
    // whole 4 x 4 grid: prefill of 11 (not a square), decode to the last cell 15
    {"G4_d13_k3_k3", 4, 13, 3, 3, WeightType::f32, 0, {11}, 5},
    {"G4_d13_k1_k5_f16", 4, 13, 1, 5, WeightType::f16, 0, {7, 2}, 7},
    {"G32_d64_k4_k5", 32, 64, 4, 5, WeightType::f32, 0, {173, 90}, 12},
    {"G32_d48_k1_k1_f16", 32, 48, 1, 1, WeightType::f16, 0, {100}, 3},
    // strided rows of u and m, history larger than used
    {"G32_d13_k4_k3_strided_f16", 32, 13, 4, 3, WeightType::f16, 0, {61}, 4, 1024, 5},
    // history prefilled up to near the end of the 256 x 256 capacity; ends at p = 65535
    {"G256_d48_k4_k5_end", 256, 48, 4, 5, WeightType::f32, 65536 - 40, {29}, 11, 65536},
    {"G256_d13_k3_k3_end_f16", 256, 13, 3, 3, WeightType::f16, 65536 - 220, {200}, 20, 65536},
    {"G256_d64_k3_k5_mid", 256, 64, 3, 5, WeightType::f32, 1000, {333}, 2},
    // other workgroup sizes: more threads than channels, and several channels per thread
    {"G32_d48_k3_k5_wg512", 32, 48, 3, 5, WeightType::f32, 0, {90}, 5, 0, 0, 512},
    {"G32_d200_k4_k3_wg64_f16", 32, 200, 4, 3, WeightType::f16, 0, {70}, 5, 0, 0, 64},
};

TEST_P(MixerCase, MatchesReference) {
    const MixCase& c = GetParam();
    MixData m = make_data(c, 1234 + c.d + c.G);
    const std::vector<float> want = reference(c, m), got = run_gpu(c, m);
    ASSERT_EQ(got.size(), want.size());
    ASSERT_EQ(got.size(), size_t(m.S - c.s0) * c.d);
    const double tol = c.wt == WeightType::f16 ? 1e-4 : 2e-5;
    EXPECT_LT(rel_error(got, want), tol);
}

INSTANTIATE_TEST_SUITE_P(Mixer, MixerCase, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<MixCase>& i) { return std::string(i.param.name); });

class Mixer : public VkTest {};

// Decode one token at a time gives what one prefill gives (same kernels, same per-token arithmetic).
TEST_F(Mixer, DecodeStepsEqualOnePrefill) {
    MixCase one{"one", 32, 48, 4, 5, WeightType::f32, 0, {150}, 0};
    MixCase steps{"steps", 32, 48, 4, 5, WeightType::f32, 0, {60}, 90};
    MixData m = make_data(one, 77);
    const std::vector<float> a = run_gpu(one, m), b = run_gpu(steps, m);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_LT(rel_error(b, a), 1e-6);
    EXPECT_LT(rel_error(a, reference(one, m)), 2e-5);
}

// Shader d2xy / xy2d equal the CPU reference at every cell of every grid G = 2 .. 512, and invert.
TEST_F(Mixer, HilbertMatchesReferenceForEveryGrid) {
    Buffers b;
    HilbertProbeKernel probe(env());
    for (int G = 2; G <= 512; G *= 2) {
        const uint32_t n = uint32_t(G) * G;
        BufferRef out = b.zeros(size_t(n) * 3 * 4);
        BoundSet set = probe.bind(b.sets(), out);
        run_once([&](Recorder& rec) { probe.record(rec, set, G, n); });
        const std::vector<uint32_t> o = b.read<uint32_t>(out, size_t(n) * 3);
        int bad = 0;
        for (uint32_t t = 0; t < n && bad < 5; ++t) {
            int x, y;
            ref::hilbert_d2xy(G, t, &x, &y);
            const bool ok = o[3 * t] == uint32_t(x) && o[3 * t + 1] == uint32_t(y) && o[3 * t + 2] == t &&
                            ref::hilbert_xy2d(G, x, y) == int64_t(t);
            if (!ok) {
                ADD_FAILURE() << "G " << G << " t " << t << ": gpu (" << o[3 * t] << ", " << o[3 * t + 1] << ") -> "
                              << o[3 * t + 2] << ", ref (" << x << ", " << y << ")";
                ++bad;
            }
        }
        if (G == 32) { // the spec's example, odd log2(G)
            EXPECT_EQ((std::vector<uint32_t>{o[0], o[1], o[3], o[4], o[6], o[7], o[9], o[10]}),
                      (std::vector<uint32_t>{0, 0, 0, 1, 1, 1, 1, 0}));
        }
    }
}

TEST_F(Mixer, RejectsBadShapes) {
    Buffers b;
    BufferRef x = b.zeros(64);
    MixerConvKernel conv(env(), WeightType::f32);
    BoundSet s = conv.bind(b.sets(), x, x, x, x, x, x, x, x, b.zeros(64));
    CommandBuffer cb(ctx());
    Recorder rec(cb.begin(true));
    EXPECT_THROW(conv.record(rec, s, MixerConvPush{1, 4, 12, 4, 8, 4, 3, 4, 32, 16, kEps}), Error); // even k2
    EXPECT_THROW(conv.record(rec, s, MixerConvPush{1, 4, 12, 4, 8, 4, 3, 3, 24, 16, kEps}), Error); // G not 2^n
    cb.end();
}

} // namespace
