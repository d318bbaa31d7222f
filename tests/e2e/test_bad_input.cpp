// Bad input through the full load path (Model::load) and the sequence API: every case is a clear
// error naming the problem, never a crash. Files are corrupted copies of a fixture checkpoint.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/model.h"
#include "model/safetensors.h"
#include "tests/common/test_env.h"

using namespace vkc;
using namespace vkc::test;
namespace fs = std::filesystem;

namespace {

class BadInput : public VkTest {
protected:
    void SetUp() override {
        VkTest::SetUp();
        dir_ = ::testing::TempDir() + "/vkc_bad_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        src_ = fixtures_dir() + "/" + source();
        fs::copy_file(src_ + "/config.json", dir_ + "/config.json");
        fs::copy_file(src_ + "/model.safetensors", dir_ + "/model.safetensors");
    }
    void TearDown() override {
        fs::remove_all(dir_);
        VkTest::TearDown();
    }
    ModelOptions opts() const {
        ModelOptions o;
        o.validation = true;
        o.pipeline_cache_path = "";
        return o;
    }
    // Loads dir_ and returns the error (fails the test if loading succeeds).
    Error load_error() {
        try {
            Model::load(dir_, opts());
        } catch (const Error& e) {
            return e;
        }
        ADD_FAILURE() << "Model::load succeeded on bad input";
        return Error(Status::ok, "");
    }
    // Rewrites model.safetensors with a header edited by `edit` (data unchanged).
    void edit_header(const std::function<void(nlohmann::json&)>& edit) {
        std::ifstream in(src_ + "/model.safetensors", std::ios::binary);
        std::string all((std::istreambuf_iterator<char>(in)), {});
        uint64_t n;
        std::memcpy(&n, all.data(), 8);
        nlohmann::json h = nlohmann::json::parse(all.substr(8, n));
        edit(h);
        std::string hs = h.dump();
        while (hs.size() % 8) hs += ' ';
        uint64_t m = hs.size();
        std::ofstream out(dir_ + "/model.safetensors", std::ios::binary | std::ios::trunc);
        out.write((const char*)&m, 8);
        out << hs << all.substr(8 + n);
    }
    void edit_config(const std::function<void(nlohmann::json&)>& edit) {
        std::ifstream in(src_ + "/config.json");
        nlohmann::json c = nlohmann::json::parse(in);
        edit(c);
        std::ofstream(dir_ + "/config.json", std::ios::trunc) << c.dump(2);
    }
    virtual std::string source() const { return "v1-tiny-tied/f32"; }
    std::string dir_, src_;
};

class BadInputV2 : public BadInput {
protected:
    std::string source() const override { return "v2-tiny"; }
};

#define EXPECT_ERROR_HAS(err, text) EXPECT_NE(std::string((err).what()).find(text), std::string::npos) << (err).what()

} // namespace

TEST_F(BadInput, TruncatedSafetensors) {
    fs::resize_file(dir_ + "/model.safetensors", fs::file_size(dir_ + "/model.safetensors") / 2);
    Error e = load_error();
    EXPECT_EQ(e.status(), Status::io_error);
    EXPECT_ERROR_HAS(e, "model.safetensors");
    EXPECT_ERROR_HAS(e, "out of range");
}

TEST_F(BadInput, HeaderLengthBeyondFile) {
    std::fstream f(dir_ + "/model.safetensors", std::ios::binary | std::ios::in | std::ios::out);
    uint64_t huge = 1ull << 26; // 64 MiB header in a 2.5 MB file
    f.write((const char*)&huge, 8);
    f.close();
    Error e = load_error();
    EXPECT_ERROR_HAS(e, "header length");
}

TEST_F(BadInput, WrongShapeNamesTheTensor) {
    edit_header([](nlohmann::json& h) { h["model.norm_emb.g"]["shape"] = {1, 1}; });
    Error e = load_error();
    EXPECT_EQ(e.status(), Status::invalid_model);
    EXPECT_ERROR_HAS(e, "model.norm_emb.g");
    EXPECT_ERROR_HAS(e, "expected [1]");
}

