// Limits profiles ($VKCONVGPT_LIMITS): parsing, what a profile does to a Context, subgroup-size
// profiles (supported or reported as unsupported), the shared-memory check at pipeline creation (with
// the SPIR-V reflection it relies on), and that the mobile-split profile really splits the fixtures'
// embeddings while giving the same logits.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "model/model.h"
#include "runtime/limits.h"
#include "runtime/spirv_info.h"
#include "shaders/shader_registry.h"
#include "tests/common/test_env.h"

using namespace vkc;
using namespace vkc::test;

namespace {

class Limits : public VkTest {};

std::string error_of(const std::function<void()>& f, Status* st = nullptr) {
    try {
        f();
    } catch (const Error& e) {
        if (st) *st = e.status();
        return e.what();
    }
    return "";
}

// Sets an environment variable for one scope (tests run one at a time per process).
struct ScopedEnv {
    std::string name;
    ScopedEnv(const char* n, const std::string& v) : name(n) { setenv(n, v.c_str(), 1); }
    ~ScopedEnv() { unsetenv(name.c_str()); }
};

} // namespace

TEST(LimitsProfile, ParsesBuiltinsKeysAndFiles) {
    LimitsProfile m = parse_limits_profile("mobile");
    EXPECT_EQ(m.max_storage_buffer_range, kMobileBufferRange);
    EXPECT_EQ(m.max_shared_memory, kMobileSharedMemory);
    EXPECT_TRUE(m.no_fp16_arith && m.no_storage8 && m.no_int_dot && m.no_subgroup_arith);
    EXPECT_FALSE(m.no_storage16);
    EXPECT_EQ(m.subgroup_size, 0u);

    LimitsProfile k = parse_limits_profile("mobile,sg64,memory_budget=64M,max_shared_memory=8K");
    EXPECT_EQ(k.subgroup_size, 64u);
    EXPECT_EQ(k.memory_budget, 64ull << 20);
    EXPECT_EQ(k.max_shared_memory, 8192u);
    EXPECT_EQ(k.max_storage_buffer_range, kMobileBufferRange);
    EXPECT_NE(k.describe().find("required subgroup size 64"), std::string::npos) << k.describe();

    EXPECT_EQ(parse_limits_profile("mobile-split").max_storage_buffer_range, kMobileSplitBufferRange);
    EXPECT_FALSE(parse_limits_profile("").active());

    std::string path = ::testing::TempDir() + "/vkc_profile.json";
    {
        std::ofstream f(path);
        f << "{ \"name\": \"adreno-like\", \"profile\": \"mobile\", \"max_storage_buffer_range\": 131072,\n"
             "  \"subgroup_size\": 64, \"storage16\": false }\n";
    }
    LimitsProfile j = parse_limits_profile(path);
    EXPECT_EQ(j.name, path);
    EXPECT_EQ(j.max_storage_buffer_range, 131072u);
    EXPECT_EQ(j.subgroup_size, 64u);
    EXPECT_TRUE(j.no_storage16 && j.no_fp16_arith);
    std::remove(path.c_str());

    Status st = Status::ok;
    EXPECT_NE(error_of([] { parse_limits_profile("desktop"); }, &st).find("unknown profile 'desktop'"), std::string::npos);
    EXPECT_EQ(st, Status::invalid_argument);
    EXPECT_NE(error_of([] { parse_limits_profile("sg24"); }).find("power of two"), std::string::npos);
    EXPECT_NE(error_of([] { parse_limits_profile("max_shared_memory=lots"); }).find("max_shared_memory"), std::string::npos);
    EXPECT_NE(error_of([] { parse_limits_profile("/nonexistent/p.json"); }, &st).find("cannot read"), std::string::npos);
    EXPECT_EQ(st, Status::io_error);
}

