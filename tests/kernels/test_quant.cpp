// Q8_0 / Q4_0 weights (model/quant.h): CPU quantize/dequantize against hand-computed blocks and error
// bounds, then the GPU kernels that dequantize on the fly (matvec, tiled matmul, v1 conv embedding, v2
// gather) against CPU references on the dequantized weights, over awkward shapes (K not a multiple of 32,
// odd N, rows split across parts with tiles straddling them).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "model/kernels/embed.h"
#include "model/kernels/matmul.h"
#include "model/quant.h"
#include "tests/common/gpu_helpers.h"
#include "tests/common/quant_helpers.h"
#include "tests/ref/ref_ops.h"

using namespace vkc;
using namespace vkc::test;

namespace {

const WeightType kQuant[] = {WeightType::q8_0, WeightType::q4_0};

// ---- CPU ----------------------------------------------------------------------------------------

TEST(Quant, Q8BlockByHand) {
    // x = k - 16 for k < 32: max |x| = 16, d = 16/127, q = round(x * 127 / 16)
    std::vector<float> x(32);
    for (int k = 0; k < 32; ++k) x[k] = float(k - 16);
    uint8_t blk[34];
    quantize_row(WeightType::q8_0, x.data(), 32, blk);
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    EXPECT_EQ(dh, f32_to_f16(16.f / 127.f));
    EXPECT_EQ((int8_t)blk[2 + 0], -127); // x = -16
    EXPECT_EQ((int8_t)blk[2 + 16], 0);   // x = 0
    EXPECT_EQ((int8_t)blk[2 + 17], 8);   // 127/16 = 7.94 -> 8
    EXPECT_EQ((int8_t)blk[2 + 31], 119); // round(15 * 127 / 16) = round(119.06)
}

TEST(Quant, Q4BlockByHand) {
    // the value of largest magnitude is -16 (sign kept): d = -16 / -8 = 2, q = trunc(x / 2 + 8.5) capped at 15
    std::vector<float> x(32, 0.f);
    x[0] = -16.f;
    x[1] = 3.f;   // 1.5 + 8.5 = 10
    x[16] = 14.f; // 7 + 8.5 = 15.5 -> 15
    x[17] = 15.f; // 16 -> capped 15
    uint8_t blk[18];
    quantize_row(WeightType::q4_0, x.data(), 32, blk);
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    EXPECT_EQ(f16_to_f32(dh), 2.f);
    EXPECT_EQ(blk[2 + 0], 0 | (15 << 4));  // q[0] = 0, q[16] = 15
    EXPECT_EQ(blk[2 + 1], 10 | (15 << 4)); // q[1] = 10, q[17] = 15
    EXPECT_EQ(blk[2 + 2], 8 | (8 << 4));   // zeros -> 8
    float y[32];
    dequantize_row(WeightType::q4_0, blk, 32, y);
    EXPECT_EQ(y[0], -16.f);
    EXPECT_EQ(y[1], 4.f);
    EXPECT_EQ(y[16], 14.f);
    EXPECT_EQ(y[17], 14.f);
    EXPECT_EQ(y[2], 0.f);
}

// Round trip over random rows with K not a multiple of 32: every value within the format's error bound
// of its block scale, padding quantized to exact zeros, an all-zero block exact.
TEST(Quant, RoundTripBounds) {
    for (WeightType t : kQuant)
        for (int64_t K : {1, 7, 32, 45, 144, 1296}) {
            SCOPED_TRACE(std::string(weight_type_suffix(t)) + " K=" + std::to_string(K));
            std::vector<float> x = random_vec(3 * K, uint32_t(K), -3.f, 3.f);
            for (int64_t k = 0; k < std::min<int64_t>(K, 32); ++k) x[2 * K + k] = 0.f; // row 2: zero first block
            Quantized q = quantize(t, x, 3, K);
            const int64_t nb = quant_padded_cols(K) / 32, bb = (int64_t)quant_block_bytes(t);
            for (int64_t r = 0; r < 3; ++r)
                for (int64_t b = 0; b < nb; ++b) {
                    const uint8_t* blk = q.blocks.data() + (r * nb + b) * bb;
                    uint16_t dh;
                    std::memcpy(&dh, blk, 2);
                    const float d = std::fabs(f16_to_f32(dh));
                    // q8: half a step (+ the f16 rounding of d times 127); q4: up to one step at the capped end
                    const float bound = t == WeightType::q8_0 ? d * (0.5f + 127.f / 1024.f) : d * (1.f + 8.f / 1024.f);
                    for (int64_t i = 0; i < 32; ++i) {
                        const int64_t k = b * 32 + i;
                        if (k < K) {
                            EXPECT_LE(std::fabs(q.deq[r * K + k] - x[r * K + k]), bound + 1e-7f) << "r=" << r << " k=" << k;
                        } else { // padding: q = 0 (q8) or nibble 8 (q4)
                            const uint8_t byte = blk[2 + (t == WeightType::q8_0 ? i : (i & 15))];
                            const int v = t == WeightType::q8_0 ? (int8_t)byte : ((byte >> (i < 16 ? 0 : 4)) & 15) - 8;
                            EXPECT_EQ(v, 0) << "padding k=" << k;
                        }
                    }
                }
            for (int64_t k = 0; k < std::min<int64_t>(K, 32); ++k) EXPECT_EQ(q.deq[2 * K + k], 0.f);
            // relative error of the whole tensor: the format's typical size (q8 ~0.5%, q4 ~8%)
            EXPECT_LT(rel_error(q.deq, x), t == WeightType::q8_0 ? 1e-2 : 1.5e-1);
        }
}

// The GPU layout: quants of row r at r * qrow, scales after rows_per_part rows (same offset in every part).
TEST(Quant, GpuLayout) {
    const int64_t K = 40, rows = 3, rpp = 5; // Kp = 64: 2 blocks per row
    std::vector<float> x = random_vec(rows * K, 3);
    for (WeightType t : kQuant) {
        Quantized q = quantize(t, x, rows, K);
        std::vector<uint8_t> part(quant_part_bytes(t, rpp, rows, K), 0);
        EXPECT_EQ(part.size(), size_t(rpp * quant_row_qbytes(t, K) + 12)); // 6 halves
        quant_to_gpu(t, q.blocks.data(), rows, K, part.data(), rpp, 0);
        const int64_t bb = (int64_t)quant_block_bytes(t), qb = bb - 2, qrow = quant_row_qbytes(t, K);
        EXPECT_EQ(qrow, 2 * qb);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t b = 0; b < 2; ++b) {
                const uint8_t* blk = q.blocks.data() + (r * 2 + b) * bb;
                EXPECT_EQ(std::memcmp(part.data() + r * qrow + b * qb, blk + 2, qb), 0);
                EXPECT_EQ(std::memcmp(part.data() + rpp * qrow + (r * 2 + b) * 2, blk, 2), 0);
            }
    }
}

