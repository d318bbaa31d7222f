// Memory family: chunk summaries and sparse top-K chunk attention against the CPU references
// (tests/ref/ref_ops.h), prefill in batches and replayed one-token decode steps; the caches are written by
// the host here, as qk_norm_rope would before these kernels run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "model/kernels/basic.h"
#include "model/kernels/memory.h"
#include "runtime/status.h"
#include "tests/common/gpu_helpers.h"
#include "tests/ref/ref_ops.h"

using namespace vkc;
using namespace vkc::test;

namespace {

struct MemCase {
    const char* name;
    int Hm, Dm, C, K;
    int s0;                   // positions 0..s0-1 cached before (summarized by one GPU pass over them)
    std::vector<int> batches; // prefill batches from s0 on
    int decode;               // then this many one-token decode steps (one command buffer, replayed)
    int key_period = 0;       // > 0: chunk j's keys repeat chunk j % key_period (exactly tied summaries)
    uint32_t wg = 128;        // mem_select / mem_attention workgroup size
};

void PrintTo(const MemCase& c, std::ostream* os) { *os << c.name; }

struct MemData {
    int S;
    std::vector<float> q, k, v; // [S, Hm, Dm] each
};

MemData make_data(const MemCase& c, uint32_t seed) {
    MemData m;
    m.S = c.s0 + c.decode;
    for (int t : c.batches) m.S += t;
    const size_t row = size_t(c.Hm) * c.Dm, n = size_t(m.S) * row;
    m.q = random_vec(n, seed, -1.5f, 1.5f);
    m.k = random_vec(n, seed + 1, -1.5f, 1.5f);
    m.v = random_vec(n, seed + 2);
    if (c.key_period > 0)
        for (int p = 0; p < m.S; ++p) {
            const int j = p / c.C, src = (j % c.key_period) * c.C + p % c.C;
            std::copy_n(m.k.begin() + size_t(src) * row, row, m.k.begin() + size_t(p) * row);
        }
    return m;
}

struct MemOut {
    std::vector<float> o;    // [S - s0, Hm * Dm]
    std::vector<float> ksum; // [S / C, Hm, Dm] (transposed back from the GPU's element-major layout)
};

MemOut run_gpu(const MemCase& c, const MemData& m) {
    Buffers b;
    const uint32_t row = c.Hm * c.Dm, S = m.S, n_chunks = S / c.C + 1;
    int max_t = 1;
    for (int t : c.batches) max_t = std::max(max_t, t);
    BufferRef seq = b.zeros(sizeof(SeqInfo)), q = b.zeros(size_t(max_t) * row * 4), o = b.zeros(size_t(max_t) * row * 4);
    BufferRef kc = b.zeros(size_t(S) * row * 4), vc = b.zeros(size_t(S) * row * 4);
    BufferRef ks = b.zeros(size_t(n_chunks) * row * 4);
    auto cache = [&](int p0, int T, bool with_q = true) { // what qk_norm_rope writes for p0 .. p0+T-1
        std::memcpy(reinterpret_cast<float*>(kc.mapped) + size_t(p0) * row, m.k.data() + size_t(p0) * row, size_t(T) * row * 4);
        std::memcpy(reinterpret_cast<float*>(vc.mapped) + size_t(p0) * row, m.v.data() + size_t(p0) * row, size_t(T) * row * 4);
        if (with_q) std::memcpy(q.mapped, m.q.data() + size_t(p0) * row, size_t(T) * row * 4);
    };
    MemSummarizeKernel summ(env());
    MemSelectKernel sel(env(), c.wg);
    MemAttentionKernel attn(env(), c.wg);
    AdvanceKernel adv(env());
    const uint32_t splits = MemSelectKernel::max_splits(n_chunks);
    BufferRef cand = b.zeros(MemSelectKernel::cand_bytes(max_t, c.Hm, n_chunks, c.K));
    BoundSet s_summ = summ.bind(b.sets(), seq, kc, ks), s_sel = sel.bind(b.sets(), seq, q, ks, cand);
    BoundSet s_attn = attn.bind(b.sets(), seq, q, kc, vc, cand, o), s_adv = adv.bind(b.sets(), seq);
    auto summarize = [&](Recorder& rec, uint32_t T) {
        summ.record(rec, s_summ, MemSummarizePush{T, row, uint32_t(c.C), n_chunks, S});
    };
    const uint32_t Hm = c.Hm, Dm = c.Dm, C = c.C, K = c.K;
    auto record = [&](Recorder& rec, uint32_t T) {
        summarize(rec, T);
        sel.record(rec, s_sel, MemSelectPush{T, Hm, Dm, C, K, row, splits, S, 0, n_chunks});
        attn.record(rec, s_attn, MemAttentionPush{T, Hm, Dm, C, K, row, row, S, splits});
        adv.record(rec, s_adv, T);
    };
    MemOut r;
    auto get = [&](int T) {
        const float* op = reinterpret_cast<const float*>(o.mapped);
        r.o.insert(r.o.end(), op, op + size_t(T) * row);
    };
    if (c.s0 > 0) { // the state earlier batches left: cache rows and the summaries of their closed chunks
        cache(0, c.s0, false);
        run_once([&](Recorder& rec) { summarize(rec, c.s0); });
        reinterpret_cast<SeqInfo*>(seq.mapped)->pos = c.s0;
    }
    int p = c.s0;
    for (int T : c.batches) {
        cache(p, T);
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
            cache(p, 1);
            cb.submit_and_wait();
            get(1);
        }
        EXPECT_EQ(cb.record_count(), 1u);
    }
    EXPECT_EQ(reinterpret_cast<SeqInfo*>(seq.mapped)->pos, S);
    const std::vector<float> kt = b.read(ks, size_t(n_chunks) * row); // element-major [row, n_chunks]
    for (uint32_t j = 0; j < S / c.C; ++j)
        for (uint32_t i = 0; i < row; ++i) r.ksum.push_back(kt[size_t(i) * n_chunks + j]);
    return r;
}

