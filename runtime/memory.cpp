#include "runtime/memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace vkc {

BufferRef BufferRef::sub(VkDeviceSize off, VkDeviceSize sz) const {
    if (off + sz > size) fail(Status::internal, "BufferRef::sub out of range");
    BufferRef r = *this;
    r.offset += off;
    r.size = sz;
    if (mapped) r.mapped = mapped + off;
    return r;
}

namespace {
uint32_t find_memory_type(const Context& ctx, uint32_t type_bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags avoid) {
    const auto& mp = ctx.memory_properties();
    for (uint32_t i = 0; i < mp.memoryTypeCount; ++i) {
        auto fl = mp.memoryTypes[i].propertyFlags;
        if ((type_bits & (1u << i)) && (fl & want) == want && !(fl & avoid)) return i;
    }
    return UINT32_MAX;
}

constexpr VkDeviceSize kMaxBlock = VkDeviceSize(1) << 30;
} // namespace

Arena::Arena(Context& ctx, MemoryKind kind, std::string name) : ctx_(ctx), kind_(kind), name_(std::move(name)) {}

Arena::~Arena() {
    VkDevice dev = ctx_.device();
    for (auto& b : blocks_) {
        if (b.buffer) vkDestroyBuffer(dev, b.buffer, nullptr);
        if (b.mapped) vkUnmapMemory(dev, b.memory);
        if (b.memory) vkFreeMemory(dev, b.memory, nullptr);
    }
    if (kind_ == MemoryKind::device) ctx_.note_device_bytes(-(int64_t)counted_);
}

int Arena::reserve(VkDeviceSize size) {
    if (allocated_) fail(Status::internal, "arena '" + name_ + "': reserve after allocate");
    slots_.push_back({-1, 0, std::max<VkDeviceSize>((size + 3) / 4 * 4, 4)});
    return (int)slots_.size() - 1;
}

void Arena::allocate() {
    if (allocated_) return;
    allocated_ = true;
    const VkDeviceSize align = std::max<VkDeviceSize>(ctx_.limits().min_storage_buffer_offset_alignment, 256);
    const VkDeviceSize max_block = std::min<VkDeviceSize>(kMaxBlock, ctx_.limits().max_memory_allocation_size);
    // Pack slots in order into blocks of at most max_block bytes.
    std::vector<VkDeviceSize> block_sizes;
    VkDeviceSize cur = 0;
    for (auto& s : slots_) {
        VkDeviceSize off = (cur + align - 1) / align * align;
        if (block_sizes.empty() || (off + s.size > max_block && cur > 0)) {
            block_sizes.push_back(0);
            off = 0;
        }
        s.block = (int)block_sizes.size() - 1;
        s.offset = off;
        cur = off + s.size;
        block_sizes.back() = cur;
    }
    VkDevice dev = ctx_.device();
    if (kind_ == MemoryKind::device) check_budget(block_sizes);
    const bool want_host = kind_ == MemoryKind::host || ctx_.unified_memory();
    for (VkDeviceSize bsize : block_sizes) {
        Block b;
        b.size = bsize;
        VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
        bi.size = bsize;
        bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
        bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
        vk_check(vkCreateBuffer(dev, &bi, nullptr, &b.buffer), ("vkCreateBuffer (arena '" + name_ + "')").c_str());
        blocks_.push_back(b); // owned from here: the destructor frees it on any later failure
        Block& blk = blocks_.back();
        VkMemoryRequirements req;
        vkGetBufferMemoryRequirements(dev, blk.buffer, &req);
        uint32_t type = UINT32_MAX;
        if (kind_ == MemoryKind::host) {
            type = find_memory_type(ctx_, req.memoryTypeBits,
                                    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 0);
        } else if (want_host) {
            type = find_memory_type(ctx_, req.memoryTypeBits,
                                    VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                        VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 0);
        }
        if (type == UINT32_MAX && kind_ == MemoryKind::device)
            type = find_memory_type(ctx_, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
        if (type == UINT32_MAX)
            fail(Status::unsupported, "arena '" + name_ + "': no suitable memory type");
        VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
        ai.allocationSize = req.size;
        ai.memoryTypeIndex = type;
        VkResult r = ctx_.faults().on_alloc(); // fault injection (tests): fails like the driver would
        if (r == VK_SUCCESS) r = vkAllocateMemory(dev, &ai, nullptr, &blk.memory);
        if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
            fail(Status::out_of_memory, "out of GPU memory allocating " + std::to_string(req.size >> 20) +
                                            " MiB for " + name_ + " (" + vk_result_name(r) + ")");
        vk_check(r, "vkAllocateMemory");
        if (kind_ == MemoryKind::device) {
            ctx_.note_device_bytes((int64_t)req.size);
            counted_ += req.size;
        }
        vk_check(vkBindBufferMemory(dev, blk.buffer, blk.memory, 0), "vkBindBufferMemory");
        auto flags = ctx_.memory_properties().memoryTypes[type].propertyFlags;
        // Device arenas are mapped only on unified-memory devices; elsewhere host access goes through the
        // staging ring even if the type happens to be host-visible (e.g. a small BAR window).
        if ((flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && want_host) {
            void* p = nullptr;
            vk_check(vkMapMemory(dev, blk.memory, 0, VK_WHOLE_SIZE, 0, &p), "vkMapMemory");
            blk.mapped = static_cast<uint8_t*>(p);
        }
        total_ += bsize;
    }
    host_visible_ = !blocks_.empty() && std::all_of(blocks_.begin(), blocks_.end(), [](const Block& b) { return b.mapped; });
}

void Arena::prefault() const {
#ifdef MADV_POPULATE_WRITE
    const uintptr_t page = (uintptr_t)::sysconf(_SC_PAGESIZE);
    for (const Block& b : blocks_) {
        if (!b.mapped || b.size == 0 || page == 0) continue;
        const uintptr_t lo = (uintptr_t)b.mapped & ~(page - 1), hi = (uintptr_t)b.mapped + b.size;
        (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE); // best effort
    }
#endif
}

// A request larger than the device-local memory left (VK_EXT_memory_budget, or a limits profile's
// memory_budget) fails here with both sizes, before any allocation: e.g. a context too long for the
// device, rather than a driver OOM (or an OOM-killer on a phone) halfway through.
void Arena::check_budget(const std::vector<VkDeviceSize>& block_sizes) const {
    uint64_t need = 0;
    for (auto b : block_sizes) need += b;
    const uint64_t avail = ctx_.device_memory_budget();
    if (need <= avail) return;
    auto mib = [](uint64_t b) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / 1048576.0);
        return std::string(buf);
    };
    std::string hint = name_ == "sequence state" ? "; use a shorter context (ctx) or fewer sessions"
                       : name_ == "weights"      ? "; the model does not fit this device"
                       : name_ == "activations"  ? "; use a smaller max_batch"
                                                 : "";
    fail(Status::out_of_memory, "not enough GPU memory for " + name_ + ": needs " + mib(need) + ", " + mib(avail) +
                                    " of device-local memory available" +
                                    (ctx_.profile().memory_budget ? " (limits profile budget " + mib(ctx_.profile().memory_budget) + ")"
                                     : ctx_.features().memory_budget ? " (VK_EXT_memory_budget)"
                                                                     : " (device-local heap size)") +
                                    hint);
}