TEST_F(Limits, MobileProfileLowersLimitsAndDisablesFeatures) {
    ContextOptions o;
    o.limits_profile = "mobile";
    auto c = Context::create(o);
    EXPECT_LE(c->limits().max_storage_buffer_range, kMobileBufferRange);
    EXPECT_LE(c->limits().max_shared_memory, kMobileSharedMemory);
    EXPECT_FALSE(c->features().fp16_arith);
    EXPECT_FALSE(c->features().storage8);
    EXPECT_FALSE(c->features().int_dot);
    EXPECT_FALSE(c->features().subgroup_arith);
    EXPECT_NE(c->describe().find("limits profile: mobile: maxStorageBufferRange 16 MiB"), std::string::npos)
        << c->describe();
    // Without a profile the device's own numbers are used ("none" also overrides $VKCONVGPT_LIMITS).
    ContextOptions n;
    n.limits_profile = "none";
    auto d = Context::create(n);
    EXPECT_FALSE(d->profile().active());
    EXPECT_GE(d->limits().max_shared_memory, c->limits().max_shared_memory);
}

// sgN works exactly when the device supports size N for compute; otherwise Context creation fails with
// a message naming the size and what the device supports. (lavapipe on x86-64 with AVX2: only 8.)
TEST_F(Limits, SubgroupSizeProfilesAreAppliedOrReportedUnsupported) {
    const auto& F = ctx().features();
    int applied = 0;
    for (uint32_t n : {4u, 8u, 16u, 32u, 64u, 128u}) {
        ContextOptions o;
        o.limits_profile = "sg" + std::to_string(n);
        const bool supported = F.subgroup_size_control && n >= F.min_subgroup_size && n <= F.max_subgroup_size;
        std::unique_ptr<Context> c;
        Status st = Status::ok;
        std::string err = error_of([&] { c = Context::create(o); }, &st);
        if (supported) {
            ASSERT_TRUE(err.empty()) << err;
            ++applied;
            // A real pipeline with the required size: rmsnorm with 128 invocations.
            PipelineCache cache(*c, "");
            PipelineDesc d;
            d.shader = "rmsnorm";
            d.binding_counts = {1, 1, 1};
            d.writes_mask = 4;
            d.push_size = 20; // RmsNormPush
            d.spec = {n * 4 <= 128 ? n * 4 : 128};
            Pipeline p(*c, cache, d);
            EXPECT_NE(p.handle(), VK_NULL_HANDLE);
        } else {
            EXPECT_EQ(st, Status::unsupported) << err;
            EXPECT_NE(err.find("subgroup size " + std::to_string(n) + " is not supported"), std::string::npos) << err;
        }
    }
    std::printf("subgroup sizes: device %u (min %u, max %u, control %s), %d sgN profile(s) applied\n", F.subgroup_size,
                F.min_subgroup_size, F.max_subgroup_size, F.subgroup_size_control ? "yes" : "no", applied);
}

TEST(SpirvInfo, ReflectsSharedMemoryAndWorkgroupSizeAfterSpecialization) {
    const ShaderBlob* b = find_shader("rmsnorm"); // shared float partial[WG]; local_size_x_id = 0
    ASSERT_NE(b, nullptr);
    SpirvInfo d = reflect_spirv(b->code, b->words, {});
    ASSERT_TRUE(d.ok);
    // Unspecialized: glslang gives local_size_x_id its own spec constant (default 1), the array uses
    // WG's GLSL default 128.
    EXPECT_EQ(d.local_size[0], 1u);
    EXPECT_EQ(d.shared_bytes, 128u * 4);
    SpirvInfo s = reflect_spirv(b->code, b->words, {64});
    EXPECT_EQ(s.local_size[0], 64u);
    EXPECT_EQ(s.shared_bytes, 64u * 4);
    EXPECT_FALSE(reflect_spirv(b->code, 3, {}).ok);
}

// Every embedded shader at its default specialization, for the audit against 16 KiB (the per-model
// numbers, with the spec constants the kernels choose, come from SharedMemoryOfFixturePipelines).
TEST(SpirvInfo, AuditAllShadersAtDefaultSpecialization) {
    size_t n = 0;
    const ShaderBlob* t = shader_table(&n);
    ASSERT_GT(n, 0u);
    for (size_t i = 0; i < n; ++i) {
        SpirvInfo s = reflect_spirv(t[i].code, t[i].words, {});
        EXPECT_TRUE(s.ok) << t[i].name;
        std::printf("shared-memory audit: %-28s %6llu B  workgroup %u x %u x %u\n", t[i].name,
                    (unsigned long long)s.shared_bytes, s.local_size[0], s.local_size[1], s.local_size[2]);
    }
}