std::vector<float> rows_from(const std::vector<float>& x, size_t row, int r0) {
    return std::vector<float>(x.begin() + size_t(r0) * row, x.end());
}

class MemoryCase : public VkTest, public ::testing::WithParamInterface<MemCase> {};

const std::vector<MemCase> kCases = {
    // fewer closed chunks than K everywhere
    {"few_chunks", 2, 16, 16, 4, 0, {40}, 7},
    // c reaches K (all chunks) and then K + 1 (first real selection), C = 5 does not divide 22
    {"exactly_k", 1, 8, 5, 3, 0, {13}, 9},
    // many more chunks than K
    {"many_chunks", 3, 24, 4, 3, 0, {150, 77}, 10},
    {"chunk_7_len_71", 2, 20, 7, 2, 0, {37, 29}, 5},
    // head dim above the workgroup size, awkward
    {"dm160", 1, 160, 8, 5, 0, {70}, 4},
    // no retrieval: only the open chunk
    {"k0", 2, 8, 4, 0, 0, {23}, 3},
    // K = 32 with C = 1: hundreds of single-token chunks
    {"k32_c1", 1, 8, 1, 32, 0, {300}, 3},
    // 4095 closed chunks (G = 256, C = 16), near the end of a 65536-token context
    {"end_of_context", 2, 16, 16, 16, 65536 - 25, {14}, 11},
    // exact ties between summaries: lower chunks win
    {"ties_period3", 2, 8, 4, 3, 0, {61, 30}, 9, 3},
    {"ties_all_equal", 2, 8, 4, 3, 0, {45}, 6, 1},
    // ties among hundreds of chunks: tied chunks inside one split of 256 (period 8) and spread over
    // splits, one per split (period 256), so that the merge decides
    {"ties_in_split", 2, 8, 1, 5, 0, {300}, 4, 8},
    {"ties_across_splits", 1, 8, 1, 3, 1050, {50}, 3, 256},
    // the last split holds fewer chunks than K
    {"last_split_short", 1, 8, 1, 5, 0, {510}, 8},
    // more candidates (splits x K) than one merge tile of 256, with and without ties
    {"merge_tiles", 1, 8, 2, 32, 6000, {20}, 5},
    {"merge_tiles_ties", 1, 8, 1, 32, 2600, {20}, 5, 256},
    // other workgroup sizes
    {"many_chunks_wg512", 3, 24, 4, 3, 0, {150, 77}, 10, 0, 512},
    {"ties_in_split_wg256", 1, 8, 1, 2, 650, {50}, 3, 128, 256},
    {"end_of_context_wg256", 2, 16, 16, 16, 65536 - 25, {14}, 11, 0, 256},
};

