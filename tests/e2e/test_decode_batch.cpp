// Model::decode_batch (one decode step for several sequences in shared kernels): every row equals the
// logits of a twin sequence decoded alone, bit for bit (the matvec path computes each row the same way
// at any batch size), while the batch changes size, order and members, a member is destroyed and
// replaced, and members sit at different positions. v1 in its three fixture layouts (tied, untied head,
// sliding window); v2 through the base class's one-at-a-time path.
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <vector>

#include "model/model.h"
#include "tests/common/test_env.h"

using namespace vkc;
using namespace vkc::test;

namespace {

class DecodeBatch : public VkTest {};

struct Pair {
    std::unique_ptr<Sequence> batched, alone;
};

// Contexts alternate between 64 and 700 tokens: rows with different attention split counts.
Pair make_pair(Model& m, int prompt_len, int seed) {
    const int ctx = seed % 2 ? 700 : 64;
    Pair p{m.new_sequence(ctx), m.new_sequence(ctx)};
    std::vector<int32_t> ids(prompt_len);
    for (int i = 0; i < prompt_len; ++i) ids[i] = (seed * 37 + i * 11) % m.vocab_size();
    p.batched->prefill(ids.data(), prompt_len, Logits::none, nullptr);
    p.alone->prefill(ids.data(), prompt_len, Logits::none, nullptr);
    return p;
}

// One batched step over pairs[order[i]], checked row by row against the lone twins; each row's greedy
// pick (GPU argmax on the batched path) equals the argmax of the lone twin's logits. Every third step
// reads back only the picks (null logits).
void step(Model& m, std::vector<Pair>& pairs, const std::vector<int>& order, int t) {
    const size_t V = (size_t)m.vocab_size();
    std::vector<Sequence*> seqs;
    std::vector<int32_t> ids;
    for (int k : order) {
        seqs.push_back(pairs[k].batched.get());
        ids.push_back(int32_t((t * 13 + k * 7 + 1) % V));
    }
    const bool with_logits = t % 3 != 2;
    std::vector<float> rows(order.size() * V), one(V);
    std::vector<int32_t> greedy(order.size(), -2);
    m.decode_batch(seqs.data(), ids.data(), (int)order.size(), with_logits ? rows.data() : nullptr, greedy.data());
    for (size_t i = 0; i < order.size(); ++i) {
        Pair& p = pairs[order[i]];
        p.alone->decode(ids[i], one.data());
        EXPECT_EQ(p.batched->pos(), p.alone->pos());
        EXPECT_EQ(greedy[i], argmax_row(one.data(), (int)V)) << "step " << t << ", batch row " << i;
        if (!with_logits) continue;
        const std::vector<float> row(rows.begin() + i * V, rows.begin() + (i + 1) * V);
        EXPECT_EQ(row, one) << "step " << t << ", batch row " << i << " (pair " << order[i] << ")";
    }
}

void run_schedule(const std::string& dir, bool batch_kernels = true, bool fuse_qkv_rope = true) {
    SCOPED_TRACE(dir + (batch_kernels ? " (batched rope / attention)" : " (per-row rope / attention)") +
                 (fuse_qkv_rope ? "" : " (qkv matvec + qk_norm_rope)"));
    ModelOptions o;
    o.validation = true;
    o.pipeline_cache_path = "";
    o.batch_kernels = batch_kernels;
    o.fuse_qkv_rope = fuse_qkv_rope;
    auto m = Model::load(fixtures_dir() + dir, o);
    std::vector<Pair> pairs;
    for (int k = 0; k < 4; ++k) pairs.push_back(make_pair(*m, 3 + 5 * k, k));
    int t = 0;
    step(*m, pairs, {0, 1, 2, 3}, t++);
    step(*m, pairs, {0, 1, 2, 3}, t++); // the recorded step replayed
    step(*m, pairs, {3, 1}, t++);       // fewer members, another order
    step(*m, pairs, {1, 3, 0}, t++);
    pairs[1] = make_pair(*m, 9, 42);    // a member destroyed and replaced (maybe at the same address)
    step(*m, pairs, {1, 3, 0}, t++);
    step(*m, pairs, {2}, t++);          // a batch of one
    step(*m, pairs, {0, 1, 2, 3}, t++);
}

TEST_F(DecodeBatch, V1TiedEqualsSingleDecodes) { run_schedule("/v1-tiny-tied/f32"); }
TEST_F(DecodeBatch, V1UntiedEqualsSingleDecodes) { run_schedule("/v1-tiny-untied/f32"); }
TEST_F(DecodeBatch, V1SlidingWindowEqualsSingleDecodes) { run_schedule("/v1-tiny-swa/bf16"); }
TEST_F(DecodeBatch, V1PerRowFallbackEqualsSingleDecodes) {
    run_schedule("/v1-tiny-tied/f32", false);
    run_schedule("/v1-tiny-swa/bf16", false);
}
// Without the qkv_rope fusion (--unfused qkv_rope, or qkv weights split in parts): the qkv matvec for
// all rows, then rope batched or per row.
TEST_F(DecodeBatch, V1UnfusedQkvEqualsSingleDecodes) {
    run_schedule("/v1-tiny-tied/f32", true, false);
    run_schedule("/v1-tiny-swa/bf16", false, false);
}
TEST_F(DecodeBatch, V2DecodesInTurn) { run_schedule("/v2-tiny"); }

// The host argmax (the base path's greedy pick; the GPU top-K's first pick has the same rules).
TEST(ArgmaxRow, FirstMaximumNaNNeverWinsNoneIsMinusOne) {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> ties{1, 3, -2, 3}, with_nan{nan, 2, nan, 5, nan}, top_inf{0, inf, inf};
    const std::vector<float> none{nan, -inf, nan};
    EXPECT_EQ(argmax_row(ties.data(), 4), 1);
    EXPECT_EQ(argmax_row(with_nan.data(), 5), 3);
    EXPECT_EQ(argmax_row(top_inf.data(), 3), 1);
    EXPECT_EQ(argmax_row(none.data(), 3), -1);
    EXPECT_EQ(argmax_row(none.data(), 0), -1);
}

// The batched step runs one rope (qkv_rope: fused with the qkv projection) and one split + combine
// attention per layer for all its rows (where the device has the batched variants; lavapipe does), and
// one per row and layer on the fallback.
TEST_F(DecodeBatch, V1BatchedStepHasOneAttentionPerLayer) {
    for (bool batched : {true, false}) {
        ModelOptions o;
        o.validation = true;
        o.pipeline_cache_path = "";
        o.batch_kernels = batched;
        auto m = Model::load(fixtures_dir() + "/v1-tiny-tied/f32", o);
        const Context& c = m->context();
        if (batched && !(c.features().dynamic_indexing && c.limits().max_storage_buffers >= 30))
            GTEST_SKIP() << "no dynamic indexing of storage-buffer arrays";
        std::vector<std::unique_ptr<Sequence>> seqs;
        std::vector<Sequence*> sp;
        for (int k = 0; k < 3; ++k) seqs.push_back(m->new_sequence(64 + 600 * k)), sp.push_back(seqs.back().get());
        const int32_t ids[3] = {1, 2, 3};
        auto prof = m->profile_decode_batch(sp.data(), ids, 3);
        int rope = 0, passes = 0; // attention passes: one-split "attention" or "attention_split"
        for (auto& [label, ns] : prof) {
            rope += label == "qkv_rope"; // the fused qkv projection + rope (f32 weights here)
            passes += label == "attention" || label == "attention_split";
        }
        const int layers = m->config().v1.n_layers, per = batched ? layers : 3 * layers;
        EXPECT_EQ(rope, per) << (batched ? "batched" : "fallback");
        EXPECT_EQ(passes, per) << (batched ? "batched" : "fallback");
        for (auto* q : sp) EXPECT_EQ(q->pos(), 1);
    }
}

// Bad batches are rejected before any sequence moves.
TEST_F(DecodeBatch, RejectsBadBatches) {
    ModelOptions o;
    o.validation = true;
    o.pipeline_cache_path = "";
    auto m = Model::load(fixtures_dir() + "/v1-tiny-tied/f32", o);
    auto a = m->new_sequence(4), b = m->new_sequence(4);
    Sequence* dup[2] = {a.get(), a.get()};
    Sequence* ok[2] = {a.get(), b.get()};
    const int32_t ids[2] = {1, 2}, bad[2] = {1, -1};
    EXPECT_THROW(m->decode_batch(dup, ids, 2, nullptr), Error);
    EXPECT_THROW(m->decode_batch(ok, bad, 2, nullptr), Error);
    EXPECT_THROW(m->decode_batch(ok, ids, 0, nullptr), Error);
    EXPECT_EQ(a->pos(), 0);
    const int32_t fill[4] = {1, 2, 3, 4};
    b->prefill(fill, 4, Logits::none, nullptr); // b is full
    EXPECT_THROW(m->decode_batch(ok, ids, 2, nullptr), Error);
    EXPECT_EQ(a->pos(), 0);
}

} // namespace