// ---- GPU ----------------------------------------------------------------------------------------

class QuantKernels : public VkTest {};

struct MmCase {
    uint32_t M, N, K, flags;
    int64_t rpp; // 0: one part
};

void matmul_case(const MatmulKernel& kern, const MmCase& c, uint32_t seed) {
    const WeightType t = kern.type();
    SCOPED_TRACE(std::string(weight_type_suffix(t)) + " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) +
                 " K=" + std::to_string(c.K) + " flags=" + std::to_string(c.flags) + " rpp=" + std::to_string(c.rpp));
    const bool swiglu = c.flags & MM_IN_SWIGLU, rms = c.flags & MM_IN_RMSNORM, acc = c.flags & MM_ACCUMULATE;
    const uint32_t xs = swiglu ? 2 * c.K : c.K;
    std::vector<float> x = random_vec(size_t(c.M) * xs, seed, -2.f, 2.f), nw = random_vec(c.K, seed + 1, 0.5f, 1.5f);
    std::vector<float> y0 = random_vec(size_t(c.M) * c.N, seed + 2);
    Quantized q = quantize(t, random_vec(size_t(c.N) * c.K, seed + 3), c.N, c.K);

    std::vector<double> in(size_t(c.M) * c.K), gate(in.size()), up(in.size());
    for (uint32_t m = 0; m < c.M; ++m)
        for (uint32_t k = 0; k < c.K; ++k) {
            in[m * c.K + k] = gate[m * c.K + k] = x[m * xs + k];
            if (swiglu) up[m * c.K + k] = x[m * xs + c.K + k];
        }
    if (rms) in = ref::rmsnorm<double>(in, std::vector<double>(nw.begin(), nw.end()), 1e-5);
    if (swiglu) in = ref::swiglu<double>(gate, up);
    const std::vector<double> r = ref::matmul<double>(in, std::vector<double>(q.deq.begin(), q.deq.end()), c.N, c.K);
    std::vector<float> want(r.size());
    for (size_t i = 0; i < r.size(); ++i) want[i] = float(r[i] + (acc ? y0[i] : 0.0));

    Buffers b;
    WeightTensor w = quant_weight(b, t, q, c.N, c.K, c.rpp);
    BufferRef xb = b.from(x), nwb = b.from(nw);
    const MatmulPush p = MatmulKernel::push_for(c.M, w, c.flags, 1e-5f);
    for (MatmulPath path : {MatmulPath::matvec, MatmulPath::tiled}) {
        BufferRef yb = b.from(y0);
        BoundSet set = kern.bind(b.sets(), xb, w, yb, rms ? nwb : BufferRef{});
        run_once([&](Recorder& rec) { kern.record(rec, set, p, path); });
        // the GPU multiplies the same dequantized values: only f32 summation order differs
        EXPECT_LT(rel_error(b.read(yb, y0.size()), want), 1e-4) << (path == MatmulPath::tiled ? "tiled" : "matvec");
    }
}