TEST_P(MemoryCase, MatchesReference) {
    const MemCase& c = GetParam();
    MemData m = make_data(c, 99 + c.C * 7 + c.K);
    const size_t row = size_t(c.Hm) * c.Dm;
    MemOut g = run_gpu(c, m);
    const std::vector<float> want = ref::memory_attention(rows_from(m.q, row, c.s0), m.k, m.v, c.Hm, c.Dm, c.C,
                                                          c.K, c.s0);
    ASSERT_EQ(g.o.size(), size_t(m.S - c.s0) * row);
    ASSERT_EQ(g.o.size(), want.size());
    EXPECT_LT(rel_error(g.o, want), 1e-5);
    const std::vector<float> ksum = ref::chunk_summaries(m.k, c.Hm, c.Dm, c.C);
    ASSERT_EQ(g.ksum.size(), ksum.size());
    EXPECT_LT(rel_error(g.ksum, ksum), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Memory, MemoryCase, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<MemCase>& i) { return std::string(i.param.name); });

class Memory : public VkTest {};

// Decode one token at a time gives what one prefill gives.
TEST_F(Memory, DecodeStepsEqualOnePrefill) {
    MemCase one{"one", 2, 16, 6, 3, 0, {130}, 0};
    MemCase steps{"steps", 2, 16, 6, 3, 0, {31}, 99};
    MemData m = make_data(one, 5);
    const MemOut a = run_gpu(one, m), b = run_gpu(steps, m);
    ASSERT_EQ(a.o.size(), b.o.size());
    EXPECT_LT(rel_error(b.o, a.o), 1e-6);
    EXPECT_EQ(a.ksum, b.ksum);
}

// With tied summaries the selection must take the lowest chunks: check that the tie test can fail, i.e.
// that picking higher tied chunks would change the output.
TEST_F(Memory, TiesChangeTheOutputWhenBrokenOtherwise) {
    MemCase c{"ties", 1, 8, 4, 2, 0, {40}, 0, 1}; // every chunk has the same keys -> all scores tie
    MemData m = make_data(c, 11);
    const MemOut g = run_gpu(c, m);
    // reference with the lowest K vs. one with chunks reversed (the highest K tied chunks selected)
    const std::vector<float> lowest = ref::memory_attention(m.q, m.k, m.v, 1, 8, 4, 2, 0);
    EXPECT_LT(rel_error(g.o, lowest), 1e-5);
    MemData rev = m; // reverse the values of closed chunks: equal keys, so the highest-j pick is the lowest here
    const int n_chunks = m.S / 4;
    for (int j = 0; j < n_chunks; ++j)
        std::copy_n(m.v.begin() + size_t(j) * 4 * 8, 4 * 8, rev.v.begin() + size_t(n_chunks - 1 - j) * 4 * 8);
    const std::vector<float> other = ref::memory_attention(m.q, m.k, rev.v, 1, 8, 4, 2, 0);
    EXPECT_GT(rel_error(g.o, other), 1e-3);
}

TEST_F(Memory, RejectsBadShapes) {
    Buffers b;
    BufferRef x = b.zeros(64);
    EXPECT_THROW(MemAttentionKernel(env(), 1024), Error); // shared memory is sized for <= 512
    EXPECT_THROW(MemAttentionKernel(env(), 96), Error);   // not a power of two
    MemAttentionKernel attn(env());
    BoundSet s = attn.bind(b.sets(), x, x, x, x, x, b.zeros(64));
    MemSelectKernel sel(env());
    BoundSet s2 = sel.bind(b.sets(), x, x, x, b.zeros(64));
    CommandBuffer cb(ctx());
    Recorder rec(cb.begin(true));
    EXPECT_THROW(attn.record(rec, s, MemAttentionPush{1, 1, 8, 4, 33, 8, 8, 4, 1}), Error);  // K > 32
    EXPECT_THROW(attn.record(rec, s, MemAttentionPush{1, 1, 513, 4, 3, 8, 8, 4, 1}), Error); // Dm > 512
    EXPECT_THROW(attn.record(rec, s, MemAttentionPush{1, 1, 8, 0, 3, 8, 8, 4, 1}), Error);   // C = 0
    EXPECT_THROW(sel.record(rec, s2, MemSelectPush{1, 1, 8, 4, 33, 8, 1, 4, 0, 1}), Error);        // K > 32
    cb.end();
}

} // namespace
