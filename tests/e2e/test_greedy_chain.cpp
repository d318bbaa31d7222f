// Sequence::decode_greedy (n greedy decode steps in one submission, the picks made on the GPU and fed
// back to the embedding without a host round trip): the chain reproduces the fixture's gen_greedy,
// equals decode() + host argmax step by step (and leaves the same state: the next logits are equal bit
// for bit), replays its recorded command buffer while n stays the same, and rejects bad requests
// without changing the sequence. v1 (tied, sliding window) and v2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "model/model.h"
#include "model/safetensors.h"
#include "tests/common/fixture_model.h"
#include "tests/common/test_env.h"
#include "tests/ref/ref_model.h"

using namespace vkc;
using namespace vkc::test;

namespace {

class GreedyChain : public VkTest, public ::testing::WithParamInterface<std::string> {
protected:
    void SetUp() override {
        VkTest::SetUp();
        FixtureModel f = load_fixture_model(GetParam()); // without gpu_topk: chains need no option
        expected_ = std::move(f.expected);
        model_ = std::move(f.model);
    }
    void TearDown() override {
        model_.reset();
        VkTest::TearDown();
    }
    std::vector<int32_t> ids(const std::string& name) { return ref::read_ids(expected_->tensors().at(name)); }
    std::unique_ptr<SafetensorsFile> expected_;
    std::unique_ptr<Model> model_;
};

// Chains of 1, 2, 3, ... steps: out[n-1] of one chain is the input of the next.
TEST_P(GreedyChain, ReproducesFixtureGreedy) {
    const auto prompt = ids("gen_prompt"), want = ids("gen_greedy");
    const int V = model_->vocab_size();
    auto seq = model_->new_sequence();
    std::vector<float> logits(V);
    seq->prefill(prompt.data(), (int)prompt.size(), Logits::last, logits.data());
    std::vector<int32_t> got{argmax_row(logits.data(), V)};
    for (int n = 1; got.size() < want.size(); ++n) {
        const int steps = std::min<int>(n, int(want.size() - got.size()));
        std::vector<int32_t> out(steps);
        ASSERT_EQ(seq->decode_greedy(got.back(), steps, out.data()), steps);
        got.insert(got.end(), out.begin(), out.end());
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(seq->pos(), int(prompt.size() + want.size() - 1));
}

// A chain equals the same steps run by decode() with the argmax taken on the host, and the sequence it
// leaves continues exactly like the one-at-a-time twin. The chain of 6 is recorded once and replayed.
TEST_P(GreedyChain, EqualsStepByStepDecode) {
    const auto prompt = ids("input_ids");
    const int V = model_->vocab_size(), P = std::min<int>(7, (int)prompt.size());
    auto chain = model_->new_sequence(), step = model_->new_sequence();
    chain->prefill(prompt.data(), P, Logits::none, nullptr);
    step->prefill(prompt.data(), P, Logits::none, nullptr);
    std::vector<float> logits(V), twin(V);
    int32_t next = prompt[P];
    for (int round = 0; round < 3; ++round) {
        std::vector<int32_t> out(6, -2);
        ASSERT_EQ(chain->decode_greedy(next, 6, out.data()), 6);
        int32_t x = next;
        for (int i = 0; i < 6; ++i) {
            step->decode(x, logits.data());
            x = argmax_row(logits.data(), V);
            ASSERT_EQ(out[i], x) << "round " << round << " step " << i;
        }
        next = out[5];
        EXPECT_EQ(chain->pos(), step->pos());
    }
    std::printf("[ metric ] %s chain of 6: %u dispatches (decode step: %u)\n", GetParam().c_str(),
                chain->greedy_dispatches(), chain->decode_dispatches());
    chain->decode(next, logits.data());
    step->decode(next, twin.data());
    EXPECT_EQ(logits, twin) << "state after the chains";
}

TEST_P(GreedyChain, RejectsBadRequestsUnchanged) {
    auto seq = model_->new_sequence(16);
    const int32_t p[3] = {1, 2, 3};
    seq->prefill(p, 3, Logits::none, nullptr);
    int32_t out[16];
    EXPECT_EQ(seq->max_greedy_steps(), 7); // pairs in 16 token slots, the first holding the input
    EXPECT_THROW(seq->decode_greedy(1, 0, out), Error);
    EXPECT_THROW(seq->decode_greedy(1, 8, out), Error);
    EXPECT_THROW(seq->decode_greedy(-1, 2, out), Error);
    EXPECT_THROW(seq->decode_greedy(model_->vocab_size(), 2, out), Error);
    EXPECT_THROW(seq->decode_greedy(1, 2, nullptr), Error);
    EXPECT_EQ(seq->pos(), 3);
    ASSERT_EQ(seq->decode_greedy(1, 7, out), 7);
    ASSERT_EQ(seq->decode_greedy(out[6], 6, out), 6);
    EXPECT_EQ(seq->pos(), 16);
    try {
        seq->decode_greedy(out[5], 1, out);
        FAIL() << "a full sequence took a chain";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
    }
    EXPECT_EQ(seq->pos(), 16);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GreedyChain, ::testing::Values("v1-tiny-tied", "v1-tiny-swa", "v2-tiny"),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                             std::string n = i.param;
                             std::replace(n.begin(), n.end(), '-', '_');
                             return n;
                         });

} // namespace
