// GPU top-K in the decode step: decode_topk / prefill_topk candidates equal the top-kGpuTopK of the
// logits that decode / prefill return for the same ids (two sequences side by side), greedy generation
// from decode_topk's ids[0] reproduces the fixture's gen_greedy, and the decode command buffer is
// still recorded once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>

#include "model/model.h"
#include "model/safetensors.h"
#include "tests/common/fixture_model.h"
#include "tests/common/test_env.h"
#include "tests/ref/ref_model.h"

using namespace vkc;
using namespace vkc::test;

namespace {

std::vector<int32_t> read_ids(const SafetensorsFile& f, const std::string& name) {
    const TensorView& t = f.tensors().at(name);
    EXPECT_EQ(t.dtype, DType::i64);
    return ref::read_ids(t);
}

// Top kGpuTopK of logits [V] on the CPU: value descending, ties -> lower id.
void cpu_topk(const std::vector<float>& l, std::vector<int32_t>& ids, std::vector<float>& vals) {
    std::vector<int32_t> idx(l.size());
    std::iota(idx.begin(), idx.end(), 0);
    const size_t m = std::min<size_t>(kGpuTopK, l.size());
    std::partial_sort(idx.begin(), idx.begin() + m, idx.end(),
                      [&](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
    ids.assign(idx.begin(), idx.begin() + m);
    vals.resize(m);
    for (size_t i = 0; i < m; ++i) vals[i] = l[ids[i]];
}

class GpuTopK : public VkTest, public ::testing::WithParamInterface<std::string> {
protected:
    void SetUp() override {
        VkTest::SetUp();
        ModelOptions o;
        o.gpu_topk = true;
        FixtureModel f = load_fixture_model(GetParam(), o);
        expected_ = std::move(f.expected);
        model_ = std::move(f.model);
    }
    void TearDown() override {
        model_.reset();
        VkTest::TearDown();
    }
    // Candidates from the GPU equal the CPU top-K of the full logits (exactly: same GPU results).
    void expect_same(const std::vector<float>& logits, const int32_t* ids, const float* vals, const char* what,
                     size_t step) {
        std::vector<int32_t> want_ids;
        std::vector<float> want_vals;
        cpu_topk(logits, want_ids, want_vals);
        for (size_t i = 0; i < want_ids.size(); ++i) {
            ASSERT_EQ(ids[i], want_ids[i]) << what << " step " << step << " slot " << i;
            ASSERT_EQ(vals[i], want_vals[i]) << what << " step " << step << " slot " << i;
        }
        for (size_t i = want_ids.size(); i < (size_t)kGpuTopK; ++i) ASSERT_EQ(ids[i], -1) << "slot " << i;
    }
    std::unique_ptr<SafetensorsFile> expected_;
    std::unique_ptr<Model> model_;
};

TEST_P(GpuTopK, CandidatesMatchFullLogits) {
    auto ids = read_ids(*expected_, "input_ids");
    const int V = model_->vocab_size(), P = 5, T = std::min<int>(20, (int)ids.size());
    auto full = model_->new_sequence(), top = model_->new_sequence();
    std::vector<float> logits(V);
    std::vector<int32_t> cid(kGpuTopK);
    std::vector<float> cval(kGpuTopK);
    full->prefill(ids.data(), P, Logits::last, logits.data());
    top->prefill_topk(ids.data(), P, cid.data(), cval.data());
    expect_same(logits, cid.data(), cval.data(), "prefill", 0);
    for (int t = P; t < T; ++t) {
        full->decode(ids[t], logits.data());
        top->decode_topk(ids[t], cid.data(), cval.data());
        expect_same(logits, cid.data(), cval.data(), "decode", t);
    }
    EXPECT_EQ(top->pos(), T);
    EXPECT_EQ(full->decode_records(), 1u);
    EXPECT_EQ(top->decode_records(), 1u);
    // The top-K runs inside the recorded decode step (1 dispatch for V <= 4096, else 2).
    auto prof = top->profile_decode(ids[0]);
    EXPECT_TRUE(std::any_of(prof.begin(), prof.end(), [](const auto& p) { return p.first == "topk_slice"; }));
    std::printf("[ metric ] %s decode dispatches %u (top-K: %u)\n", GetParam().c_str(), top->decode_dispatches(),
                V <= 4096 ? 1u : 2u);
}

TEST_P(GpuTopK, GreedyFromCandidatesMatchesFixture) {
    auto prompt = read_ids(*expected_, "gen_prompt");
    auto want = read_ids(*expected_, "gen_greedy");
    auto seq = model_->new_sequence();
    std::vector<int32_t> cid(kGpuTopK);
    std::vector<float> cval(kGpuTopK);
    seq->prefill_topk(prompt.data(), (int)prompt.size(), cid.data(), cval.data());
    std::vector<int32_t> got;
    for (size_t i = 0; i < want.size(); ++i) {
        got.push_back(cid[0]);
        ASSERT_TRUE(std::is_sorted(cval.begin(), cval.end(), std::greater<float>()));
        if (i + 1 < want.size()) seq->decode_topk(cid[0], cid.data(), cval.data());
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(seq->decode_records(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GpuTopK, ::testing::Values("v1-tiny-tied", "v2-tiny"),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                             std::string n = i.param;
                             std::replace(n.begin(), n.end(), '-', '_');
                             return n;
                         });

} // namespace

// Off by default: asking for candidates is a clear error and changes nothing.
class GpuTopKOff : public VkTest {};

TEST_F(GpuTopKOff, DisabledByDefault) {
    ModelOptions o;
    o.validation = true;
    o.pipeline_cache_path = "";
    auto m = Model::load(vkc::test::fixtures_dir() + "/v1-tiny-tied/f32", o);
    auto seq = m->new_sequence(16);
    int32_t ids[kGpuTopK];
    try {
        seq->decode_topk(1, ids, nullptr);
        FAIL() << "decode_topk without gpu_topk";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("gpu_topk"), std::string::npos) << e.what();
    }
    EXPECT_EQ(seq->pos(), 0);
}