TEST_F(BadInput, MissingTensor) {
    edit_header([](nlohmann::json& h) { h.erase("model.layers.1.mlp.up_proj.weight"); });
    Error e = load_error();
    EXPECT_ERROR_HAS(e, "missing tensor 'model.layers.1.mlp.up_proj.weight'");
}

TEST_F(BadInput, UnknownTensor) {
    edit_header([](nlohmann::json& h) { h["model.extra.weight"] = h["model.norm_emb.g"]; });
    Error e = load_error();
    EXPECT_ERROR_HAS(e, "model.extra.weight");
}

TEST_F(BadInput, UnknownDtype) {
    edit_header([](nlohmann::json& h) { h["model.norm_emb.g"]["dtype"] = "F8_E4M3"; });
    Error e = load_error();
    EXPECT_ERROR_HAS(e, "unknown dtype 'F8_E4M3'");
}

TEST_F(BadInput, HiddenSizeNotAPerfectSquare) {
    edit_config([](nlohmann::json& c) {
        c["hidden_size"] = 250;
        c.erase("emb_dim_factor");
        c.erase("emb_factor");
        c.erase("transformer_dim");
    });
    Error e = load_error();
    EXPECT_ERROR_HAS(e, "perfect square");
}

TEST_F(BadInput, TokenIdOutOfRangeAndPromptTooLong) {
    auto m = Model::load(dir_, opts());
    auto seq = m->new_sequence(16);
    std::vector<int32_t> ids = {1, 2, 512};
    try {
        seq->prefill(ids.data(), 3, Logits::last, nullptr);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid_argument);
        EXPECT_ERROR_HAS(e, "token id 512 at index 2 is out of range [0, 512)");
    }
    std::vector<int32_t> long_ids(17, 5);
    try {
        seq->prefill(long_ids.data(), 17, Logits::last, nullptr);
        FAIL();
    } catch (const Error& e) {
        EXPECT_ERROR_HAS(e, "exceeds the context of 16 tokens");
    }
    std::vector<float> logits(m->vocab_size());
    EXPECT_THROW(seq->decode(-1, logits.data()), Error);
    // The sequence is still usable after rejected input.
    seq->prefill(ids.data(), 2, Logits::last, logits.data());
    EXPECT_EQ(seq->pos(), 2);
}

TEST_F(BadInputV2, GridSizeNotAPowerOfTwo) {
    edit_config([](nlohmann::json& c) { c["grid_size"] = 24; });
    Error e = load_error();
    EXPECT_EQ(e.status(), Status::invalid_model);
    EXPECT_ERROR_HAS(e, "grid_size");
    EXPECT_ERROR_HAS(e, "power of two");
}

TEST_F(BadInputV2, EvenConv2dKernel) {
    edit_config([](nlohmann::json& c) { c["conv2d_kernel"] = 4; });
    Error e = load_error();
    EXPECT_ERROR_HAS(e, "conv2d_kernel");
    EXPECT_ERROR_HAS(e, "odd");
}

TEST_F(BadInputV2, MissingMemoryTensor) {
    edit_header([](nlohmann::json& h) { h.erase("model.layers.1.memory.k_proj.weight"); });
    Error e = load_error();
    EXPECT_ERROR_HAS(e, "missing tensor 'model.layers.1.memory.k_proj.weight'");
}

TEST_F(BadInputV2, SequenceLongerThanTheGrid) {
    auto m = Model::load(dir_, opts()); // grid 32: capacity 1024 tokens
    try {
        m->new_sequence(32 * 32 + 1);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid_argument);
        EXPECT_ERROR_HAS(e, "grid capacity");
    }
    auto seq = m->new_sequence(); // the whole grid
    EXPECT_EQ(seq->capacity(), 1024);
    std::vector<int32_t> ids(1025, 3);
    try {
        seq->prefill(ids.data(), 1025, Logits::last, nullptr);
        FAIL();
    } catch (const Error& e) {
        EXPECT_ERROR_HAS(e, "exceeds the context of 1024 tokens");
    }
}
