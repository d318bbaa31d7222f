// Sequence::save_state / load_state (model/model.h) through the C++ API: on unified memory (mapped
// arenas) and with staging forced (GPU copies through the read-back arena and the staging ring), v1
// and v2; header validation.
#include <gtest/gtest.h>

#include <cstring>

#include "model/model.h"
#include "tests/host/api_test_util.h"

using namespace vkc;
using namespace vkc::test;
using namespace vkc::api_test;

namespace {

struct Case {
    const char* model; // fixture folder with config.json
    bool staging;
};

class State : public VkTest, public ::testing::WithParamInterface<Case> {};

TEST_P(State, RestoredSequenceContinuesIdentically) {
    const Case& c = GetParam();
    const std::string dir = fixture(c.model);
    const std::string base = dir.substr(0, dir.rfind("/f32") == std::string::npos ? dir.size() : dir.rfind("/f32"));
    auto ids = read_ids(base + "/expected.safetensors", "input_ids");
    ModelOptions o;
    o.weight_type = WeightType::f32;
    o.validation = true;
    o.pipeline_cache_path = "";
    o.max_batch = 16;
    o.force_staging = c.staging;
    auto model = Model::load(dir, o);
    const int V = model->vocab_size(), P = 20;
    auto a = model->new_sequence(64);
    a->prefill(ids.data(), P, Logits::none, nullptr);
    std::vector<uint8_t> blob = {1, 2, 3}; // save_state appends
    a->save_state(blob);
    EXPECT_EQ(blob.size(), 3 + a->state_size());
    auto b = model->new_sequence(64);
    b->prefill(ids.data() + 5, 9, Logits::none, nullptr); // other content, replaced
    EXPECT_EQ(b->load_state(blob.data() + 3, blob.size() - 3), blob.size() - 3);
    EXPECT_EQ(b->pos(), P);
    std::vector<float> la(V), lb(V);
    a->decode(ids[P], la.data());
    b->decode(ids[P], lb.data());
    EXPECT_EQ(la, lb);
    a->prefill(ids.data() + P + 1, 6, Logits::last, la.data());
    b->prefill(ids.data() + P + 1, 6, Logits::last, lb.data());
    EXPECT_EQ(la, lb);

    // Header checks leave the sequence untouched.
    auto c2 = model->new_sequence(32);
    try {
        c2->load_state(blob.data() + 3, blob.size() - 3);
        ADD_FAILURE() << "a state of another context length was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("context of 64"), std::string::npos) << e.what();
    }
    EXPECT_THROW(b->load_state(blob.data() + 3, 20), Error);              // truncated header
    EXPECT_THROW(b->load_state(blob.data() + 3, blob.size() - 4), Error); // truncated payload
    std::vector<uint8_t> wrong(blob.begin() + 3, blob.end());
    wrong[8] = 99; // version
    EXPECT_THROW(b->load_state(wrong.data(), wrong.size()), Error);
    EXPECT_EQ(b->pos(), P + 7);
}

INSTANTIATE_TEST_SUITE_P(Models, State,
                         ::testing::Values(Case{"v1-tiny-swa/f32", false}, Case{"v1-tiny-swa/f32", true},
                                           Case{"v2-tiny", false}, Case{"v2-tiny", true}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                             std::string n = std::string(i.param.model) + (i.param.staging ? "_staging" : "_mapped");
                             for (char& ch : n)
                                 if (!isalnum((unsigned char)ch)) ch = '_';
                             return n;
                         });

} // namespace