TEST_F(QuantKernels, Matmul) {
    uint32_t seed = 1;
    for (WeightType t : kQuant) {
        MatmulKernel kern(env(), t, MatvecWidth::by_k); // every width (lavapipe: automatic = 32)
        for (const MmCase& c : {MmCase{1, 33, 7, 0, 0}, MmCase{3, 129, 144, MM_ACCUMULATE, 0},
                                MmCase{17, 65, 45, MM_IN_RMSNORM, 0}, MmCase{70, 131, 96, MM_IN_SWIGLU, 0},
                                MmCase{5, 301, 1296, 0, 0}, MmCase{2, 300, 33, MM_IN_RMSNORM | MM_ACCUMULATE, 100},
                                MmCase{65, 1000, 64, MM_ACCUMULATE, 333}, MmCase{1, 7, 100, 0, 3},
                                MmCase{100, 256, 40, 0, 64}})
            matmul_case(kern, c, seed++); // rpp: tiles straddle parts unless a multiple of 64
    }
}

// The matvec's quantized path (shaders/matmul/matvec.comp: 8 quants of a block per thread and row step, a
// Q4_0 uint or a Q8_0 uvec2, inputs as vec4 when K % 4 == 0): every M from 1 to 8 (one and two passes of
// MB = 4 rows), K a multiple of 32, of 4 or neither (last block partly padding, or a 4-group wholly past K),
// K large enough that threads take several steps (Kp > 1024 at 128 threads), N not a multiple of NR = 4,
// every flag, weights in up to 4 parts (rows_per_part not a multiple of NR, so workgroups straddle parts).
TEST_F(QuantKernels, MatvecVectorPath) {
    const uint32_t flag_sets[] = {0,
                                  MM_ACCUMULATE,
                                  MM_IN_RMSNORM,
                                  MM_IN_SWIGLU,
                                  MM_IN_RMSNORM | MM_ACCUMULATE,
                                  MM_IN_SWIGLU | MM_ACCUMULATE};
    struct S { uint32_t N, K; int64_t rpp; };
    const S shapes[] = {{1, 32, 0},  {5, 7, 2},    {13, 64, 4},   {37, 50, 10},  {6, 4100, 2},  {9, 2080, 3},
                        {4, 17, 1},  {11, 96, 3},  {29, 1000, 8}, {8, 4096, 0},  {3, 2049, 0},  {21, 144, 6},
                        {7, 31, 0},  {16, 33, 5},  {2, 4128, 1},  {40, 256, 13}};
    uint32_t seed = 100;
    for (WeightType t : kQuant) {
        MatmulKernel kern(env(), t, MatvecWidth::by_k); // every width (lavapipe: automatic = 32)
        size_t si = 0;
        for (uint32_t M = 1; M <= 8; ++M)
            for (int rep = 0; rep < 2; ++rep, ++si) {
                const S& s = shapes[si % (sizeof(shapes) / sizeof(shapes[0]))];
                const uint32_t flags = flag_sets[(M * 2 + rep) % (sizeof(flag_sets) / sizeof(flag_sets[0]))];
                matmul_case(kern, MmCase{M, s.N, s.K, flags, s.rpp}, seed++);
            }
        // every flag set on one shape with a partial last vector, split into parts
        for (uint32_t flags : flag_sets) matmul_case(kern, MmCase{3, 23, 1000, flags, 7}, seed++);
    }
}

