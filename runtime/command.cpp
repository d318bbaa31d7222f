#include "runtime/command.h"

#include <algorithm>

namespace vkc {

// ---- CommandBuffer -------------------------------------------------------------------------------

CommandBuffer::CommandBuffer(Context& ctx) : ctx_(ctx) {
    VkDevice dev = ctx.device();
    VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pi.queueFamilyIndex = ctx.queue_family();
    vk_check(vkCreateCommandPool(dev, &pi, nullptr, &pool_), "vkCreateCommandPool");
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkResult r = vkAllocateCommandBuffers(dev, &ai, &cmd_);
    if (r == VK_SUCCESS) r = vkCreateFence(dev, &fi, nullptr, &fence_);
    if (r != VK_SUCCESS) {
        if (pool_) vkDestroyCommandPool(dev, pool_, nullptr);
        vk_check(r, "command buffer creation");
    }
}

CommandBuffer::~CommandBuffer() {
    VkDevice dev = ctx_.device();
    if (pending_) vkWaitForFences(dev, 1, &fence_, VK_TRUE, 10ull * 1000000000ull);
    if (fence_) vkDestroyFence(dev, fence_, nullptr);
    if (pool_) vkDestroyCommandPool(dev, pool_, nullptr);
}

VkCommandBuffer CommandBuffer::begin(bool one_time) {
    if (pending_) wait();
    vk_check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = one_time ? VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT : 0;
    vk_check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
    recorded_ = false;
    ++record_count_;
    return cmd_;
}

void CommandBuffer::end() {
    vk_check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
    recorded_ = true;
}

void CommandBuffer::submit() {
    if (!recorded_) fail(Status::internal, "submit of a command buffer that was not recorded");
    if (pending_) wait();
    vk_check(vkResetFences(ctx_.device(), 1, &fence_), "vkResetFences");
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    VkResult r = ctx_.faults().on_submit(); // fault injection (tests): fails like the driver would
    if (r == VK_SUCCESS) r = vkQueueSubmit(ctx_.queue(), 1, &si, fence_);
    vk_check(r, "vkQueueSubmit");
    pending_ = true;
    ++submit_count_;
}

void CommandBuffer::wait(uint64_t timeout_ns) {
    if (!pending_) return;
    if (timeout_ns == 0) timeout_ns = ctx_.submit_timeout_ns();
    VkResult r = vkWaitForFences(ctx_.device(), 1, &fence_, VK_TRUE, timeout_ns);
    if (r == VK_SUCCESS) r = ctx_.faults().on_wait();
    if (r == VK_TIMEOUT)
        fail(Status::vulkan_error, "GPU work did not finish within " + std::to_string(timeout_ns / 1000000000ull) +
                                       " s (hung or far too slow device)");
    pending_ = false;
    vk_check(r, "vkWaitForFences");
}

// ---- TimestampQueries ----------------------------------------------------------------------------

TimestampQueries::TimestampQueries(Context& ctx, uint32_t capacity) : ctx_(ctx), capacity_(capacity) {
    if (!ctx.limits().timestamps) fail(Status::unsupported, "device has no compute timestamps");
    VkQueryPoolCreateInfo ci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    ci.queryType = VK_QUERY_TYPE_TIMESTAMP;
    ci.queryCount = capacity;
    vk_check(vkCreateQueryPool(ctx.device(), &ci, nullptr, &pool_), "vkCreateQueryPool");
}

TimestampQueries::~TimestampQueries() {
    if (pool_) vkDestroyQueryPool(ctx_.device(), pool_, nullptr);
}

std::vector<std::pair<std::string, double>> TimestampQueries::read(const std::vector<std::string>& labels,
                                                                   uint32_t used) const {
    std::vector<std::pair<std::string, double>> out;
    if (used < 2) return out;
    std::vector<uint64_t> t(used);
    vk_check(vkGetQueryPoolResults(ctx_.device(), pool_, 0, used, used * 8, t.data(), 8,
                                   VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
             "vkGetQueryPoolResults");
    const double period = ctx_.limits().timestamp_period_ns;
    for (uint32_t i = 1; i < used; ++i)
        out.emplace_back(i - 1 < labels.size() ? labels[i - 1] : "?", double(t[i] - t[i - 1]) * period);
    return out;
}

// ---- Recorder ------------------------------------------------------------------------------------

Recorder::Recorder(VkCommandBuffer cmd, TimestampQueries* ts) : cmd_(cmd), ts_(ts) {
    if (ts_) {
        vkCmdResetQueryPool(cmd_, ts_->pool(), 0, ts_->capacity());
        vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, ts_->pool(), stamps_++);
    }
}

bool Recorder::overlaps(const std::vector<Range>& v, const Range& r) {
    for (auto& x : v)
        if (x.b == r.b && x.lo < r.hi && r.lo < x.hi) return true;
    return false;
}

void Recorder::before(const std::vector<Range>& reads, const std::vector<Range>& writes) {
    bool need = false;
    for (auto& r : reads) need = need || overlaps(pending_writes_, r);
    for (auto& w : writes) need = need || overlaps(pending_writes_, w) || overlaps(pending_reads_, w);
    if (need) barrier();
    pending_reads_.insert(pending_reads_.end(), reads.begin(), reads.end());
    pending_writes_.insert(pending_writes_.end(), writes.begin(), writes.end());
}

void Recorder::barrier() {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT;
    const VkPipelineStageFlags st = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkCmdPipelineBarrier(cmd_, st, st, 0, 1, &mb, 0, nullptr, 0, nullptr);
    pending_reads_.clear();
    pending_writes_.clear();
    ++barriers_;
}

void Recorder::host_read_barrier() {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void Recorder::dispatch(const BoundSet& set, const void* push, uint32_t push_size, uint32_t gx, uint32_t gy,
                        uint32_t gz, const char* label) {
    dispatch(*set.pipeline, set, push, push_size, gx, gy, gz, label);
}

void Recorder::dispatch(const Pipeline& p, const BoundSet& set, const void* push, uint32_t push_size, uint32_t gx,
                        uint32_t gy, uint32_t gz, const char* label) {
    if (p.desc().binding_counts != set.pipeline->desc().binding_counts)
        fail(Status::internal, "shader '" + p.desc().shader + "': descriptor set bound for an incompatible layout");
    if (push_size != p.desc().push_size)
        fail(Status::internal, "shader '" + p.desc().shader + "': push constant size mismatch");
    if (gx == 0 || gy == 0 || gz == 0) return; // nothing to do (e.g. empty range)
    std::vector<Range> reads, writes;
    for (size_t i = 0; i < set.refs.size(); ++i) {
        Range r{set.refs[i].buffer, set.refs[i].offset, set.refs[i].offset + set.refs[i].size};
        (set.written[i] ? writes : reads).push_back(r);
    }
    before(reads, writes);
    vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.handle());
    vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout(), 0, 1, &set.set, 0, nullptr);
    if (push_size) vkCmdPushConstants(cmd_, p.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
    vkCmdDispatch(cmd_, gx, gy, gz);
    ++dispatches_;
    if (ts_ && stamps_ < ts_->capacity()) {
        vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, ts_->pool(), stamps_++);
        labels_.push_back(label ? label : p.desc().shader);
    }
}

void Recorder::fill(const BufferRef& dst, uint32_t value) {
    before({}, {{dst.buffer, dst.offset, dst.offset + dst.size}});
    vkCmdFillBuffer(cmd_, dst.buffer, dst.offset, dst.size & ~VkDeviceSize(3), value); // arena slots are 4-byte multiples
}

void Recorder::update(const BufferRef& dst, const void* data, uint32_t bytes) {
    if (bytes % 4 || bytes > 65536 || bytes > dst.size) fail(Status::internal, "vkCmdUpdateBuffer size");
    before({}, {{dst.buffer, dst.offset, dst.offset + bytes}});
    vkCmdUpdateBuffer(cmd_, dst.buffer, dst.offset, bytes, data);
}

void Recorder::copy(const BufferRef& src, const BufferRef& dst) {
    VkDeviceSize n = std::min(src.size, dst.size);
    before({{src.buffer, src.offset, src.offset + n}}, {{dst.buffer, dst.offset, dst.offset + n}});
    VkBufferCopy c{src.offset, dst.offset, n};
    vkCmdCopyBuffer(cmd_, src.buffer, dst.buffer, 1, &c);
}

} // namespace vkc
