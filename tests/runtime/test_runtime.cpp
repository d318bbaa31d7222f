// Runtime layer: device creation, arenas, barriers, pipeline cache, lifetime (create/destroy repeatedly).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>

#include "model/kernels/basic.h"
#include "runtime/command.h"
#include "tests/common/gpu_helpers.h"

using namespace vkc;
using namespace vkc::test;

class Runtime : public VkTest {};

TEST_F(Runtime, DescribesDevice) {
    std::string d = ctx().describe();
    EXPECT_NE(d.find("maxStorageBufferRange"), std::string::npos);
    EXPECT_GT(ctx().limits().max_storage_buffer_range, 0u);
    EXPECT_TRUE(ctx().validation_enabled());
}

TEST_F(Runtime, BadDeviceIndexIsAnError) {
    ContextOptions o;
    o.device_index = 99;
    try {
        Context::create(o);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
    }
}

TEST_F(Runtime, ArenaSlotsAreAlignedAndDisjoint) {
    Arena a(ctx(), MemoryKind::device, "t");
    int s0 = a.reserve(10), s1 = a.reserve(1000), s2 = a.reserve(7);
    a.allocate();
    BufferRef r0 = a.ref(s0), r1 = a.ref(s1), r2 = a.ref(s2);
    EXPECT_EQ(r0.offset % ctx().limits().min_storage_buffer_offset_alignment, 0u);
    EXPECT_GE(r1.offset, r0.offset + r0.size);
    EXPECT_GE(r2.offset, r1.offset + r1.size);
    EXPECT_EQ(r2.size, 8u); // rounded to 4 bytes
}

TEST_F(Runtime, SplitRows) {
    EXPECT_EQ(split_rows(100, 10, 1000, 1), 100);
    EXPECT_EQ(split_rows(100, 10, 999, 8), 56); // 2 balanced parts, rounded up to 8 rows
    EXPECT_EQ(split_rows(100, 10, 50, 8), 5); // fewer rows than the multiple: parts straddle tiles
    EXPECT_THROW(split_rows(10, 2000, 1000, 1), Error);
}

TEST_F(Runtime, UploadDownloadRoundTrip) {
    Arena a(ctx(), MemoryKind::device, "t");
    int s = a.reserve(1 << 20);
    a.allocate();
    std::vector<uint8_t> src(1 << 20), dst(1 << 20);
    for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t(i * 7 + 3);
    {
        Uploader up(ctx(), 64 << 10); // small ring: forces several flushes where staging is used
        up.upload(a.ref(s), src.data(), src.size());
        up.finish();
    }
    download(ctx(), a.ref(s), dst.data(), dst.size());
    EXPECT_EQ(src, dst);
}

TEST_F(Runtime, ReplayedCommandBufferAdvancesPositionOnGpu) {
    Buffers b;
    BufferRef seq = b.zeros(sizeof(SeqInfo));
    AdvanceKernel adv(env());
    BoundSet set = adv.bind(b.sets(), seq);
    CommandBuffer cb(ctx());
    Recorder rec(cb.begin(false));
    adv.record(rec, set, 3);
    rec.host_read_barrier();
    cb.end();
    for (int i = 0; i < 5; ++i) cb.submit_and_wait();
    EXPECT_EQ(b.read<uint32_t>(seq, 1)[0], 15u);
    EXPECT_EQ(cb.record_count(), 1u);
    EXPECT_EQ(cb.submit_count(), 5u);
}

TEST_F(Runtime, BarriersOnlyWhereNeeded) {
    Buffers b;
    BufferRef s1 = b.zeros(16), s2 = b.zeros(16);
    AdvanceKernel adv(env());
    BoundSet a1 = adv.bind(b.sets(), s1), a2 = adv.bind(b.sets(), s2);
    CommandBuffer cb(ctx());
    Recorder rec(cb.begin(true));
    adv.record(rec, a1, 1);
    adv.record(rec, a2, 1); // independent: no barrier
    EXPECT_EQ(rec.barriers(), 0u);
    adv.record(rec, a1, 1); // WAW on s1: barrier
    EXPECT_EQ(rec.barriers(), 1u);
    rec.host_read_barrier();
    cb.end();
    cb.submit_and_wait();
    EXPECT_EQ(b.read<uint32_t>(s1, 1)[0], 2u);
    EXPECT_EQ(b.read<uint32_t>(s2, 1)[0], 1u);
}

// Pipelines made while a PipelineBuilder is attached to the cache finish creating on its threads: they
// record and run like synchronous ones (handle() waits), one destroyed before the builder's wait() is
// safe, and a failed job is rethrown by wait() after every other job has finished.
TEST_F(Runtime, PipelineBuilderCreatesInParallel) {
    PipelineCache c(ctx(), "");
    const uint64_t created0 = ctx().pipelines_created();
    {
        PipelineBuilder builder(2);
        c.set_builder(&builder);
        KernelEnv e{ctx(), c};
        auto dropped = std::make_unique<AdvanceKernel>(e);
        AdvanceKernel adv(e);
        RmsNormKernel norm(e);
        dropped.reset(); // before its creation is known to have finished
        c.set_builder(nullptr);
        builder.wait();
        EXPECT_EQ(ctx().pipelines_created() - created0, 3u);
        Buffers b;
        BufferRef seq = b.zeros(sizeof(SeqInfo));
        BoundSet set = adv.bind(b.sets(), seq);
        run_once([&](Recorder& rec) { adv.record(rec, set, 2); });
        EXPECT_EQ(b.read<uint32_t>(seq, 1)[0], 2u);
    }
    PipelineBuilder builder(2);
    std::atomic<int> done{0};
    builder.submit([&] { ++done; });
    builder.submit([] { fail(Status::internal, "job failed on purpose"); });
    builder.submit([&] { ++done; });
    try {
        builder.wait();
        ADD_FAILURE() << "wait() did not rethrow the failed job";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("on purpose"), std::string::npos) << e.what();
    }
    EXPECT_EQ(done.load(), 2);
    builder.wait(); // nothing left: no rethrow of an already reported failure
}

