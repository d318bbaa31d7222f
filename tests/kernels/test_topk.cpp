// topk family: per-row top-K (sorted descending, ties -> lower id) against a std::partial_sort reference
// over values with many exact duplicates; K > n (slots marked invalid), one-pass (n <= slice) and
// two-pass paths, a small workgroup / odd slice configuration, -inf entries.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "model/kernels/topk.h"
#include "tests/common/gpu_helpers.h"

using namespace vkc;
using namespace vkc::test;

namespace {

class TopK : public VkTest {};

// Values on a coarse grid (x.25 steps in [-8, 8]): with n >> 64 most top-K boundaries are ties.
std::vector<float> tie_heavy(size_t n, uint32_t seed, bool with_neg_inf) {
    std::mt19937 g(seed);
    std::uniform_int_distribution<int> d(-32, 32);
    std::vector<float> v(n);
    for (float& x : v) x = d(g) * 0.25f;
    if (with_neg_inf)
        for (size_t i = 0; i < n; i += 3) v[i] = -std::numeric_limits<float>::infinity();
    return v;
}

// CPU reference for one row: first min(k, n) of the order (value desc, id asc), then invalid slots.
std::vector<TopKPair> ref_topk(const float* x, uint32_t n, uint32_t k) {
    std::vector<uint32_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0u);
    const uint32_t m = std::min(n, k);
    std::partial_sort(idx.begin(), idx.begin() + m, idx.end(), [&](uint32_t a, uint32_t b) {
        return x[a] > x[b] || (x[a] == x[b] && a < b);
    });
    std::vector<TopKPair> r(k, TopKPair{kTopKInvalid, -std::numeric_limits<float>::infinity()});
    for (uint32_t i = 0; i < m; ++i) r[i] = TopKPair{idx[i], x[idx[i]]};
    return r;
}

// off: out_offset (pairs before row 0's results; they and the pairs after the last row stay untouched)
void run_case(const TopKKernel& kern, uint32_t n, uint32_t k, uint32_t rows, uint32_t seed, bool neg_inf = false,
              uint32_t off = 0) {
    SCOPED_TRACE("n=" + std::to_string(n) + " k=" + std::to_string(k) + " rows=" + std::to_string(rows) +
                 " out_offset=" + std::to_string(off));
    const std::vector<float> x = tie_heavy(size_t(n) * rows, seed, neg_inf);
    Buffers B;
    BufferRef xb = B.from(x);
    BufferRef scratch = B.zeros(kern.scratch_bytes(rows, n, k));
    const size_t total = off + size_t(rows) * k + 3; // 3 guard pairs after the last row
    BufferRef out = B.zeros(total * sizeof(TopKPair));
    std::memset(out.mapped, 0xAB, out.size); // every slot must be written
    BoundSet set = kern.bind(B.sets(), xb, scratch, out);
    uint32_t dispatches = 0;
    run_once([&](Recorder& rec) { dispatches = kern.record(rec, set, rows, n, n, k, off); });
    EXPECT_EQ(dispatches, n <= kern.slice_len() ? 1u : 2u);
    auto all = B.read<TopKPair>(out, total);
    for (size_t i = 0; i < total; ++i) {
        if (i < off || i >= off + size_t(rows) * k) {
            ASSERT_EQ(all[i].id, 0xABABABABu) << "pair " << i << " written";
        }
    }
    const std::vector<TopKPair> got(all.begin() + off, all.end());
    for (uint32_t r = 0; r < rows; ++r) {
        auto want = ref_topk(x.data() + size_t(r) * n, n, k);
        for (uint32_t i = 0; i < k; ++i) {
            const TopKPair& g = got[size_t(r) * k + i];
            ASSERT_EQ(g.id, want[i].id) << "row " << r << " slot " << i;
            if (want[i].id == kTopKInvalid)
                ASSERT_TRUE(std::isinf(g.value) && g.value < 0) << "row " << r << " slot " << i;
            else
                ASSERT_EQ(g.value, want[i].value) << "row " << r << " slot " << i;
        }
    }
}

TEST_F(TopK, MatchesPartialSortWithTies) {
    TopKKernel kern(env());
    uint32_t seed = 1;
    for (uint32_t n : {1u, 7u, 300u, 65538u, 262144u})
        for (uint32_t k : {1u, 5u, 40u, 64u}) {
            // rows 1..3 for the small vocabularies; the big ones cycle rows to keep lavapipe fast
            std::vector<uint32_t> rows_list = n <= 300 ? std::vector<uint32_t>{1, 2, 3}
                                                       : std::vector<uint32_t>{1 + seed % 3};
            for (uint32_t rows : rows_list) run_case(kern, n, k, rows, seed++);
        }
}

TEST_F(TopK, NegativeInfinityIsAValue) {
    TopKKernel kern(env());
    // -inf entries rank below every finite value but above the invalid slots (K > n)
    for (uint32_t k : {1u, 5u, 40u, 64u}) run_case(kern, 7, k, 2, 100 + k, true);
    run_case(kern, 9000, 64, 2, 200, true);
}

TEST_F(TopK, SmallWorkgroupOddSlices) {
    // wg 32, slice 1000: 263 slices for n = 262144, slices ending mid-workgroup, merge of 16832 candidates
    TopKKernel kern(env(), 32, 1000);
    uint32_t seed = 300;
    for (uint32_t n : {1u, 999u, 1000u, 1001u, 65538u, 262144u})
        for (uint32_t k : {1u, 64u}) {
            run_case(kern, n, k, 1 + seed % 3, seed);
            ++seed;
        }
}

// Results at a pair offset (greedy decode chains write step i's pick to pair i + 1), on the direct
// (one slice) and the merged path.
TEST_F(TopK, OutputOffset) {
    TopKKernel kern(env());
    run_case(kern, 300, 1, 1, 400, false, 5);
    run_case(kern, 65538, 1, 2, 401, false, 3);
    run_case(kern, 9000, 5, 3, 402, true, 1);
}

TEST_F(TopK, RejectsBadK) {
    TopKKernel kern(env());
    Buffers B;
    BufferRef xb = B.zeros(64), s = B.zeros(64), out = B.zeros(1024);
    BoundSet set = kern.bind(B.sets(), xb, s, out);
    CommandBuffer cb(ctx());
    Recorder rec(cb.begin(true));
    EXPECT_THROW(kern.record(rec, set, 1, 16, 16, 0), Error);
    EXPECT_THROW(kern.record(rec, set, 1, 16, 16, 65), Error);
    cb.end();
}

} // namespace
