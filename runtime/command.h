// Command recording with automatic barriers, submission with bounded waits, GPU timestamps.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/context.h"
#include "runtime/pipeline.h"

namespace vkc {

// One primary command buffer with its pool and fence. Records are counted so that tests can prove a
// buffer recorded once is replayed (decode) rather than re-recorded.
class CommandBuffer {
public:
    explicit CommandBuffer(Context& ctx);
    ~CommandBuffer();
    CommandBuffer(const CommandBuffer&) = delete;
    CommandBuffer& operator=(const CommandBuffer&) = delete;

    VkCommandBuffer begin(bool one_time); // resets and begins; counts a recording
    void end();
    void submit();                        // asynchronous; wait() before reusing
    void wait(uint64_t timeout_ns = 0); // 0: the context's submit_timeout_ns()
    void submit_and_wait() { submit(); wait(); }
    bool recorded() const { return recorded_; }
    uint64_t record_count() const { return record_count_; }
    uint64_t submit_count() const { return submit_count_; }
    VkCommandBuffer handle() const { return cmd_; }

private:
    Context& ctx_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    bool recorded_ = false, pending_ = false;
    uint64_t record_count_ = 0, submit_count_ = 0;
};

// GPU timestamps, one query pool; labels name the interval ending at each stamp.
class TimestampQueries {
public:
    TimestampQueries(Context& ctx, uint32_t capacity);
    ~TimestampQueries();
    VkQueryPool pool() const { return pool_; }
    uint32_t capacity() const { return capacity_; }
    // After the submission completed: (label, nanoseconds) for each interval between stamps.
    std::vector<std::pair<std::string, double>> read(const std::vector<std::string>& labels, uint32_t used) const;

private:
    Context& ctx_;
    VkQueryPool pool_ = VK_NULL_HANDLE;
    uint32_t capacity_ = 0;
};

// Records dispatches into a begun command buffer. Tracks ranges written since the last barrier and
// inserts a compute->compute memory barrier only where a dispatch touches one of them (RAW/WAW) or
// writes a range read since the last barrier (WAR). Independent dispatches run without barriers.
class Recorder {
public:
    Recorder(VkCommandBuffer cmd, TimestampQueries* ts = nullptr);
    void dispatch(const BoundSet& set, const void* push, uint32_t push_size, uint32_t gx, uint32_t gy = 1,
                  uint32_t gz = 1, const char* label = nullptr);
    // Same, with another pipeline whose descriptor-set layout has the identical definition (e.g. the
    // matvec and tiled variants of one family share one BoundSet).
    void dispatch(const Pipeline& p, const BoundSet& set, const void* push, uint32_t push_size, uint32_t gx,
                  uint32_t gy = 1, uint32_t gz = 1, const char* label = nullptr);
    void fill(const BufferRef& dst, uint32_t value);       // vkCmdFillBuffer + tracking
    void copy(const BufferRef& src, const BufferRef& dst); // vkCmdCopyBuffer + tracking
    void update(const BufferRef& dst, const void* data, uint32_t bytes); // vkCmdUpdateBuffer (<= 65536 B, x4)
    void barrier();                                        // full compute/transfer barrier
    void host_read_barrier();                              // make results visible to the host
    uint32_t dispatches() const { return dispatches_; }
    uint32_t barriers() const { return barriers_; }
    const std::vector<std::string>& labels() const { return labels_; }
    uint32_t stamps() const { return stamps_; }

private:
    struct Range { VkBuffer b; VkDeviceSize lo, hi; };
    static bool overlaps(const std::vector<Range>& v, const Range& r);
    void before(const std::vector<Range>& reads, const std::vector<Range>& writes);
    VkCommandBuffer cmd_;
    TimestampQueries* ts_;
    std::vector<Range> pending_writes_, pending_reads_;
    std::vector<std::string> labels_;
    uint32_t dispatches_ = 0, barriers_ = 0, stamps_ = 0;
    bool last_was_transfer_ = false;
};

} // namespace vkc
