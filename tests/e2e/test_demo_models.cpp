// The demo checkpoints in models/ (trained by tools/train/train_demo.py): tokenize the first
// prefix_tokens ids of each model's heldout.txt with its own tokenizer, run them in the same windows as
// the PyTorch evaluation (ctx ids per window, each as [bos] + window[:-1] from a fresh sequence, logits of
// every row) and compare the perplexity with eval.json's ppl_prefix (PyTorch, float64, same F16 weights):
// within 1%. Also checks that the tokenizer reproduces the ids PyTorch saw.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/text/tokenizer.h"
#include "model/model.h"
#include "model/perplexity.h"
#include "tests/common/test_env.h"

using namespace vkc;
using namespace vkc::test;

namespace {

namespace fs = std::filesystem;

fs::path models_dir() { return fs::absolute(fs::path(__FILE__)).parent_path().parent_path().parent_path() / "models"; }

std::string read_text(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    EXPECT_TRUE(bool(f)) << "cannot open " << p;
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}


class DemoModel : public VkTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(DemoModel, HeldoutPerplexityMatchesPyTorch) {
    const fs::path dir = models_dir() / GetParam();
    ASSERT_TRUE(fs::exists(dir / "eval.json")) << dir;
    const nlohmann::json ev = nlohmann::json::parse(read_text(dir / "eval.json"));
    const int ctx = ev.at("ctx").get<int>();
    const size_t prefix = ev.at("prefix_tokens").get<size_t>();
    const double ppl_ref = ev.at("ppl_prefix").get<double>();

    auto tok = Tokenizer::load(dir.string());
    std::vector<int32_t> ids = tok->encode(read_text(dir / "heldout.txt"), false);
    EXPECT_EQ(ids.size(), ev.at("heldout_tokens").get<size_t>()) << "tokenizer disagrees with SentencePiece";
    if (ev.contains("heldout_ids_head")) {
        const auto head = ev["heldout_ids_head"].get<std::vector<int32_t>>();
        ASSERT_GE(ids.size(), head.size());
        EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + head.size()), head);
    }
    ASSERT_GE(ids.size(), prefix);
    ids.resize(prefix);

    ModelOptions o;
    o.validation = true;
    o.pipeline_cache_path = "";
    auto model = Model::load(dir.string(), o);
    const int V = model->vocab_size();
    const int32_t bos = tok->special().bos;
    ASSERT_GE(bos, 0);
    auto seq = model->new_sequence(ctx);
    std::vector<float> logits(size_t(ctx) * V);
    double nll = 0;
    for (size_t s = 0; s < ids.size(); s += size_t(ctx)) {
        const size_t n = std::min(ids.size() - s, size_t(ctx));
        std::vector<int32_t> input{bos};
        input.insert(input.end(), ids.begin() + s, ids.begin() + s + n - 1);
        seq->reset();
        seq->prefill(input.data(), int(n), Logits::all, logits.data());
        for (size_t i = 0; i < n; ++i) nll += token_nll(logits.data() + i * V, V, ids[s + i]);
    }
    const double ppl = std::exp(nll / double(ids.size()));
    std::printf("%s: perplexity over the first %zu held-out ids %.4f (PyTorch %.4f, %+.3f%%)\n", GetParam().c_str(),
                ids.size(), ppl, ppl_ref, 100.0 * (ppl / ppl_ref - 1.0));
    EXPECT_NEAR(ppl, ppl_ref, 0.01 * ppl_ref);
    seq.reset();
    model.reset();
}

INSTANTIATE_TEST_SUITE_P(Models, DemoModel, ::testing::Values("convgpt-v1-demo", "convgpt-v2-demo"),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                             std::string n = i.param;
                             std::replace(n.begin(), n.end(), '-', '_');
                             return n;
                         });

} // namespace
