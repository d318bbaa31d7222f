#include "runtime/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sys/stat.h>

#include "runtime/spirv_info.h"
#include "shaders/shader_registry.h"

namespace vkc {

// ---- PipelineCache -------------------------------------------------------------------------------

std::string PipelineCache::default_path() {
    std::string dir;
    if (const char* d = std::getenv("VKCONVGPT_CACHE_DIR")) dir = d;
    else if (const char* x = std::getenv("XDG_CACHE_HOME")) dir = std::string(x) + "/vkconvgpt";
    else if (const char* h = std::getenv("HOME")) dir = std::string(h) + "/.cache/vkconvgpt";
    else return "";
    return dir + "/pipelines.bin";
}

PipelineCache::PipelineCache(Context& ctx, std::string path) : ctx_(ctx), path_(std::move(path)) {
    std::vector<char> blob;
    if (!path_.empty()) {
        std::ifstream in(path_, std::ios::binary);
        if (in) blob.assign(std::istreambuf_iterator<char>(in), {});
    }
    // Header: length, version, vendorID, deviceID, pipelineCacheUUID[16]. Drop a cache from another device.
    const auto& p = ctx.properties();
    bool ok = blob.size() >= 32;
    if (ok) {
        uint32_t h[4];
        std::memcpy(h, blob.data(), 16);
        ok = h[0] >= 32 && h[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE && h[2] == p.vendorID && h[3] == p.deviceID &&
             std::memcmp(blob.data() + 16, p.pipelineCacheUUID, VK_UUID_SIZE) == 0;
    }
    VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    if (ok) {
        ci.initialDataSize = blob.size();
        ci.pInitialData = blob.data();
    }
    VkResult r = vkCreatePipelineCache(ctx.device(), &ci, nullptr, &cache_);
    if (r != VK_SUCCESS && ok) { // corrupt body: start empty
        ci.initialDataSize = 0;
        ci.pInitialData = nullptr;
        r = vkCreatePipelineCache(ctx.device(), &ci, nullptr, &cache_);
        ok = false;
    }
    vk_check(r, "vkCreatePipelineCache");
    loaded_ = ok;
}

PipelineCache::~PipelineCache() {
    if (cache_) vkDestroyPipelineCache(ctx_.device(), cache_, nullptr);
}

void PipelineCache::save() const {
    if (path_.empty()) return;
    size_t n = 0;
    vk_check(vkGetPipelineCacheData(ctx_.device(), cache_, &n, nullptr), "vkGetPipelineCacheData");
    std::vector<char> blob(n);
    vk_check(vkGetPipelineCacheData(ctx_.device(), cache_, &n, blob.data()), "vkGetPipelineCacheData");
    // mkdir -p of the parent, then write-and-rename so a crash never leaves a torn file.
    std::string dir = path_.substr(0, path_.find_last_of('/'));
    for (size_t i = 1; i <= dir.size(); ++i)
        if (i == dir.size() || dir[i] == '/') ::mkdir(dir.substr(0, i).c_str(), 0755);
    std::string tmp = path_ + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(blob.data(), (std::streamsize)n);
        if (!out) fail(Status::io_error, "cannot write pipeline cache " + tmp);
    }
    if (std::rename(tmp.c_str(), path_.c_str()) != 0) fail(Status::io_error, "cannot rename pipeline cache to " + path_);
}

// ---- Pipeline ------------------------------------------------------------------------------------

// Shared memory and workgroup size against the (possibly profile-lowered) limits, before the driver
// sees the shader: a phone driver may crash or silently fail where lavapipe would not.
void Pipeline::check_limits(Context& ctx, const PipelineDesc& desc, const ShaderBlob& blob) {
    SpirvInfo info = reflect_spirv(blob.code, blob.words, desc.spec);
    uint64_t bytes = std::max<uint64_t>(desc.shared_bytes, info.ok ? info.shared_bytes : 0);
    shared_bytes_ = bytes;
    wg_size_ = info.ok ? info.local_size[0] * info.local_size[1] * info.local_size[2] : 0;
    ctx.note_shared_memory(desc.shader, bytes);
    const auto& L = ctx.limits();
    std::string spec;
    for (size_t i = 0; i < desc.spec.size(); ++i) spec += (i ? "," : "") + std::to_string(desc.spec[i]);
    const std::string who = "kernel '" + desc.shader + "' (spec {" + spec + "})";
    if (bytes > L.max_shared_memory)
        fail(Status::unsupported, who + " needs " + std::to_string(bytes) + " bytes of shared memory, more than the " +
                                      std::to_string(L.max_shared_memory) + " bytes this device" +
                                      (ctx.profile().active() ? " (limits profile '" + ctx.profile().name + "')" : "") +
                                      " allows");
    if (wg_size_ > L.max_workgroup_invocations)
        fail(Status::unsupported, who + " has " + std::to_string(wg_size_) + " invocations per workgroup, more than the " +
                                      std::to_string(L.max_workgroup_invocations) + " this device allows");
    const uint32_t sg = desc.required_subgroup_size ? desc.required_subgroup_size : ctx.profile().subgroup_size;
    if (sg && wg_size_ && L.max_compute_workgroup_subgroups &&
        wg_size_ > uint64_t(sg) * L.max_compute_workgroup_subgroups)
        fail(Status::unsupported, who + ": " + std::to_string(wg_size_) + " invocations exceed " +
                                      std::to_string(L.max_compute_workgroup_subgroups) + " subgroups of " +
                                      std::to_string(sg) + " (maxComputeWorkgroupSubgroups)");
}

Pipeline::Pipeline(Context& ctx, PipelineCache& cache, const PipelineDesc& desc) : ctx_(ctx), desc_(desc) {
    const ShaderBlob* blob = find_shader(desc.shader.c_str());
    if (!blob) fail(Status::internal, "no embedded shader variant '" + desc.shader + "'");
    if (desc.push_size > ctx.limits().max_push_constants)
        fail(Status::unsupported, "shader '" + desc.shader + "' needs " + std::to_string(desc.push_size) +
                                      " bytes of push constants");
    check_limits(ctx, desc, *blob);
    VkDevice dev = ctx.device();
    try {
        VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
        mi.codeSize = blob->words * 4;
        mi.pCode = blob->code;
        vk_check(vkCreateShaderModule(dev, &mi, nullptr, &module_), "vkCreateShaderModule");

        std::vector<VkDescriptorSetLayoutBinding> binds;
        for (uint32_t i = 0; i < desc.binding_counts.size(); ++i) {
            VkDescriptorSetLayoutBinding b{};
            b.binding = i;
            b.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            b.descriptorCount = desc.binding_counts[i];
            b.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
            binds.push_back(b);
        }
        VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
        li.bindingCount = (uint32_t)binds.size();
        li.pBindings = binds.data();
        vk_check(vkCreateDescriptorSetLayout(dev, &li, nullptr, &set_layout_), "vkCreateDescriptorSetLayout");

        VkPushConstantRange pr{VK_SHADER_STAGE_COMPUTE_BIT, 0, desc.push_size};
        VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
        pli.setLayoutCount = 1;
        pli.pSetLayouts = &set_layout_;
        pli.pushConstantRangeCount = desc.push_size ? 1 : 0;
        pli.pPushConstantRanges = &pr;
        vk_check(vkCreatePipelineLayout(dev, &pli, nullptr, &layout_), "vkCreatePipelineLayout");

        std::vector<VkSpecializationMapEntry> entries;
        for (uint32_t i = 0; i < desc.spec.size(); ++i) entries.push_back({i, i * 4, 4});
        VkSpecializationInfo si{};
        si.mapEntryCount = (uint32_t)entries.size();
        si.pMapEntries = entries.data();
        si.dataSize = desc.spec.size() * 4;
        si.pData = desc.spec.data();

        VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
        ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
        ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
        ci.stage.module = module_;
        ci.stage.pName = "main";
        ci.stage.pSpecializationInfo = desc.spec.empty() ? nullptr : &si;
        VkPipelineShaderStageRequiredSubgroupSizeCreateInfoEXT rs{
            VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO_EXT};
        const uint32_t sg = desc.required_subgroup_size ? desc.required_subgroup_size : ctx.profile().subgroup_size;
        if (sg && ctx.features().subgroup_size_control) {
            rs.requiredSubgroupSize = sg;
            ci.stage.pNext = &rs;
        }
        ci.layout = layout_;
        // The create call runs here or on the cache's builder: the job owns copies of what ci points to.
        auto create = [this, &ctx, dev, vcache = cache.handle(), ci, si, rs, spec = desc.spec, entries,
                       name = desc.shader]() mutable {
            si.pMapEntries = entries.data();
            si.pData = spec.data();
            if (ci.stage.pSpecializationInfo) ci.stage.pSpecializationInfo = &si;
            if (ci.stage.pNext) ci.stage.pNext = &rs;
            const auto t0 = std::chrono::steady_clock::now();
            VkResult r = vkCreateComputePipelines(dev, vcache, 1, &ci, nullptr, &pipeline_);
            ctx.note_pipeline_created((uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now() - t0).count());
            vk_check(r, ("vkCreateComputePipelines (" + name + ")").c_str());
        };
        if (cache.builder())
            created_ = cache.builder()->submit(std::move(create));
        else
            create();
    } catch (...) {
        destroy();
        throw;
    }
}

Pipeline::~Pipeline() {
    if (created_.valid()) created_.wait(); // the job writes pipeline_
    destroy();
}

VkPipeline Pipeline::handle() const {
    if (created_.valid()) created_.get();
    return pipeline_;
}

PipelineBuilder::PipelineBuilder(unsigned threads) {
    if (threads == 0) threads = std::min(8u, std::max(1u, std::thread::hardware_concurrency()));
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

PipelineBuilder::~PipelineBuilder() {
    {
        std::lock_guard<std::mutex> lock(m_);
        stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join(); // workers drain the queue before they stop
}

std::shared_future<void> PipelineBuilder::submit(std::function<void()> job) {
    std::packaged_task<void()> task(std::move(job));
    std::shared_future<void> f = task.get_future().share();
    {
        std::lock_guard<std::mutex> lock(m_);
        queue_.push_back(std::move(task));
        submitted_.push_back(f);
    }
    cv_.notify_one();
    return f;
}

void PipelineBuilder::wait() {
    std::vector<std::shared_future<void>> all;
    {
        std::lock_guard<std::mutex> lock(m_);
        all.swap(submitted_);
    }
    for (auto& f : all) f.wait();
    for (auto& f : all) f.get(); // the first failure
}

void PipelineBuilder::work() {
    for (;;) {
        std::packaged_task<void()> task;
        {
            std::unique_lock<std::mutex> lock(m_);
            cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return; // stop_ and drained
            task = std::move(queue_.front());
            queue_.pop_front();
        }
        task(); // an exception is stored in the task's future
    }
}

void Pipeline::destroy() {
    VkDevice dev = ctx_.device();
    if (pipeline_) vkDestroyPipeline(dev, pipeline_, nullptr);
    if (layout_) vkDestroyPipelineLayout(dev, layout_, nullptr);
    if (set_layout_) vkDestroyDescriptorSetLayout(dev, set_layout_, nullptr);
    if (module_) vkDestroyShaderModule(dev, module_, nullptr);
    pipeline_ = VK_NULL_HANDLE;
    layout_ = VK_NULL_HANDLE;
    set_layout_ = VK_NULL_HANDLE;
    module_ = VK_NULL_HANDLE;
}

uint32_t Pipeline::descriptor_count() const {
    uint32_t n = 0;
    for (auto c : desc_.binding_counts) n += c;
    return n;
}

// ---- DescriptorArena -----------------------------------------------------------------------------

namespace {
constexpr uint32_t kSetsPerPool = 256, kDescsPerPool = 2048;
}

DescriptorArena::~DescriptorArena() {
    for (auto p : pools_) vkDestroyDescriptorPool(ctx_.device(), p, nullptr);
}

void DescriptorArena::new_pool() {
    VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kDescsPerPool};
    VkDescriptorPoolCreateInfo ci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    ci.maxSets = kSetsPerPool;
    ci.poolSizeCount = 1;
    ci.pPoolSizes = &ps;
    VkDescriptorPool pool;
    vk_check(vkCreateDescriptorPool(ctx_.device(), &ci, nullptr, &pool), "vkCreateDescriptorPool");
    pools_.push_back(pool);
    left_sets_ = kSetsPerPool;
    left_descs_ = kDescsPerPool;
}

BoundSet DescriptorArena::bind(const Pipeline& p, const std::vector<BufferRef>& refs) {
    const auto& counts = p.desc().binding_counts;
    uint32_t n = p.descriptor_count();
    if (refs.size() != n)
        fail(Status::internal, "shader '" + p.desc().shader + "' takes " + std::to_string(n) + " buffers, got " +
                                   std::to_string(refs.size()));
    const uint64_t max_range = ctx_.limits().max_storage_buffer_range;
    for (auto& r : refs) {
        if (!r.valid()) fail(Status::internal, "shader '" + p.desc().shader + "': unbound buffer");
        if (r.size > max_range)
            fail(Status::internal, "shader '" + p.desc().shader + "': binding of " + std::to_string(r.size) +
                                       " bytes exceeds maxStorageBufferRange (split the tensor)");
    }
    if (pools_.empty() || left_sets_ == 0 || left_descs_ < n) new_pool();
    VkDescriptorSetLayout layout = p.set_layout();
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = pools_.back();
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &layout;
    BoundSet b;
    vk_check(vkAllocateDescriptorSets(ctx_.device(), &ai, &b.set), "vkAllocateDescriptorSets");
    left_sets_ -= 1;
    left_descs_ -= n;
    ++sets_;
    std::vector<VkDescriptorBufferInfo> infos(n);
    std::vector<VkWriteDescriptorSet> writes;
    uint32_t k = 0;
    for (uint32_t bi = 0; bi < counts.size(); ++bi) {
        VkWriteDescriptorSet w{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        w.dstSet = b.set;
        w.dstBinding = bi;
        w.descriptorCount = counts[bi];
        w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        w.pBufferInfo = &infos[k];
        for (uint32_t j = 1; j < counts[bi]; ++j) // a tensor really split over several ranges
            if (refs[k + j].buffer != refs[k].buffer || refs[k + j].offset != refs[k].offset) {
                ctx_.note_split_binding();
                break;
            }
        for (uint32_t j = 0; j < counts[bi]; ++j, ++k) {
            infos[k] = {refs[k].buffer, refs[k].offset, refs[k].size};
            b.written.push_back((p.desc().writes_mask >> bi) & 1u);
        }
        writes.push_back(w);
    }
    vkUpdateDescriptorSets(ctx_.device(), (uint32_t)writes.size(), writes.data(), 0, nullptr);
    b.pipeline = &p;
    b.refs = refs;
    return b;
}

} // namespace vkc
