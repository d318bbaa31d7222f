// Memory arenas: a few large VkDeviceMemory blocks, each with one VkBuffer over all of it, sub-allocated
// by offset. Models use one weight arena, one activation arena (reused across layers) and one state
// arena per sequence; uploads go straight into mapped memory on unified-memory devices, else through a
// staging ring.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/context.h"

namespace vkc {

// A range of a VkBuffer, bindable as one storage-buffer descriptor (size <= maxStorageBufferRange).
struct BufferRef {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceSize offset = 0;
    VkDeviceSize size = 0;
    uint8_t* mapped = nullptr; // host pointer when the arena is host-visible
    bool valid() const { return buffer != VK_NULL_HANDLE; }
    BufferRef sub(VkDeviceSize off, VkDeviceSize sz) const;
};

enum class MemoryKind {
    device,       // device-local; host-visible too where the device has unified memory
    host,         // host-visible, coherent (staging, read-back, small per-step inputs)
};

class Arena {
public:
    Arena(Context& ctx, MemoryKind kind, std::string name);
    ~Arena();
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;

    // Phase 1: reserve ranges (returns a slot id). Phase 2: allocate(). Phase 3: ref(slot).
    int reserve(VkDeviceSize size);
    void allocate();
    BufferRef ref(int slot) const;
    int slots() const { return (int)slots_.size(); }
    VkDeviceSize bytes() const { return total_; }
    bool host_visible() const { return host_visible_; }
    // Mapped arenas (unified memory): asks the OS to back every page now (Linux MADV_POPULATE_WRITE), so
    // a bulk upload does not fault page by page; a no-op where unsupported or not mapped.
    void prefault() const;
    const std::string& name() const { return name_; }

private:
    struct Block {
        VkDeviceMemory memory = VK_NULL_HANDLE;
        VkBuffer buffer = VK_NULL_HANDLE;
        VkDeviceSize size = 0;
        uint8_t* mapped = nullptr;
    };
    struct Slot { int block; VkDeviceSize offset, size; };
    void check_budget(const std::vector<VkDeviceSize>& block_sizes) const;
    Context& ctx_;
    MemoryKind kind_;
    std::string name_;
    std::vector<Block> blocks_;
    std::vector<Slot> slots_;
    VkDeviceSize total_ = 0;
    bool allocated_ = false;
    bool host_visible_ = false;
    VkDeviceSize counted_ = 0; // bytes reported to Context::note_device_bytes
};

// Rows per part so that each part of a [rows, row_bytes] tensor fits one binding; rows_per_part is a
// multiple of row_multiple where the range allows (so a workgroup's tile rarely straddles two parts;
// kernels handle it anyway). Returns rows when one part fits.
int64_t split_rows(int64_t rows, int64_t row_bytes, uint64_t max_range, int64_t row_multiple);

// Copies host data into BufferRefs of device arenas: memcpy when mapped, else via a staging ring of
// `ring_bytes` with vkCmdCopyBuffer, flushing (submit + wait) whenever the ring fills and at finish().
class Uploader {
public:
    Uploader(Context& ctx, VkDeviceSize ring_bytes = 32u << 20);
    ~Uploader();
    // `fill(dst, n)` writes n bytes of the source; called possibly in several pieces (dst offset ascending).
    void upload(const BufferRef& dst, VkDeviceSize bytes,
                const std::function<void(uint8_t* dst, VkDeviceSize offset, VkDeviceSize n)>& fill);
    void upload(const BufferRef& dst, const void* src, VkDeviceSize bytes);
    void finish();

private:
    void flush();
    Context& ctx_;
    Arena ring_;
    BufferRef ring_ref_;
    VkDeviceSize used_ = 0;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    bool recording_ = false;
};

// Reads device data back to the host (through a host arena when not mapped).
void download(Context& ctx, const BufferRef& src, void* dst, VkDeviceSize bytes);

} // namespace vkc
