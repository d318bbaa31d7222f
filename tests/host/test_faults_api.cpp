// Resource failures through the C API, with fault injection (runtime/fault.h) in the runtime's
// allocation and submission paths. Every case must end in a clear status + vkc_last_error() and a
// usable process: the next load / session / generation succeeds and gives the fixture's greedy tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "host/src/api_internal.h"
#include "tests/host/api_test_util.h"

using namespace vkc;
using namespace vkc::api_test;

namespace {

const std::vector<int32_t> kPrompt = {168, 488, 80, 205, 336, 27, 40, 423};
const std::vector<int32_t> kGreedy = {147, 49, 17, 139, 319, 80, 110, 332}; // tests/CMakeLists.txt c_api_example

std::string tied() { return fixture("v1-tiny-tied/f32"); }

FaultInjector& faults_of(vkc_model* m) { return m->s->model->context().faults(); }

// Prompt, then n greedy tokens through the replayed decode step; stops at the first error.
vkc_status greedy(vkc_session* s, int n, std::vector<int32_t>* out) {
    std::vector<float> logits(s->logits.size());
    out->clear();
    vkc_status st = vkc_session_eval(s, kPrompt.data(), (int32_t)kPrompt.size(), logits.data());
    for (int i = 0; st == VKC_OK && i < n; ++i) {
        int32_t id = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
        out->push_back(id);
        if (i + 1 < n) st = vkc_session_eval(s, &id, 1, logits.data());
    }
    return st;
}

struct ScopedEnv {
    std::string name;
    ScopedEnv(const char* n, const std::string& v) : name(n) { setenv(n, v.c_str(), 1); }
    ~ScopedEnv() { unsetenv(name.c_str()); }
};

void expect_works(vkc_model* m) {
    vkc_session* s = session(m);
    ASSERT_NE(s, nullptr);
    std::vector<int32_t> got;
    EXPECT_EQ(greedy(s, (int)kGreedy.size(), &got), VKC_OK) << vkc_last_error();
    EXPECT_EQ(got, kGreedy);
    vkc_session_free(s);
}

} // namespace

TEST(FaultsApi, OutOfMemoryAtWeightUploadThenTheNextLoadSucceeds) {
    vkc_model_params p = test_params();
    vkc_model* m = nullptr;
    {
        ScopedEnv env("VKCONVGPT_FAULT", "alloc:1"); // the model's first device allocation: the weights
        EXPECT_EQ(vkc_model_load(tied().c_str(), &p, &m), VKC_OUT_OF_MEMORY);
        EXPECT_EQ(m, nullptr);
        EXPECT_TRUE(contains(vkc_last_error(), "out of GPU memory allocating")) << vkc_last_error();
        EXPECT_TRUE(contains(vkc_last_error(), "weights")) << vkc_last_error();
    }
    ASSERT_EQ(vkc_model_load(tied().c_str(), &p, &m), VKC_OK) << vkc_last_error();
    expect_works(m);
    vkc_model_free(m);
}

TEST(FaultsApi, FailedUploadSubmissionThenTheNextLoadSucceeds) {
    // Staged uploads (as on a discrete GPU): the upload's queue submission fails.
    ScopedEnv staging("VKCONVGPT_FORCE_STAGING", "1");
    vkc_model_params p = test_params();
    vkc_model* m = nullptr;
    {
        ScopedEnv env("VKCONVGPT_FAULT", "submit:1");
        EXPECT_EQ(vkc_model_load(tied().c_str(), &p, &m), VKC_OUT_OF_MEMORY);
        EXPECT_TRUE(contains(vkc_last_error(), "vkQueueSubmit (upload) failed")) << vkc_last_error();
    }
    ASSERT_EQ(vkc_model_load(tied().c_str(), &p, &m), VKC_OK) << vkc_last_error();
    expect_works(m);
    vkc_model_free(m);
}

TEST(FaultsApi, OutOfMemoryAtStateAllocationLeavesTheModelUsable) {
    vkc_model* m = load(tied());
    ASSERT_NE(m, nullptr);
    faults_of(m).arm(FaultKind::alloc, 1); // the session's first device allocation: its state
    vkc_session_params sp = vkc_session_default_params();
    vkc_session* s = nullptr;
    EXPECT_EQ(vkc_session_create(m, &sp, &s), VKC_OUT_OF_MEMORY);
    EXPECT_EQ(s, nullptr);
    EXPECT_TRUE(contains(vkc_last_error(), "out of GPU memory allocating")) << vkc_last_error();
    expect_works(m);
    vkc_model_free(m);
}