TEST_F(Runtime, PipelineCachePersistsAndRejectsGarbage) {
    std::string path = ::testing::TempDir() + "/vkc_cache_test/pipelines.bin";
    std::remove(path.c_str());
    {
        PipelineCache c(ctx(), path);
        EXPECT_FALSE(c.loaded_from_disk());
        KernelEnv e{ctx(), c};
        RmsNormKernel k(e);
        c.save();
    }
    {
        PipelineCache c(ctx(), path);
        EXPECT_TRUE(c.loaded_from_disk());
    }
    {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << "garbage that is not a pipeline cache....";
        PipelineCache c(ctx(), path);
        EXPECT_FALSE(c.loaded_from_disk());
    }
}

TEST_F(Runtime, TimestampsMeasureDispatches) {
    if (!ctx().limits().timestamps) GTEST_SKIP() << "device has no timestamps";
    Buffers b;
    BufferRef seq = b.zeros(16);
    AdvanceKernel adv(env());
    BoundSet set = adv.bind(b.sets(), seq);
    TimestampQueries ts(ctx(), 8);
    CommandBuffer cb(ctx());
    Recorder rec(cb.begin(true), &ts);
    adv.record(rec, set, 1);
    adv.record(rec, set, 1);
    cb.end();
    cb.submit_and_wait();
    auto r = ts.read(rec.labels(), rec.stamps());
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].first, "advance");
    EXPECT_GE(r[0].second, 0.0);
}

// The discrete-GPU path: device-local arena written through the staging ring, read back by copy.
TEST(RuntimeStaging, UploadThroughStagingRing) {
    uint64_t before = validation_message_count();
    ContextOptions o;
    o.validation = true;
    o.force_staging = true;
    auto c = Context::create(o);
    ASSERT_FALSE(c->unified_memory());
    {
        Arena a(*c, MemoryKind::device, "t");
        int s = a.reserve(300000);
        a.allocate();
        std::vector<uint8_t> src(300000), dst(300000);
        for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t(i * 13 + 1);
        {
            Uploader up(*c, 64 << 10); // 64 KiB ring: five flushes
            up.upload(a.ref(s), src.data(), src.size());
            up.finish();
        }
        download(*c, a.ref(s), dst.data(), dst.size());
        EXPECT_EQ(src, dst);
    }
    c.reset();
    EXPECT_EQ(validation_message_count(), before) << last_validation_message();
}

// Lifetime: whole contexts with arenas, pipelines and command buffers, created and destroyed repeatedly.
TEST(RuntimeLifetime, CreateDestroyRepeatedly) {
    uint64_t before = validation_message_count();
    for (int i = 0; i < 5; ++i) {
        ContextOptions o;
        o.validation = true;
        auto c = Context::create(o);
        PipelineCache pc(*c, "");
        KernelEnv e{*c, pc};
        AdvanceKernel adv(e);
        Arena a(*c, MemoryKind::device, "t");
        int s = a.reserve(64);
        a.allocate();
        DescriptorArena sets(*c);
        BoundSet set = adv.bind(sets, a.ref(s));
        CommandBuffer cb(*c);
        Recorder rec(cb.begin(true));
        rec.fill(a.ref(s), 0);
        adv.record(rec, set, 2);
        cb.end();
        cb.submit_and_wait();
    }
    // Leaked objects are reported by the validation layer at vkDestroyDevice / vkDestroyInstance.
    EXPECT_EQ(validation_message_count(), before) << last_validation_message();
}

// The validation checks above are only worth something if the layer really reports: provoke one error.
TEST_F(Runtime, ValidationLayerIsLive) {
    uint64_t before = validation_message_count();
    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = 0; // invalid: VUID-VkBufferCreateInfo-size-00912
    bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
    VkBuffer buf = VK_NULL_HANDLE;
    vkCreateBuffer(ctx().device(), &bi, nullptr, &buf);
    if (buf) vkDestroyBuffer(ctx().device(), buf, nullptr);
    uint64_t seen = validation_message_count() - before;
    EXPECT_GE(seen, 1u) << "the validation layer did not report an invalid vkCreateBuffer";
    allowed_in_test_ = seen;
    allow_validation_messages(seen);
}

TEST(RuntimeDevice, EnvironmentSelectsTheDevice) {
    uint64_t before = validation_message_count();
    ::setenv("VKCONVGPT_DEVICE", "99", 1);
    EXPECT_THROW(Context::create(), Error);
    ::setenv("VKCONVGPT_DEVICE", "zero", 1);
    try {
        Context::create();
        ADD_FAILURE() << "a non-numeric VKCONVGPT_DEVICE was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("VKCONVGPT_DEVICE"), std::string::npos) << e.what();
    }
    ::setenv("VKCONVGPT_DEVICE", "0", 1);
    EXPECT_EQ(Context::create()->device_index(), 0);
    ::unsetenv("VKCONVGPT_DEVICE");
    EXPECT_EQ(validation_message_count(), before);
}
