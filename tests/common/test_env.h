// Shared test environment: one validation-enabled Context per test process, fixture paths, and a
// fixture base class that fails any test during which the Khronos validation layer reported anything.
#pragma once
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "runtime/context.h"
#include "runtime/pipeline.h"

namespace vkc::test {

Context& ctx();              // created on first use with validation on (fails if the layer is missing)
PipelineCache& cache();      // in-memory pipeline cache for ctx()
std::string fixtures_dir();  // $VKC_FIXTURES or the build-time VKC_FIXTURES_DIR

class VkTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override; // EXPECT no new validation messages
    uint64_t messages_at_start_ = 0;
    uint64_t allowed_in_test_ = 0; // set by tests that provoke messages on purpose
};

// Tells the checks that n validation messages are provoked on purpose (the test that proves the layer
// is live).
void allow_validation_messages(uint64_t n);

// Random data helpers (deterministic per seed).
std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f);

// max |a - b| / max |b| (the fixture metric); b is the reference.
double rel_error(const std::vector<float>& a, const std::vector<float>& b);

} // namespace vkc::test