BufferRef Arena::ref(int slot) const {
    if (!allocated_ || slot < 0 || slot >= (int)slots_.size())
        fail(Status::internal, "arena '" + name_ + "': bad slot");
    const Slot& s = slots_[slot];
    const Block& b = blocks_[s.block];
    BufferRef r;
    r.buffer = b.buffer;
    r.offset = s.offset;
    r.size = s.size;
    r.mapped = b.mapped ? b.mapped + s.offset : nullptr;
    return r;
}

int64_t split_rows(int64_t rows, int64_t row_bytes, uint64_t max_range, int64_t row_multiple) {
    const int64_t per_max = (int64_t)(max_range / (uint64_t)row_bytes);
    if (per_max >= rows) return rows;
    if (per_max <= 0) fail(Status::unsupported, "a tensor row of " + std::to_string(row_bytes) +
                                                    " bytes exceeds maxStorageBufferRange");
    // As few parts as possible, balanced, then rounded up to row_multiple where that still fits.
    const int64_t parts = (rows + per_max - 1) / per_max;
    int64_t per = (rows + parts - 1) / parts;
    int64_t rounded = (per + row_multiple - 1) / row_multiple * row_multiple;
    return rounded <= per_max ? rounded : per;
}

// ---- Uploader ------------------------------------------------------------------------------------

