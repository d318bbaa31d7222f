// vkconvgpt-run as a user runs it: exit codes, one-line errors, the eval output contract.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "model/safetensors.h"
#include "tests/common/test_env.h"

using namespace vkc;

namespace {

struct Result {
    int code;
    std::string out; // stdout + stderr
};

Result run(const std::string& args) {
    std::string cmd = std::string(VKC_RUN_BIN) + " " + args + " 2>&1";
    Result r{-1, ""};
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    int st = pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::string model(const char* name) { return test::fixtures_dir() + "/" + name; }

std::vector<float> expected_logits(const char* fixture) {
    auto f = SafetensorsFile::open(test::fixtures_dir() + "/" + fixture + "/expected.safetensors");
    const TensorView& t = f->tensors().at("logits");
    std::vector<float> v(t.numel());
    tensor_to_f32(t, v.data());
    return v;
}

std::string expected_ids_csv(const char* fixture, int n) {
    auto f = SafetensorsFile::open(test::fixtures_dir() + "/" + fixture + "/expected.safetensors");
    const TensorView& t = f->tensors().at("input_ids");
    std::string s;
    for (int i = 0; i < n && i < t.numel(); ++i) {
        int64_t x;
        std::memcpy(&x, t.data + i * 8, 8);
        s += (i ? "," : "") + std::to_string(x);
    }
    return s;
}

} // namespace

TEST(Cli, InfoPrintsDeviceAndLimits) {
    Result r = run("info");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("maxStorageBufferRange"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("subgroup size"), std::string::npos) << r.out;
}

TEST(Cli, EvalWritesLogitsMatchingTheReference) {
    const int T = 20;
    std::string out = ::testing::TempDir() + "/vkc_eval_logits.safetensors";
    Result r = run("eval --model " + model("v1-tiny-tied/f32") + " --ids " + expected_ids_csv("v1-tiny-tied", T) +
                   " --prefill 8 --precision f32 --out " + out);
    ASSERT_EQ(r.code, 0) << r.out;
    auto f = SafetensorsFile::open(out);
    const TensorView& t = f->tensors().at("logits");
    ASSERT_EQ(t.dtype, DType::f32);
    ASSERT_EQ(t.shape, (std::vector<int64_t>{T, 512}));
    std::vector<float> got(t.numel());
    tensor_to_f32(t, got.data());
    std::vector<float> ref = expected_logits("v1-tiny-tied");
    ref.resize(got.size()); // causal: the first T rows do not depend on later ids
    EXPECT_LE(test::rel_error(got, ref), 1e-4);
}

TEST(Cli, BadInputGivesOneLineErrors) {
    std::string out = ::testing::TempDir() + "/vkc_bad.safetensors";
    struct { std::string args, expect; } cases[] = {
        {"eval --model " + model("v1-tiny-tied/f32") + " --ids 1,x,3 --out " + out, "'x'"},
        {"eval --model " + model("v1-tiny-tied/f32") + " --ids 1,512 --out " + out, "out of range"},
        {"eval --model " + model("v1-tiny-tied/f32") + " --ids 1,2 --prefill 3 --out " + out, "--prefill"},
        {"eval --model /nonexistent/model --ids 1 --out " + out, "/nonexistent/model"},
        {"eval --model " + model("v1-tiny-tied/f32") + " --ids 1 --precision f8 --out " + out, "--precision"},
    };
    for (auto& c : cases) {
        Result r = run(c.args);
        EXPECT_NE(r.code, 0) << c.args;
        EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.args << "\n" << r.out;
        EXPECT_NE(r.out.find("error"), std::string::npos) << r.out;
    }
}

// bench: pp and tg rows as JSON; --batch B times B sequences per decode_batch step (its own dispatch
// count: the batched step of the v1 fixture has fewer dispatches than B single steps), a batched
// --profile, and a clear error for an out-of-range --batch.
TEST(Cli, BenchReportsSingleAndBatchedDecode) {
    const std::string m = model("v1-tiny-tied/f32");
    Result one = run("bench --model " + m + " -p 8 -n 2 -r 1 -o json");
    ASSERT_EQ(one.code, 0) << one.out;
    Result three = run("bench --model " + m + " -p 0 -n 2 -r 1 --batch 3 -o json");
    ASSERT_EQ(three.code, 0) << three.out;
    auto rows = [](const std::string& out) {
        const size_t at = out.find('{');
        return at == std::string::npos ? nlohmann::json() : nlohmann::json::parse(out.substr(at), nullptr, false);
    };
    nlohmann::json a = rows(one.out), b = rows(three.out);
    ASSERT_TRUE(a.is_object() && b.is_object()) << one.out << three.out;
    ASSERT_EQ(a["rows"].size(), 2u) << one.out;
    EXPECT_EQ(a["rows"][0]["test"], "pp8");
    EXPECT_EQ(a["rows"][1]["test"], "tg2@32");
    ASSERT_EQ(b["rows"].size(), 1u) << three.out;
    EXPECT_EQ(b["rows"][0]["test"], "tg2@32 x3 seqs");
    EXPECT_GT(b["rows"][0]["tokens_per_s"].get<double>(), 0.0);
    const uint32_t single = a["rows"][1]["dispatches_per_step"], batched = b["rows"][0]["dispatches_per_step"];
    EXPECT_GT(batched, single);
    EXPECT_LT(batched, 3 * single) << "the batched step should share its matmuls";
    Result prof = run("bench --model " + m + " -p 0 -n 0 --batch 2 --profile");
    ASSERT_EQ(prof.code, 0) << prof.out;
    EXPECT_NE(prof.out.find("decode step of 2 sequence(s)"), std::string::npos) << prof.out;
    EXPECT_NE(prof.out.find("| attention_split |"), std::string::npos) << prof.out;
    // --profile-prefill: one prefill submission per kernel; more tokens than a chunk is an error
    Result pre = run("bench --model " + m + " -p 0 -n 0 --profile-prefill 9");
    ASSERT_EQ(pre.code, 0) << pre.out;
    EXPECT_NE(pre.out.find("prefill of 9 tokens:"), std::string::npos) << pre.out;
    EXPECT_NE(pre.out.find("| attention |"), std::string::npos) << pre.out; // 9 query rows: the tiled kernel
    Result pre_bad = run("bench --model " + m + " -p 0 -n 0 --max-batch 8 --profile-prefill 9");
    EXPECT_NE(pre_bad.code, 0);
    EXPECT_NE(pre_bad.out.find("--max-batch"), std::string::npos) << pre_bad.out;
    Result bad = run("bench --model " + m + " -p 0 -n 2 --batch 0");
    EXPECT_NE(bad.code, 0);
    EXPECT_NE(bad.out.find("--batch"), std::string::npos) << bad.out;
    // --unfused qkv_rope: the qkv matvec comes back, one dispatch per layer (v1-tiny-tied: 2 layers)
    Result u = run("bench --model " + m + " -p 0 -n 2 -r 1 --unfused qkv_rope -o json");
    ASSERT_EQ(u.code, 0) << u.out;
    nlohmann::json uj = rows(u.out);
    ASSERT_TRUE(uj.is_object()) << u.out;
    EXPECT_EQ(uj["rows"][0]["dispatches_per_step"].get<uint32_t>(), single + 2);
    Result unknown = run("bench --model " + m + " -p 0 -n 2 --unfused everything");
    EXPECT_NE(unknown.code, 0);
    EXPECT_NE(unknown.out.find("unknown fusion 'everything'"), std::string::npos) << unknown.out;
}

// bench --startup: a cold and a warm row whose first tokens agree (the tool fails otherwise), the warm
// run found the pipeline cache the cold run wrote, and on Mesa (lavapipe here) the driver's shader
// cache was redirected into the run's cache directory: the cold run found it empty, the warm run not.
TEST(Cli, BenchStartupIsolatesPipelineAndDriverCaches) {
    Result r = run("bench --model " + model("v1-tiny-tied/f32") + " --weights f32 --startup -r 1 -o json");
    ASSERT_EQ(r.code, 0) << r.out;
    const size_t at = r.out.find('[');
    ASSERT_NE(at, std::string::npos) << r.out;
    nlohmann::json rows = nlohmann::json::parse(r.out.substr(at), nullptr, false);
    ASSERT_TRUE(rows.is_array() && rows.size() == 2) << r.out;
    EXPECT_EQ(rows[0]["cache"], "cold");
    EXPECT_EQ(rows[1]["cache"], "warm");
    for (auto& row : rows) EXPECT_GT(row["wall_s"].get<double>(), 0.0);
    EXPECT_EQ(rows[0]["pipeline_cache_bytes"].get<uint64_t>(), 0u);
    EXPECT_GE(rows[1]["pipeline_cache_bytes"].get<uint64_t>(), 16u) << "the cold run saved no VkPipelineCache";
    if (rows[0]["device"].get<std::string>().find("llvmpipe") != std::string::npos) {
        EXPECT_GT(rows[1]["driver_cache_bytes"].get<uint64_t>(), 0u) << "Mesa's shader cache was not redirected";
    }
}
