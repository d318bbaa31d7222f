// Fault injection (runtime/fault.h) at the runtime level: an arena allocation or a queue submission
// fails once like a driver would and the next one works; an injected device loss is sticky for its
// Context (a new Context works); the memory-budget check fails a too-large request before allocating,
// naming the sizes (a context too long for the device).
#include <gtest/gtest.h>

#include <cstdlib>

#include "model/model.h"
#include "runtime/command.h"
#include "tests/common/test_env.h"

using namespace vkc;
using namespace vkc::test;

namespace {

class Faults : public VkTest {};

std::string error_of(const std::function<void()>& f, Status* st) {
    try {
        f();
    } catch (const Error& e) {
        *st = e.status();
        return e.what();
    }
    *st = Status::ok;
    return "";
}

bool has(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

// Records a fill of `r` into cb (a real submission of work).
void record_fill(CommandBuffer& cb, const BufferRef& r) {
    Recorder rec(cb.begin(false));
    rec.fill(r, 7);
    rec.host_read_barrier();
    cb.end();
}

struct ScopedEnv {
    std::string name;
    ScopedEnv(const char* n, const std::string& v) : name(n) { setenv(n, v.c_str(), 1); }
    ~ScopedEnv() { unsetenv(name.c_str()); }
};

} // namespace

TEST(FaultSpec, ParsesAndRejects) {
    FaultInjector f;
    f.arm_from_spec("alloc:2,submit:1,device_lost:3");
    EXPECT_EQ(f.on_alloc(), VK_SUCCESS);
    EXPECT_EQ(f.on_alloc(), VK_ERROR_OUT_OF_DEVICE_MEMORY);
    EXPECT_EQ(f.on_alloc(), VK_SUCCESS); // once
    EXPECT_EQ(f.on_submit(), VK_ERROR_OUT_OF_DEVICE_MEMORY);
    EXPECT_EQ(f.on_submit(), VK_SUCCESS);
    EXPECT_EQ(f.on_wait(), VK_SUCCESS);
    EXPECT_EQ(f.on_submit(), VK_ERROR_DEVICE_LOST);
    EXPECT_EQ(f.on_submit(), VK_ERROR_DEVICE_LOST); // sticky
    EXPECT_EQ(f.on_wait(), VK_ERROR_DEVICE_LOST);
    EXPECT_TRUE(f.lost());
    Status st;
    for (const char* bad : {"alloc", "alloc:0", "oom:1", "submit:x"}) {
        std::string e = error_of([&] { FaultInjector g; g.arm_from_spec(bad); }, &st);
        EXPECT_EQ(st, Status::invalid_argument) << bad;
        EXPECT_TRUE(has(e, "VKCONVGPT_FAULT")) << e;
    }
}

TEST_F(Faults, ArenaAllocationFailsOnceWithAClearError) {
    auto c = Context::create();
    c->faults().arm(FaultKind::alloc, 1);
    Status st;
    {
        Arena a(*c, MemoryKind::device, "test weights");
        a.reserve(1 << 20);
        std::string e = error_of([&] { a.allocate(); }, &st);
        EXPECT_EQ(st, Status::out_of_memory);
        EXPECT_TRUE(has(e, "out of GPU memory allocating 1 MiB for test weights")) << e;
    }
    EXPECT_EQ(c->device_bytes(), 0u); // nothing leaked into the accounting
    Arena b(*c, MemoryKind::device, "again");
    b.reserve(1 << 20);
    b.allocate();
    EXPECT_GE(c->device_bytes(), 1u << 20);
}

TEST_F(Faults, SubmissionFailsOnceThenWorks) {
    auto c = Context::create();
    Arena a(*c, MemoryKind::host, "t");
    int s = a.reserve(256);
    a.allocate();
    CommandBuffer cb(*c);
    record_fill(cb, a.ref(s));
    c->faults().arm(FaultKind::submit, 1);
    Status st;
    std::string e = error_of([&] { cb.submit_and_wait(); }, &st);
    EXPECT_EQ(st, Status::out_of_memory);
    EXPECT_TRUE(has(e, "vkQueueSubmit failed: VK_ERROR_OUT_OF_DEVICE_MEMORY")) << e;
    cb.submit_and_wait();
    EXPECT_EQ(*reinterpret_cast<const uint32_t*>(a.ref(s).mapped), 7u);
}

TEST_F(Faults, DeviceLossIsStickyAndANewContextWorks) {
    auto c = Context::create();
    Arena a(*c, MemoryKind::host, "t");
    int s = a.reserve(256);
    a.allocate();
    CommandBuffer cb(*c);
    record_fill(cb, a.ref(s));
    c->faults().arm(FaultKind::device_lost, 1);
    Status st;
    std::string e = error_of([&] { cb.submit_and_wait(); }, &st);
    EXPECT_EQ(st, Status::device_lost);
    EXPECT_TRUE(has(e, "reload the model")) << e;
    error_of([&] { cb.submit_and_wait(); }, &st);
    EXPECT_EQ(st, Status::device_lost);
    EXPECT_TRUE(c->faults().lost());

    auto fresh = Context::create();
    Arena b(*fresh, MemoryKind::host, "t");
    int s2 = b.reserve(256);
    b.allocate();
    CommandBuffer cb2(*fresh);
    record_fill(cb2, b.ref(s2));
    cb2.submit_and_wait();
    EXPECT_EQ(*reinterpret_cast<const uint32_t*>(b.ref(s2).mapped), 7u);
}

TEST_F(Faults, EnvironmentArmsTheContext) {
    ScopedEnv env("VKCONVGPT_FAULT", "alloc:1");
    auto c = Context::create();
    Arena a(*c, MemoryKind::device, "x");
    a.reserve(4096);
    Status st;
    error_of([&] { a.allocate(); }, &st);
    EXPECT_EQ(st, Status::out_of_memory);
}

TEST_F(Faults, BudgetCheckFailsBeforeAllocatingAndNamesSizes) {
    ContextOptions o;
    o.limits_profile = "memory_budget=1M";
    auto c = Context::create(o);
    EXPECT_LE(c->device_memory_budget(), 1u << 20);
    Status st;
    {
        Arena big(*c, MemoryKind::device, "sequence state");
        big.reserve(2 << 20);
        std::string e = error_of([&] { big.allocate(); }, &st);
        EXPECT_EQ(st, Status::out_of_memory);
        EXPECT_TRUE(has(e, "not enough GPU memory for sequence state: needs 2.0 MiB, 1.0 MiB of device-local memory "
                           "available (limits profile budget 1.0 MiB); use a shorter context")) << e;
    }
    EXPECT_EQ(c->faults().allocs(), 0u); // failed before any vkAllocateMemory
    Arena half(*c, MemoryKind::device, "a");
    half.reserve(600 << 10);
    half.allocate();
    Arena more(*c, MemoryKind::device, "b"); // the budget counts what this Context already holds
    more.reserve(600 << 10);
    std::string e = error_of([&] { more.allocate(); }, &st);
    EXPECT_EQ(st, Status::out_of_memory) << e;
}

// A context too long for memory: the sequence's state is compared with the budget before allocation.
TEST_F(Faults, ContextTooLongForMemoryIsAClearErrorAndTheModelStaysUsable) {
    const std::string dir = fixtures_dir() + "/v1-tiny-tied/f32";
    ModelOptions o;
    o.validation = true;
    o.pipeline_cache_path = "";
    uint64_t base = 0, small = 0, large = 0;
    {
        ScopedEnv env("VKCONVGPT_LIMITS", "none");
        auto m = Model::load(dir, o);
        base = m->context().device_bytes();
        { auto s = m->new_sequence(16); small = m->context().device_bytes() - base; }
        { auto s = m->new_sequence(256); large = m->context().device_bytes() - base; }
    }
    ASSERT_GT(large, small);
    const uint64_t budget = base + (small + large) / 2;
    ScopedEnv env("VKCONVGPT_LIMITS", "memory_budget=" + std::to_string(budget));
    auto m = Model::load(dir, o);
    Status st;
    std::string e = error_of([&] { m->new_sequence(256); }, &st);
    EXPECT_EQ(st, Status::out_of_memory);
    EXPECT_TRUE(has(e, "not enough GPU memory for sequence state: needs")) << e;
    EXPECT_TRUE(has(e, "shorter context")) << e;
    auto s = m->new_sequence(16); // still usable
    int32_t id = 3;
    std::vector<float> logits(m->vocab_size());
    s->prefill(&id, 1, Logits::last, logits.data());
    EXPECT_EQ(s->pos(), 1);
}