Uploader::Uploader(Context& ctx, VkDeviceSize ring_bytes) : ctx_(ctx), ring_(ctx, MemoryKind::host, "staging ring") {
    if (ctx.unified_memory()) return; // direct writes; no ring needed
    int slot = ring_.reserve(ring_bytes);
    ring_.allocate();
    ring_ref_ = ring_.ref(slot);
    VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pi.queueFamilyIndex = ctx.queue_family();
    vk_check(vkCreateCommandPool(ctx.device(), &pi, nullptr, &pool_), "vkCreateCommandPool");
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    vk_check(vkAllocateCommandBuffers(ctx.device(), &ai, &cmd_), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    vk_check(vkCreateFence(ctx.device(), &fi, nullptr, &fence_), "vkCreateFence");
}

Uploader::~Uploader() {
    if (recording_) {
        try { flush(); } catch (...) {}
    }
    if (fence_) vkDestroyFence(ctx_.device(), fence_, nullptr);
    if (pool_) vkDestroyCommandPool(ctx_.device(), pool_, nullptr);
}

void Uploader::upload(const BufferRef& dst, VkDeviceSize bytes,
                      const std::function<void(uint8_t*, VkDeviceSize, VkDeviceSize)>& fill) {
    if (bytes > dst.size) fail(Status::internal, "upload larger than destination");
    if (dst.mapped) {
        fill(dst.mapped, 0, bytes);
        return;
    }
    VkDeviceSize done = 0;
    while (done < bytes) {
        if (used_ == ring_ref_.size) flush();
        VkDeviceSize n = std::min(bytes - done, ring_ref_.size - used_);
        fill(ring_ref_.mapped + used_, done, n);
        if (!recording_) {
            VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
            bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
            vk_check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
            recording_ = true;
        }
        VkBufferCopy c{ring_ref_.offset + used_, dst.offset + done, n};
        vkCmdCopyBuffer(cmd_, ring_ref_.buffer, dst.buffer, 1, &c);
        used_ = (used_ + n + 255) / 256 * 256;
        if (used_ > ring_ref_.size) used_ = ring_ref_.size;
        done += n;
    }
}

void Uploader::upload(const BufferRef& dst, const void* src, VkDeviceSize bytes) {
    const uint8_t* s = static_cast<const uint8_t*>(src);
    upload(dst, bytes, [s](uint8_t* d, VkDeviceSize off, VkDeviceSize n) { std::memcpy(d, s + off, n); });
}

void Uploader::flush() {
    if (!recording_) { used_ = 0; return; }
    recording_ = false;
    // Make the copies visible to later compute work (later submissions on the same queue).
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0,
                         nullptr, 0, nullptr);
    vk_check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    vk_check(vkResetFences(ctx_.device(), 1, &fence_), "vkResetFences");
    VkResult sr = ctx_.faults().on_submit();
    if (sr == VK_SUCCESS) sr = vkQueueSubmit(ctx_.queue(), 1, &si, fence_);
    vk_check(sr, "vkQueueSubmit (upload)");
    VkResult r = vkWaitForFences(ctx_.device(), 1, &fence_, VK_TRUE, ctx_.submit_timeout_ns());
    if (r == VK_TIMEOUT) fail(Status::vulkan_error, "weight upload did not finish in time (hung device)");
    vk_check(r, "vkWaitForFences (upload)");
    vk_check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
    used_ = 0;
}

void Uploader::finish() { flush(); }

void download(Context& ctx, const BufferRef& src, void* dst, VkDeviceSize bytes) {
    if (src.mapped) {
        std::memcpy(dst, src.mapped, bytes);
        return;
    }
    Arena tmp(ctx, MemoryKind::host, "read-back");
    int slot = tmp.reserve(bytes);
    tmp.allocate();
    BufferRef t = tmp.ref(slot);
    VkCommandPool pool;
    VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pi.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
    pi.queueFamilyIndex = ctx.queue_family();
    vk_check(vkCreateCommandPool(ctx.device(), &pi, nullptr, &pool), "vkCreateCommandPool");
    struct PoolGuard { VkDevice d; VkCommandPool p; ~PoolGuard() { vkDestroyCommandPool(d, p, nullptr); } } guard{ctx.device(), pool};
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkCommandBuffer cmd;
    vk_check(vkAllocateCommandBuffers(ctx.device(), &ai, &cmd), "vkAllocateCommandBuffers");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vk_check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer");
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    VkBufferCopy c{src.offset, t.offset, bytes};
    vkCmdCopyBuffer(cmd, src.buffer, t.buffer, 1, &c);
    mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    vk_check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    VkFence fence;
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    vk_check(vkCreateFence(ctx.device(), &fi, nullptr, &fence), "vkCreateFence");
    struct FenceGuard { VkDevice d; VkFence f; ~FenceGuard() { vkDestroyFence(d, f, nullptr); } } fguard{ctx.device(), fence};
    VkResult sr = ctx.faults().on_submit();
    if (sr == VK_SUCCESS) sr = vkQueueSubmit(ctx.queue(), 1, &si, fence);
    vk_check(sr, "vkQueueSubmit (download)");
    VkResult r = vkWaitForFences(ctx.device(), 1, &fence, VK_TRUE, ctx.submit_timeout_ns());
    if (r == VK_TIMEOUT) fail(Status::vulkan_error, "read-back did not finish in time (hung device)");
    vk_check(r, "vkWaitForFences (download)");
    std::memcpy(dst, t.mapped, bytes);
}

} // namespace vkc