TEST_F(QuantKernels, EmbedGather) {
    for (WeightType t : kQuant)
        for (uint32_t d : {7u, 32u, 100u}) {
            SCOPED_TRACE(std::string(weight_type_suffix(t)) + " d=" + std::to_string(d));
            const uint32_t vocab = 37, rpp = 10, n = 9, off = 2;
            Quantized q = quantize(t, random_vec(size_t(vocab) * d, d), vocab, d);
            Buffers b;
            WeightTensor E = quant_weight(b, t, q, vocab, d, rpp);
            ASSERT_EQ(E.parts.size(), 4u);
            std::vector<uint32_t> tokens{99, 99, 0, 36, 9, 10, 19, 20, 30, 5, 1000}; // 1000: clamped to 36
            EmbedGatherKernel kern(env(), t);
            BufferRef tb = b.from(tokens), out = b.zeros(size_t(n) * d * 4);
            BoundSet set = kern.bind(b.sets(), tb, E, out);
            run_once([&](Recorder& rec) { kern.record(rec, set, EmbedGatherKernel::push_for(n, off, E)); });
            std::vector<float> got = b.read(out, size_t(n) * d);
            for (uint32_t i = 0; i < n; ++i) {
                const uint32_t id = std::min(tokens[off + i], vocab - 1);
                for (uint32_t k = 0; k < d; ++k) ASSERT_EQ(got[i * d + k], q.deq[id * d + k]) << "token " << i << " k " << k;
            }
        }
}

TEST_F(QuantKernels, EmbedConv) {
    struct S { uint32_t e, f, k; };
    for (WeightType t : kQuant)
        for (const S& s : {S{6, 2, 3}, S{12, 3, 4}}) { // H = 36 (Kp 64), 144
            const uint32_t H = s.e * s.e, td = (s.e / s.f) * (s.e / s.f), vocab = 50, rpp = 17, n = 6;
            SCOPED_TRACE(std::string(weight_type_suffix(t)) + " e=" + std::to_string(s.e));
            Quantized q = quantize(t, random_vec(size_t(vocab) * H, H), vocab, H);
            std::vector<float> cw = random_vec(size_t(s.e) * s.e * s.k, 5, -0.3f, 0.3f);
            const std::vector<float> g{1.3f};
            Buffers b;
            WeightTensor E = quant_weight(b, t, q, vocab, H, rpp);
            std::vector<uint32_t> tokens{0, 49, 16, 17, 34, 3};
            EmbedConvKernel kern(env(), t);
            BufferRef tb = b.from(tokens), cwb = b.from(cw), gb = b.from(g), out = b.zeros(size_t(n) * td * 4);
            BoundSet set = kern.bind(b.sets(), tb, E, cwb, gb, out);
            run_once([&](Recorder& rec) { kern.record(rec, set, EmbedConvKernel::push_for(n, 0, E, s.f, s.k)); });
            std::vector<float> got = b.read(out, size_t(n) * td);
            for (uint32_t i = 0; i < n; ++i) {
                std::vector<float> row(q.deq.begin() + size_t(tokens[i]) * H, q.deq.begin() + size_t(tokens[i] + 1) * H);
                std::vector<float> want = ref::embed_conv_pool_norm<float>(row, cw, g[0], s.e, s.f, s.k);
                EXPECT_LT(rel_error(std::vector<float>(got.begin() + i * td, got.begin() + (i + 1) * td), want), 1e-5)
                    << "token " << i;
            }
        }
}

} // namespace
