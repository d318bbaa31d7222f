#include "tests/common/test_env.h"

#include <cmath>
#include <cstdlib>
#include <memory>

namespace vkc::test {

namespace {
std::unique_ptr<Context> g_ctx;
std::unique_ptr<PipelineCache> g_cache;
uint64_t g_allowed = 0;

// Fails the run if any validation message was seen, also outside VkTest fixtures.
class ValidationEnvironment : public ::testing::Environment {
public:
    void TearDown() override {
        g_cache.reset();
        g_ctx.reset(); // destruction itself may report leaks through the layer
        EXPECT_EQ(validation_message_count(), g_allowed) << "validation layer reported: " << last_validation_message();
    }
};
const auto* g_env = ::testing::AddGlobalTestEnvironment(new ValidationEnvironment);
} // namespace

Context& ctx() {
    if (!g_ctx) {
        ContextOptions o;
        o.validation = true;
        g_ctx = Context::create(o);
    }
    return *g_ctx;
}

PipelineCache& cache() {
    if (!g_cache) g_cache = std::make_unique<PipelineCache>(ctx(), "");
    return *g_cache;
}

std::string fixtures_dir() {
    if (const char* e = std::getenv("VKC_FIXTURES")) return e;
    return VKC_FIXTURES_DIR;
}

void allow_validation_messages(uint64_t n) { g_allowed += n; }

void VkTest::SetUp() {
    ctx();
    messages_at_start_ = validation_message_count();
}

void VkTest::TearDown() {
    EXPECT_EQ(validation_message_count(), messages_at_start_ + allowed_in_test_)
        << "validation layer reported: " << last_validation_message();
}

std::vector<float> random_vec(size_t n, uint32_t seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    double m = 0, e = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        m = std::max(m, (double)std::fabs(b[i]));
        e = std::max(e, (double)std::fabs((double)a[i] - b[i]));
        if (std::isnan(a[i])) return INFINITY;
    }
    return m > 0 ? e / m : e;
}

} // namespace vkc::test