TEST_F(Limits, PipelineOverTheSharedMemoryLimitFailsNamingTheKernel) {
    ContextOptions o;
    o.limits_profile = "max_shared_memory=256";
    auto c = Context::create(o);
    PipelineCache cache(*c, "");
    PipelineDesc d;
    d.shader = "rmsnorm";
    d.binding_counts = {1, 1, 1};
    d.writes_mask = 4;
    d.push_size = 20; // RmsNormPush
    d.spec = {128}; // 512 bytes of shared memory
    Status st = Status::ok;
    std::string err = error_of([&] { Pipeline p(*c, cache, d); }, &st);
    EXPECT_EQ(st, Status::unsupported);
    EXPECT_NE(err.find("kernel 'rmsnorm' (spec {128}) needs 512 bytes of shared memory, more than the 256"),
              std::string::npos) << err;
    d.spec = {64}; // 256 bytes: fits
    Pipeline ok(*c, cache, d);
    EXPECT_EQ(ok.shared_bytes(), 256u);
    d.shared_bytes = 300; // a declared size larger than the reflected one counts
    EXPECT_FALSE(error_of([&] { Pipeline p(*c, cache, d); }).empty());
}

// The fixture models under `mobile`: every pipeline they create fits 16 KiB (creation would fail
// otherwise); prints each kernel's use for the audit.
TEST_F(Limits, SharedMemoryOfFixturePipelines) {
    ScopedEnv env("VKCONVGPT_LIMITS", "mobile");
    std::map<std::string, uint64_t> all;
    for (const char* m : {"v1-tiny-untied/f32", "v2-tiny"}) {
        ModelOptions o;
        o.validation = true;
        o.pipeline_cache_path = "";
        auto model = Model::load(fixtures_dir() + "/" + m, o);
        EXPECT_EQ(model->context().profile().name, "mobile");
        for (auto& [k, v] : model->context().shared_memory_usage()) all[k] = std::max(all[k], v);
    }
    ASSERT_FALSE(all.empty());
    for (auto& [k, v] : all) {
        std::printf("fixture pipelines under mobile: %-28s %6llu B\n", k.c_str(), (unsigned long long)v);
        EXPECT_LE(v, kMobileSharedMemory) << k;
    }
}

// mobile-split: the v1 fixtures' embeddings exceed the 512 KiB binding range, so they are split into
// several bindings; the logits equal those of the unsplit model.
TEST_F(Limits, MobileSplitReallySplitsAndGivesTheSameLogits) {
    const std::string dir = fixtures_dir() + "/v1-tiny-untied/f32";
    const std::vector<int32_t> ids = {5, 17, 3, 99, 250, 1, 42, 7, 300, 12};
    auto run = [&](const char* profile, uint64_t* splits) {
        ScopedEnv env("VKCONVGPT_LIMITS", profile);
        ModelOptions o;
        o.validation = true;
        o.pipeline_cache_path = "";
        o.weight_type = WeightType::f32;
        auto model = Model::load(dir, o);
        auto seq = model->new_sequence(64);
        std::vector<float> logits((size_t)ids.size() * model->vocab_size());
        seq->prefill(ids.data(), (int)ids.size(), Logits::all, logits.data());
        *splits = model->context().split_bindings();
        return logits;
    };
    uint64_t split_none = 0, split_mobile = 0;
    auto ref = run("none", &split_none);
    auto got = run("mobile-split", &split_mobile);
    EXPECT_EQ(split_none, 0u);
    EXPECT_GT(split_mobile, 0u) << "mobile-split should split the 1.6 MB embedding over several bindings";
    EXPECT_LE(rel_error(got, ref), 1e-5);
}