TEST(FaultsApi, OutOfMemoryMidGenerationThenResetGeneratesTheSameTokens) {
    vkc_model* m = load(tied());
    ASSERT_NE(m, nullptr);
    vkc_session* s = session(m);
    ASSERT_NE(s, nullptr);
    faults_of(m).arm(FaultKind::submit, 4); // prompt, 2 decode steps, then the 3rd decode fails
    std::vector<int32_t> got;
    EXPECT_EQ(greedy(s, (int)kGreedy.size(), &got), VKC_OUT_OF_MEMORY);
    EXPECT_TRUE(contains(vkc_last_error(), "VK_ERROR_OUT_OF_DEVICE_MEMORY")) << vkc_last_error();
    ASSERT_LT(got.size(), kGreedy.size());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), kGreedy.begin())); // correct up to the failure
    EXPECT_EQ(vkc_session_reset(s), VKC_OK);
    EXPECT_EQ(greedy(s, (int)kGreedy.size(), &got), VKC_OK) << vkc_last_error();
    EXPECT_EQ(got, kGreedy);
    vkc_session_free(s);
    vkc_model_free(m);
}

TEST(FaultsApi, DeviceLostIsReportedAndReloadingRecovers) {
    vkc_model* m = load(tied());
    ASSERT_NE(m, nullptr);
    vkc_session* s = session(m);
    ASSERT_NE(s, nullptr);
    faults_of(m).arm(FaultKind::device_lost, 2);
    std::vector<int32_t> got;
    EXPECT_EQ(greedy(s, (int)kGreedy.size(), &got), VKC_DEVICE_LOST);
    EXPECT_TRUE(contains(vkc_last_error(), "VK_ERROR_DEVICE_LOST")) << vkc_last_error();
    EXPECT_TRUE(contains(vkc_last_error(), "reload the model")) << vkc_last_error();
    // The device stays lost for this model: every later call says so.
    EXPECT_EQ(vkc_session_reset(s), VKC_OK);
    EXPECT_EQ(greedy(s, 2, &got), VKC_DEVICE_LOST);
    vkc_session_free(s);
    vkc_model_free(m);
    // Recovery: free and reload.
    vkc_model* again = load(tied());
    ASSERT_NE(again, nullptr);
    expect_works(again);
    vkc_model_free(again);
}

TEST(FaultsApi, SessionTooLongForTheMemoryBudgetIsAClearError) {
    vkc_model* m = nullptr;
    vkc_model_params p = test_params();
    {
        // A budget that holds the model and a 16-token session but not a 256-token one.
        vkc_model* probe = load(tied());
        ASSERT_NE(probe, nullptr);
        const uint64_t base = probe->s->model->context().device_bytes();
        vkc_session* s = session(probe, 256);
        const uint64_t large = probe->s->model->context().device_bytes() - base;
        vkc_session_free(s);
        s = session(probe, 16);
        const uint64_t small = probe->s->model->context().device_bytes() - base;
        vkc_session_free(s);
        vkc_model_free(probe);
        ASSERT_GT(large, small);
        ScopedEnv env("VKCONVGPT_LIMITS", "memory_budget=" + std::to_string(base + (small + large) / 2));
        ASSERT_EQ(vkc_model_load(tied().c_str(), &p, &m), VKC_OK) << vkc_last_error();
    }
    vkc_session_params sp = vkc_session_default_params();
    sp.n_ctx = 256;
    vkc_session* s = nullptr;
    EXPECT_EQ(vkc_session_create(m, &sp, &s), VKC_OUT_OF_MEMORY);
    EXPECT_TRUE(contains(vkc_last_error(), "not enough GPU memory for sequence state: needs")) << vkc_last_error();
    EXPECT_TRUE(contains(vkc_last_error(), "shorter context")) << vkc_last_error();
    sp.n_ctx = 16;
    EXPECT_EQ(vkc_session_create(m, &sp, &s), VKC_OK) << vkc_last_error();
    vkc_session_free(s);
    vkc_model_free(m);
}
