// Model and sequence lifetime: load, run and destroy repeatedly with several sequences alive at once;
// the validation layer reports any leaked Vulkan object when the device is destroyed.
#include <gtest/gtest.h>

#include "model/model.h"
#include "tests/common/test_env.h"

using namespace vkc;
using namespace vkc::test;

class Lifetime : public VkTest {};

TEST_F(Lifetime, LoadRunDestroyRepeatedly) {
    std::vector<int32_t> ids = {1, 2, 3, 4, 5};
    for (int round = 0; round < 3; ++round) {
        for (const char* dir : {"/v1-tiny-swa/bf16", "/v2-tiny"}) {
            ModelOptions o;
            o.validation = true;
            o.pipeline_cache_path = "";
            auto m = Model::load(fixtures_dir() + dir, o);
            auto a = m->new_sequence(32), b = m->new_sequence(16); // sequences share the model
            std::vector<float> la(m->vocab_size()), lb(m->vocab_size());
            a->prefill(ids.data(), 5, Logits::last, la.data());
            b->prefill(ids.data(), 4, Logits::last, lb.data());
            b->decode(ids[4], lb.data());
            // Same ids through prefill and prefill+decode on two live sequences of one model.
            EXPECT_LE(rel_error(lb, la), 1e-5) << dir;
        }
    }
    EXPECT_EQ(validation_message_count(), messages_at_start_) << last_validation_message();
}
