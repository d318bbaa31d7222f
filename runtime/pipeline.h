// Compute pipelines (created at load time from embedded SPIR-V), a VkPipelineCache persisted on disk,
// and descriptor sets allocated once per recorded dispatch.
#pragma once
#include <vulkan/vulkan.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/context.h"
#include "runtime/memory.h"

namespace vkc {

struct ShaderBlob; // shaders/shader_registry.h

// Runs pipeline creations (vkCreateComputePipelines: the driver's shader compile) on worker threads, so
// a model's pipelines are compiled in parallel at load (phones: 4-8 cores; the VkPipelineCache is
// internally synchronized). Attached to a PipelineCache (set_builder), it makes every Pipeline built
// with that cache finish creating asynchronously: Pipeline::handle() waits for its own, wait() for all.
class PipelineBuilder {
public:
    explicit PipelineBuilder(unsigned threads = 0); // 0: hardware threads, at most 8
    ~PipelineBuilder();                             // finishes the queued jobs
    PipelineBuilder(const PipelineBuilder&) = delete;
    PipelineBuilder& operator=(const PipelineBuilder&) = delete;
    std::shared_future<void> submit(std::function<void()> job);
    void wait(); // every submitted job done; rethrows the first failure (in submission order)

private:
    void work();
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::packaged_task<void()>> queue_;
    std::vector<std::shared_future<void>> submitted_;
    std::vector<std::thread> threads_;
    bool stop_ = false;
};

class PipelineCache {
public:
    // path empty: in-memory only. A missing, foreign or corrupt file is ignored (the driver validates
    // the header; we also check vendor/device/UUID) and rewritten by save().
    PipelineCache(Context& ctx, std::string path);
    ~PipelineCache();
    VkPipelineCache handle() const { return cache_; }
    void save() const; // best effort; failures are reported as Error(io_error)
    bool loaded_from_disk() const { return loaded_; }
    const std::string& path() const { return path_; }
    // Pipelines created with this cache while a builder is set finish creating on its threads.
    void set_builder(PipelineBuilder* b) { builder_ = b; }
    PipelineBuilder* builder() const { return builder_; }
    static std::string default_path(); // $VKCONVGPT_CACHE_DIR or $XDG_CACHE_HOME/vkconvgpt or ~/.cache/vkconvgpt

private:
    Context& ctx_;
    std::string path_;
    VkPipelineCache cache_ = VK_NULL_HANDLE;
    bool loaded_ = false;
    PipelineBuilder* builder_ = nullptr;
};

struct PipelineDesc {
    std::string shader;                    // variant name (shaders/CMakeLists.txt)
    std::vector<uint32_t> binding_counts;  // descriptors per binding: 1, or N for a split tensor
    uint32_t writes_mask = 0;              // bit i: binding i is written (barrier tracking)
    uint32_t push_size = 0;                // bytes, <= 128
    std::vector<uint32_t> spec;            // specialization constants, ids 0..n-1
    uint32_t required_subgroup_size = 0;   // 0: driver's choice (or the limits profile's subgroup size)
    // Workgroup (shared) memory in bytes for these spec constants. 0: computed from the SPIR-V at
    // creation (runtime/spirv_info.h); either way creation fails, naming the kernel, above
    // limits().max_shared_memory. Pipeline::shared_bytes() is the value checked.
    uint32_t shared_bytes = 0;
};

class Pipeline {
public:
    Pipeline(Context& ctx, PipelineCache& cache, const PipelineDesc& desc);
    ~Pipeline();
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;
    VkPipeline handle() const; // waits for an asynchronous creation (rethrows its failure)
    VkPipelineLayout layout() const { return layout_; }
    VkDescriptorSetLayout set_layout() const { return set_layout_; }
    const PipelineDesc& desc() const { return desc_; }
    uint32_t descriptor_count() const;
    uint64_t shared_bytes() const { return shared_bytes_; }
    uint32_t workgroup_size() const { return wg_size_; } // x*y*z after specialization (0: unknown)

private:
    void destroy();
    void check_limits(Context& ctx, const PipelineDesc& desc, const ShaderBlob& blob);
    Context& ctx_;
    PipelineDesc desc_;
    VkShaderModule module_ = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
    std::shared_future<void> created_; // valid when created by a PipelineBuilder
    uint64_t shared_bytes_ = 0;
    uint32_t wg_size_ = 0;
};

// A descriptor set plus the ranges it binds, so the recorder can place barriers.
struct BoundSet {
    const Pipeline* pipeline = nullptr;
    VkDescriptorSet set = VK_NULL_HANDLE;
    std::vector<BufferRef> refs;   // flattened in binding order
    std::vector<bool> written;     // per ref
};

// Descriptor pools that grow in blocks; sets live until the arena dies.
class DescriptorArena {
public:
    explicit DescriptorArena(Context& ctx) : ctx_(ctx) {}
    ~DescriptorArena();
    DescriptorArena(const DescriptorArena&) = delete;
    DescriptorArena& operator=(const DescriptorArena&) = delete;
    // refs: one per descriptor, flattened in binding order (sum of binding_counts).
    BoundSet bind(const Pipeline& p, const std::vector<BufferRef>& refs);
    size_t sets() const { return sets_; }

private:
    void new_pool();
    Context& ctx_;
    std::vector<VkDescriptorPool> pools_;
    uint32_t left_sets_ = 0, left_descs_ = 0;
    size_t sets_ = 0;
};

} // namespace vkc
