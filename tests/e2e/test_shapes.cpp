// Other layouts than the fixtures: random-weight checkpoints (model/init_model) with real and awkward
// shapes, GPU logits vs the double-precision CPU reference, through prefill and through decode.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/init_model.h"
#include "model/model.h"
#include "tests/common/test_env.h"
#include "tests/ref/ref_model.h"

using namespace vkc;
using namespace vkc::test;
namespace fs = std::filesystem;

namespace {

struct ShapeCase {
    std::string name;
    std::string config; // JSON
    int T, prefill;
    uint64_t max_range = 0; // emulated maxStorageBufferRange (0: device's)
};

void PrintTo(const ShapeCase& c, std::ostream* os) { *os << c.name; }

std::string v1_164m_layout() {
    auto j = nlohmann::json::parse(preset_config("convgpt-v1-164m"));
    j["num_hidden_layers"] = 2; // every per-layer shape of the real model; fewer layers and a smaller
    j["vocab_size"] = 1500;     // vocabulary keep the CPU reference fast
    return j.dump();
}

std::vector<ShapeCase> cases() {
    return {
        {"v1_164m_layout", v1_164m_layout(), 20, 9},
        {"v1_odd_untied_swa",
         R"({"model_type":"convgpt","vocab_size":301,"hidden_size":49,"conv_kernel_h_w":4,"num_hidden_layers":3,
             "num_attention_heads":3,"num_key_value_heads":1,"head_dim":16,"intermediate_size":37,
             "sliding_window":5,"max_window_layers":1,"tie_word_embeddings":false,"rope_theta":500.0})",
         23, 7},
        {"v1_tied_split_embedding",
         R"({"model_type":"convgpt","vocab_size":700,"hidden_size":256,"num_hidden_layers":2,"num_attention_heads":4,
             "num_key_value_heads":2,"head_dim":32,"intermediate_size":96,"tie_word_embeddings":true})",
         19, 5, 300000}, // 2-3 parts for the embedding, 4 for scale_up.down
        {"v2_small_chunks_modes",
         R"({"model_type":"convgpt_v2","vocab_size":211,"hidden_size":24,"num_hidden_layers":3,"intermediate_size":40,
             "conv1d_kernel":3,"conv2d_kernel":3,"grid_size":16,"memory_every":1,"memory_chunk_size":5,
             "memory_top_k":3,"memory_heads":3,"memory_head_dim":8,"memory_position_modes":["none","rope","rope"],
             "tie_word_embeddings":true})",
         61, 23},
        {"v2_grid8_topk1",
         R"({"model_type":"convgpt_v2","vocab_size":97,"hidden_size":13,"num_hidden_layers":3,"intermediate_size":21,
             "conv1d_kernel":1,"conv2d_kernel":5,"grid_size":8,"memory_every":3,"memory_chunk_size":7,
             "memory_top_k":1,"memory_heads":2,"memory_head_dim":6,"tie_word_embeddings":false})",
         64, 30},
    };
}

class Shapes : public VkTest, public ::testing::WithParamInterface<ShapeCase> {};

} // namespace

TEST_P(Shapes, PrefillAndDecodeMatchReference) {
    const ShapeCase& c = GetParam();
    std::string dir = ::testing::TempDir() + "/vkc_shape_" + c.name;
    write_random_checkpoint(dir, c.config, 7);
    ModelConfig cfg = load_config(dir);
    TensorStore store = TensorStore::open_dir(dir);
    std::vector<int> ids;
    for (int t = 0; t < c.T; ++t) ids.push_back((t * 37 + 11) % cfg.vocab_size());
    ref::RefOutput want = ref::forward(store, cfg, ids);
    std::vector<int32_t> ids32(ids.begin(), ids.end());
    for (WeightType wt : {WeightType::f32, WeightType::f16}) {
        ModelOptions o;
        o.weight_type = wt;
        o.validation = true;
        o.pipeline_cache_path = "";
        o.max_batch = 16;
        o.max_storage_buffer_range = c.max_range;
        auto model = Model::load(dir, o);
        const int V = model->vocab_size();
        const double tol = wt == WeightType::f32 ? 1e-4 : 2e-2;
        const char* pname = wt == WeightType::f32 ? "f32" : "f16";

        auto seq = model->new_sequence(c.T);
        std::vector<float> got(size_t(c.T) * V);
        seq->prefill(ids32.data(), c.T, Logits::all, got.data());
        double e1 = rel_error(got, want.logits);
        std::printf("[ metric ] %s %s prefill rel_error %.3g\n", c.name.c_str(), pname, e1);
        EXPECT_LE(e1, tol) << pname << " prefill";

        auto seq2 = model->new_sequence(c.T);
        std::fill(got.begin(), got.end(), 0.f);
        seq2->prefill(ids32.data(), c.prefill, Logits::all, got.data());
        for (int t = c.prefill; t < c.T; ++t) seq2->decode(ids32[t], got.data() + size_t(t) * V);
        double e2 = rel_error(got, want.logits);
        std::printf("[ metric ] %s %s decode rel_error %.3g\n", c.name.c_str(), pname, e2);
        EXPECT_LE(e2, tol) << pname << " decode";
    }
    fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Random, Shapes, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<ShapeCase>& i) { return i.param.name; });
