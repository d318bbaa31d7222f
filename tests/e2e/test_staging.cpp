// The discrete-GPU memory path on any device: weights uploaded through the staging ring into
// unmapped device memory must give the same logits as direct writes into mapped memory.
#include <gtest/gtest.h>

#include "model/model.h"
#include "tests/common/test_env.h"

using namespace vkc;
using namespace vkc::test;

class Staging : public VkTest {};

TEST_F(Staging, StagedWeightsGiveIdenticalLogits) {
    std::vector<int32_t> ids = {3, 17, 99, 5, 250, 7, 1, 42, 300, 11};
    std::vector<std::vector<float>> out;
    for (bool staged : {false, true}) {
        ModelOptions o;
        o.validation = true;
        o.pipeline_cache_path = "";
        o.force_staging = staged;
        auto m = Model::load(fixtures_dir() + "/v1-tiny-untied/bf16", o);
        if (staged) {
            ASSERT_FALSE(m->context().unified_memory());
        }
        auto seq = m->new_sequence(64);
        std::vector<float> logits(size_t(ids.size()) * m->vocab_size());
        seq->prefill(ids.data(), 6, Logits::all, logits.data());
        for (size_t t = 6; t < ids.size(); ++t) seq->decode(ids[t], logits.data() + t * m->vocab_size());
        out.push_back(logits);
    }
    EXPECT_EQ(out[0], out[1]);
}
