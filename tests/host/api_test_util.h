// Helpers shared by the C API tests: fixture reading, loading through the C API with validation on,
// collecting streamed tokens, temporary model folders.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "tests/common/test_env.h"
#include "vkconvgpt.h"

namespace vkc::api_test {

using vkc::test::fixtures_dir;

inline std::string fixture(const std::string& m) { return fixtures_dir() + "/" + m; }

inline std::vector<int32_t> read_ids(const std::string& file, const std::string& name) {
    auto f = SafetensorsFile::open(file);
    const TensorView& t = f->tensors().at(name);
    std::vector<int32_t> v(t.numel());
    for (int64_t i = 0; i < t.numel(); ++i) {
        int64_t x;
        std::memcpy(&x, t.data + i * 8, 8);
        v[i] = (int32_t)x;
    }
    return v;
}

inline std::vector<float> read_f32(const std::string& file, const std::string& name) {
    auto f = SafetensorsFile::open(file);
    const TensorView& t = f->tensors().at(name);
    std::vector<float> v(t.numel());
    tensor_to_f32(t, v.data());
    return v;
}

inline vkc_model_params test_params() {
    vkc_model_params p = vkc_model_default_params();
    p.precision = VKC_PRECISION_F32;
    p.validation = true;
    p.pipeline_cache_path = "";
    p.max_batch = 32;
    return p;
}

inline vkc_model* load(const std::string& dir) {
    vkc_model_params p = test_params();
    vkc_model* m = nullptr;
    EXPECT_EQ(vkc_model_load(dir.c_str(), &p, &m), VKC_OK) << vkc_last_error();
    return m;
}

inline vkc_session* session(vkc_model* m, int n_ctx = 0) {
    vkc_session_params sp = vkc_session_default_params();
    sp.n_ctx = n_ctx;
    vkc_session* s = nullptr;
    EXPECT_EQ(vkc_session_create(m, &sp, &s), VKC_OK) << vkc_last_error();
    return s;
}

inline vkc_sampler* greedy_sampler() {
    vkc_sampler_params sp = vkc_sampler_default_params();
    sp.temperature = 0;
    vkc_sampler* s = nullptr;
    EXPECT_EQ(vkc_sampler_create(&sp, &s), VKC_OK) << vkc_last_error();
    return s;
}

struct Collected {
    std::vector<int32_t> ids;
    std::string text;
    int stop_after = -1; // return false after this many tokens
};

inline bool collect(const char* piece, int32_t id, void* user) {
    auto* c = static_cast<Collected*>(user);
    c->text += piece;
    if (id >= 0) c->ids.push_back(id);
    return c->stop_after < 0 || (int)c->ids.size() < c->stop_after;
}

inline bool contains(const char* hay, const std::string& needle) { return std::string(hay).find(needle) != std::string::npos; }

inline std::string read_text(const std::string& path) {
    std::string out;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
}

inline void write_text(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr) << path;
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
}

// A copy of v1-tiny-tied/f32 in a temporary folder (weights symlinked), optionally with another eos
// id in config.json and with a tokenizer.json copied from the tokenizer fixtures.
inline std::string model_copy(const std::string& name, int eos, const std::string& tokenizer) {
    const std::string src = fixtures_dir() + "/v1-tiny-tied/f32";
    const std::string dir = ::testing::TempDir() + "/vkc_api_" + name + "_" + std::to_string(getpid());
    if (std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str()) != 0) ADD_FAILURE() << dir;
    std::string cfg = read_text(src + "/config.json");
    if (eos >= 0) {
        const std::string key = "\"eos_token_id\": 2";
        size_t at = cfg.find(key);
        EXPECT_NE(at, std::string::npos);
        if (at != std::string::npos) cfg.replace(at, key.size(), "\"eos_token_id\": " + std::to_string(eos));
    }
    write_text(dir + "/config.json", cfg);
    if (std::system(("ln -s '" + src + "/model.safetensors' '" + dir + "/model.safetensors'").c_str()) != 0)
        ADD_FAILURE() << "ln -s failed";
    if (!tokenizer.empty()) write_text(dir + "/tokenizer.json", read_text(fixtures_dir() + "/tokenizers/" + tokenizer));
    return dir;
}

} // namespace vkc::api_test
