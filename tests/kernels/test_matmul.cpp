// matmul family: matvec and tiled paths vs the double-precision CPU reference (vkc::ref::matmul, rmsnorm,
// swiglu), over awkward shapes, both weight types, every flag, row offsets, padded strides, split weights.
#include <gtest/gtest.h>

#include <random>

#include "model/kernels/matmul.h"
#include "tests/common/gpu_helpers.h"
#include "tests/ref/ref_ops.h"

using namespace vkc;
using namespace vkc::test;

namespace {

struct Case {
    uint32_t M, N, K;
    uint32_t flags = 0;
    uint32_t x_row0 = 0, y_row0 = 0; // row offsets
    uint32_t x_pad = 0, y_pad = 0;   // extra floats per row beyond what the op needs
    int parts = 1;                   // weight split into this many parts (rows_per_part = ceil(N / parts))
    uint32_t rpp = 0;                // rows_per_part when set (overrides parts)
};

std::string describe(const Case& c, WeightType t, MatmulPath p) {
    return "M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
           " flags=" + std::to_string(c.flags) + " x_row0=" + std::to_string(c.x_row0) +
           " y_row0=" + std::to_string(c.y_row0) + " x_pad=" + std::to_string(c.x_pad) +
           " y_pad=" + std::to_string(c.y_pad) + " parts=" + std::to_string(c.parts) + " rpp=" + std::to_string(c.rpp) + " " + weight_type_suffix(t) +
           (p == MatmulPath::matvec ? " matvec" : p == MatmulPath::tiled ? " tiled" : " auto");
}

// Runs one case through the given paths (each on a fresh copy of the initial y) and checks the written
// region against the reference and every other y element for being untouched.
void check_case(const MatmulKernel& kern, const Case& c, uint32_t seed,
                std::vector<MatmulPath> paths = {MatmulPath::matvec, MatmulPath::tiled}) {
    const WeightType type = kern.type();
    const bool swiglu = c.flags & MM_IN_SWIGLU, rms = c.flags & MM_IN_RMSNORM, acc = c.flags & MM_ACCUMULATE;
    const uint32_t x_stride = (swiglu ? 2 * c.K : c.K) + c.x_pad, y_stride = c.N + c.y_pad;
    const uint32_t x_rows = c.x_row0 + c.M, y_rows = c.y_row0 + c.M;
    const float eps = 1e-5f;

    std::vector<float> x = random_vec(size_t(x_rows) * x_stride, seed, -2.f, 2.f);
    std::vector<float> w = random_vec(size_t(c.N) * c.K, seed + 1);
    std::vector<float> nw = random_vec(c.K, seed + 2, 0.5f, 1.5f);
    std::vector<float> y0 = random_vec(size_t(y_rows) * y_stride, seed + 3);
    if (type == WeightType::f16) w = Buffers::round_f16(w);

    // reference in double on the packed input rows
    std::vector<double> in(size_t(c.M) * c.K), gate(in.size()), up(in.size());
    for (uint32_t m = 0; m < c.M; ++m)
        for (uint32_t k = 0; k < c.K; ++k) {
            const size_t xb = size_t(c.x_row0 + m) * x_stride;
            in[size_t(m) * c.K + k] = gate[size_t(m) * c.K + k] = x[xb + k];
            if (swiglu) up[size_t(m) * c.K + k] = x[xb + c.K + k];
        }
    if (rms) in = ref::rmsnorm<double>(in, std::vector<double>(nw.begin(), nw.end()), eps);
    if (swiglu) in = ref::swiglu<double>(gate, up);
    const std::vector<double> r = ref::matmul<double>(in, std::vector<double>(w.begin(), w.end()), c.N, c.K);
    std::vector<float> expect_region(size_t(c.M) * c.N);
    for (uint32_t m = 0; m < c.M; ++m)
        for (uint32_t n = 0; n < c.N; ++n) {
            const size_t yi = size_t(c.y_row0 + m) * y_stride + n;
            expect_region[size_t(m) * c.N + n] = float(r[size_t(m) * c.N + n] + (acc ? y0[yi] : 0.0));
        }

    Buffers b;
    const int64_t rpp = c.rpp ? c.rpp : (c.N + c.parts - 1) / c.parts;
    WeightTensor wt = b.weight(w, c.N, c.K, type, rpp);
    ASSERT_EQ(wt.parts.size(), size_t((c.N + rpp - 1) / rpp)) << "test setup: parts";
    ASSERT_GE(wt.parts.size(), size_t(c.parts)) << "test setup: parts";
    BufferRef xb = b.from(x), nwb = b.from(nw);
    MatmulPush p = MatmulKernel::push_for(c.M, wt, c.flags, eps);
    p.x_stride = x_stride;
    p.y_stride = y_stride;
    p.x_row0 = c.x_row0;
    p.y_row0 = c.y_row0;
    ASSERT_EQ(p.rows_per_part, uint32_t(rpp));

    const double tol = type == WeightType::f32 ? 2e-5 : 1e-4;
    for (MatmulPath path : paths) {
        SCOPED_TRACE(describe(c, type, path));
        BufferRef yb = b.from(y0);
        BoundSet set = kern.bind(b.sets(), xb, wt, yb, rms ? nwb : BufferRef{});
        run_once([&](Recorder& rec) { kern.record(rec, set, p, path); });
        std::vector<float> got = b.read(yb, y0.size());
        std::vector<float> got_region(expect_region.size());
        size_t untouched_changed = 0;
        for (uint32_t row = 0; row < y_rows; ++row)
            for (uint32_t col = 0; col < y_stride; ++col) {
                const size_t yi = size_t(row) * y_stride + col;
                if (row >= c.y_row0 && col < c.N) got_region[size_t(row - c.y_row0) * c.N + col] = got[yi];
                else if (got[yi] != y0[yi]) ++untouched_changed;
            }
        EXPECT_LT(rel_error(got_region, expect_region), tol);
        EXPECT_EQ(untouched_changed, 0u) << "elements outside the output region were written";
    }
}

class Matmul : public VkTest {};

const uint32_t kMs[] = {1, 2, 3, 5, 17, 64, 100};
const uint32_t kNKs[] = {1, 7, 33, 129, 300, 1000};

// Every M, N and K value of the lists appears; both paths run every shape.
void shapes_test(WeightType type) {
    MatmulKernel kern(env(), type, MatvecWidth::by_k); // every workgroup width by K (lavapipe: automatic = 32)
    std::mt19937 rng(type == WeightType::f32 ? 11 : 12);
    uint32_t seed = 100;
    for (uint32_t M : kMs)
        for (int rep = 0; rep < 3; ++rep) {
            uint32_t N = kNKs[(rng() % 6)], K = kNKs[(rng() % 6)];
            if (uint64_t(M) * N * K > 12000000) K = 129; // keep lavapipe fast
            check_case(kern, Case{M, N, K}, seed++);
        }
    for (uint32_t v : kNKs) { // each N and K with a small and a tiled M
        check_case(kern, Case{3, v, 33}, seed++);
        check_case(kern, Case{17, 33, v}, seed++);
    }
}

TEST_F(Matmul, ShapesF32) { shapes_test(WeightType::f32); }
TEST_F(Matmul, ShapesF16) { shapes_test(WeightType::f16); }

// Every flag (and ACCUMULATE with each input mode) on small and tiled M, odd sizes.
void flags_test(WeightType type, MatvecWidth width = MatvecWidth::by_k) {
    MatmulKernel kern(env(), type, width);
    const uint32_t flag_sets[] = {MM_ACCUMULATE, MM_IN_RMSNORM, MM_IN_SWIGLU, MM_ACCUMULATE | MM_IN_RMSNORM,
                                  MM_ACCUMULATE | MM_IN_SWIGLU};
    uint32_t seed = 500;
    for (uint32_t f : flag_sets) {
        check_case(kern, Case{1, 129, 300, f}, seed++);
        check_case(kern, Case{3, 33, 7, f}, seed++);
        check_case(kern, Case{100, 129, 33, f}, seed++);
        check_case(kern, Case{5, 300, 1000, f}, seed++);
        check_case(kern, Case{17, 7, 1, f}, seed++);
    }
}

TEST_F(Matmul, FlagsF32) { flags_test(WeightType::f32); }
TEST_F(Matmul, FlagsF16) { flags_test(WeightType::f16); }

// Row offsets (the head reads only the last token: x_row0 = T-1), strides larger than K / N, and
// weights split into 3 parts (rows_per_part not a multiple of the matvec rows or the 64-row tile, so
// tiles straddle parts; and a multiple of 64, the loader's usual split) and 4 parts (the last one a
// single row).
void layout_test(WeightType type, MatvecWidth width = MatvecWidth::by_k) {
    MatmulKernel kern(env(), type, width);
    uint32_t seed = 900;
    check_case(kern, Case{1, 1000, 129, 0, 16, 0}, seed++);                    // head: last of 17 tokens
    check_case(kern, Case{2, 33, 33, 0, 3, 5, 7, 9}, seed++);
    check_case(kern, Case{64, 129, 33, MM_ACCUMULATE, 2, 1, 1, 3}, seed++);
    check_case(kern, Case{5, 129, 7, 0, 0, 0, 0, 0, 3}, seed++);              // rows_per_part 43
    check_case(kern, Case{100, 300, 33, MM_IN_RMSNORM, 1, 2, 5, 1, 3}, seed++); // 100-row parts
    check_case(kern, Case{3, 1000, 33, MM_IN_SWIGLU | MM_ACCUMULATE, 4, 4, 3, 2, 3}, seed++);
    check_case(kern, Case{17, 1000, 7, MM_ACCUMULATE, 0, 0, 0, 0, 4}, seed++); // 4 parts of 250
    check_case(kern, Case{70, 1000, 33, 0, 0, 0, 0, 0, 4, 333}, seed++);       // 333 x 3 + 1
    check_case(kern, Case{65, 300, 129, MM_IN_RMSNORM, 0, 0, 0, 0, 3, 128}, seed++); // tiles within one part
    check_case(kern, Case{65, 300, 132, MM_ACCUMULATE, 0, 0, 0, 0, 3, 128}, seed++); // same, vector W loads
    check_case(kern, Case{1, 7, 300, MM_IN_RMSNORM, 0, 0, 0, 0, 3}, seed++);   // 3 rows per part
    // >= 4096 matvec workgroups (a vocabulary-sized head): the x passes run inside each workgroup
    check_case(kern, Case{7, 16400, 33, MM_IN_RMSNORM}, seed++, {MatmulPath::matvec});
}

TEST_F(Matmul, OffsetsStridesSplitF32) { layout_test(WeightType::f32); }
TEST_F(Matmul, OffsetsStridesSplitF16) { layout_test(WeightType::f16); }
// 32-thread matvec workgroups for every K (what CPU devices get; K = 1000 takes several sweeps).
TEST_F(Matmul, SmallestMatvecWorkgroups) {
    flags_test(WeightType::f16, MatvecWidth::smallest);
    layout_test(WeightType::f32, MatvecWidth::smallest);
}

// The automatic path (matvec up to matvec_max_m() rows, tiled above) gives the same results.
TEST_F(Matmul, AutomaticPath) {
    MatmulKernel kern(env(), WeightType::f32);
    const bool cpu = ctx().properties().deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    EXPECT_EQ(kern.matvec_max_m(), cpu ? MatmulKernel::kMatvecMaxMCpu : MatmulKernel::kMatvecMaxM);
    check_case(kern, Case{kern.matvec_max_m(), 129, 33, MM_ACCUMULATE}, 1200, {MatmulPath::automatic});
    check_case(kern, Case{kern.matvec_max_m() + 1, 129, 33, MM_IN_RMSNORM}, 1201, {MatmulPath::automatic});
}

// Path choice: matvec up to 8 rows on GPUs (2 on CPUs), and on GPUs wherever 64 x 64 tiles make
// fewer than 32 workgroups (v1's 144-row o / down up to 640 rows); tiled otherwise.
TEST(MatmulPathChoice, ByDeviceAndGrid) {
    using P = MatmulPath;
    EXPECT_EQ(MatmulKernel::automatic_path(false, 8, 65538), P::matvec);
    EXPECT_EQ(MatmulKernel::automatic_path(false, 9, 4096), P::tiled);   // 64 tiles
    EXPECT_EQ(MatmulKernel::automatic_path(false, 9, 144), P::matvec);   // 3 tiles
    EXPECT_EQ(MatmulKernel::automatic_path(false, 512, 144), P::matvec); // 24 tiles
    EXPECT_EQ(MatmulKernel::automatic_path(false, 641, 144), P::tiled);  // 33 tiles
    EXPECT_EQ(MatmulKernel::automatic_path(false, 128, 768), P::matvec); // 24 tiles
    EXPECT_EQ(MatmulKernel::automatic_path(false, 256, 768), P::tiled);  // 48 tiles
    EXPECT_EQ(MatmulKernel::automatic_path(true, 2, 144), P::matvec);
    EXPECT_EQ(MatmulKernel::automatic_path(true, 3, 144), P::tiled);
    EXPECT_EQ(MatmulKernel::automatic_path(true, 512, 144), P::tiled);
}

// Bad pushes are rejected on the host instead of reading out of bounds on the GPU.
TEST_F(Matmul, RejectsInvalidPush) {
    MatmulKernel kern(env(), WeightType::f32);
    Buffers b;
    WeightTensor wt = b.weight(random_vec(33 * 7, 1), 33, 7, WeightType::f32);
    BufferRef x = b.zeros(4 * 14 * 4), y = b.zeros(4 * 33 * 4);
    BoundSet set = kern.bind(b.sets(), x, wt, y, {});
    MatmulPush good = MatmulKernel::push_for(4, wt);
    auto rejects = [&](MatmulPush p) {
        CommandBuffer cb(ctx());
        Recorder rec(cb.begin(true));
        EXPECT_THROW(kern.record(rec, set, p), Error);
        cb.end();
    };
    MatmulPush p = good;
    p.flags = MM_IN_RMSNORM | MM_IN_SWIGLU;
    rejects(p);
    p = good;
    p.flags = MM_IN_SWIGLU; // x_stride must be >= 2K
    rejects(p);
    p = good;
    p.y_stride = 32;
    rejects(p);
    p = good;
    p.rows_per_part = 8; // 33 rows would need 5 parts
    rejects(p);
    EXPECT_THROW(MatmulKernel(env(), WeightType::f16).bind(b.sets(), x, wt, y, {}), Error);
    run_once([&](Recorder& rec) { kern.record(rec, set, good); }); // and the good one runs
}

} // namespace
