// Vulkan instance + device: selection, feature probing with fallbacks, one compute queue.
// Knows nothing about models.
#pragma once
#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/fault.h"
#include "runtime/limits.h"
#include "runtime/status.h"

namespace vkc {

// Turns a VkResult into vkc::Error (device_lost / out_of_memory / vulkan_error) naming the call.
void vk_check(VkResult r, const char* what);
const char* vk_result_name(VkResult r);

struct ContextOptions {
    int device_index = -1;          // -1: $VKCONVGPT_DEVICE, else best GPU (discrete > integrated > virtual > cpu)
    bool validation = false;        // also on when $VKC_VALIDATION=1; fails if the layer is missing
    bool allow_fp16_arith = true;   // use shaderFloat16 where present
    bool allow_subgroups = true;
    bool allow_int_dot = true;
    // Emulates a smaller maxStorageBufferRange (bytes; 0 = the device's), also $VKCONVGPT_MAX_BUFFER_RANGE:
    // exercises tensor splitting on desktops as it happens on phones.
    uint64_t max_storage_buffer_range = 0;
    // Treat the device as discrete even where it has unified memory (also $VKCONVGPT_FORCE_STAGING=1):
    // weights then go through the staging ring, as on a desktop GPU.
    bool force_staging = false;
    // Emulated limits profile (runtime/limits.h); empty: $VKCONVGPT_LIMITS, "none": no profile.
    std::string limits_profile;
    // Fault injection spec (runtime/fault.h); empty: $VKCONVGPT_FAULT.
    std::string faults;
};

// What the device can do, after fallbacks (a feature is true only if present and enabled).
struct DeviceFeatures {
    bool fp16_arith = false;        // shaderFloat16
    bool storage16 = false;         // storageBuffer16BitAccess
    bool storage8 = false;          // storageBuffer8BitAccess
    bool int8_arith = false;        // shaderInt8
    bool subgroup_arith = false;    // subgroup arithmetic ops in compute
    bool subgroup_size_control = false;
    bool int_dot = false;           // VK_KHR_shader_integer_dot_product
    bool memory_budget = false;     // VK_EXT_memory_budget
    bool dynamic_indexing = false;  // shaderStorageBufferArrayDynamicIndexing (split tensors)
    uint32_t subgroup_size = 0, min_subgroup_size = 0, max_subgroup_size = 0;
};

struct DeviceLimits {
    uint64_t max_storage_buffer_range = 0;
    uint64_t min_storage_buffer_offset_alignment = 0;
    uint64_t max_memory_allocation_size = 0;
    uint32_t max_shared_memory = 0;
    uint32_t max_workgroup_invocations = 0;
    uint32_t max_compute_workgroup_subgroups = 0; // VK_EXT_subgroup_size_control (0: unknown)
    uint32_t max_workgroup_count[3] = {0, 0, 0};
    uint32_t max_push_constants = 0;
    uint32_t max_bound_descriptor_sets = 0;
    // min(maxPerStageDescriptorStorageBuffers, maxDescriptorSetStorageBuffers): storage buffers one
    // compute pipeline may bind (Vulkan guarantees 4; the decode_batch kernels need 34)
    uint32_t max_storage_buffers = 0;
    float timestamp_period_ns = 0;
    bool timestamps = false;
};

struct PhysicalDeviceInfo {
    int index;
    std::string name;
    std::string type; // "discrete", "integrated", "virtual", "cpu", "other"
    uint32_t api_version;
};

class Context {
public:
    static std::unique_ptr<Context> create(const ContextOptions& opts = {});
    static std::vector<PhysicalDeviceInfo> list_devices();
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    VkInstance instance() const { return instance_; }
    VkPhysicalDevice physical_device() const { return phys_; }
    VkDevice device() const { return device_; }
    VkQueue queue() const { return queue_; }
    uint32_t queue_family() const { return queue_family_; }
    const VkPhysicalDeviceProperties& properties() const { return props_; }
    const VkPhysicalDeviceMemoryProperties& memory_properties() const { return mem_props_; }
    const DeviceFeatures& features() const { return features_; }
    const DeviceLimits& limits() const { return limits_; }
    std::string device_name() const { return props_.deviceName; }
    std::string driver_info() const { return driver_; }
    int device_index() const { return index_; }
    bool unified_memory() const { return unified_; } // a DEVICE_LOCAL|HOST_VISIBLE type exists
    bool validation_enabled() const { return validation_; }
    // How long a submission may run before it counts as hung: $VKCONVGPT_TIMEOUT_S, else 300 s on GPUs and
    // 3600 s on CPU drivers (a long prefill on lavapipe is slow, not hung).
    uint64_t submit_timeout_ns() const { return timeout_ns_; }
    // Device-local bytes still available: VK_EXT_memory_budget (budget - usage) where present, else the
    // heap size; a limits profile's memory_budget caps it (minus what this Context's arenas hold).
    uint64_t device_memory_budget() const;
    // The active limits profile (inactive when none) and this Context's fault injector.
    const LimitsProfile& profile() const { return profile_; }
    FaultInjector& faults() const { return faults_; }
    // Device-arena bytes allocated through this Context (runtime/memory.cpp keeps it current).
    void note_device_bytes(int64_t delta) const { device_bytes_ += (uint64_t)delta; }
    uint64_t device_bytes() const { return device_bytes_.load(); }
    // Largest workgroup-memory use seen per shader variant (pipeline creation records it), for `info`
    // and the shared-memory audit; and how many split (multi-part) bindings were bound.
    void note_shared_memory(const std::string& shader, uint64_t bytes) const;
    std::map<std::string, uint64_t> shared_memory_usage() const;
    void note_split_binding() const { split_bindings_ += 1; }
    // Pipeline creation cost (vkCreateComputePipelines wall time, count), for `bench --startup`.
    void note_pipeline_created(uint64_t ns) const { pipeline_ns_ += ns; pipelines_ += 1; }
    uint64_t pipeline_create_ns() const { return pipeline_ns_.load(); }
    uint64_t pipelines_created() const { return pipelines_.load(); }
    uint64_t split_bindings() const { return split_bindings_.load(); }
    // Human-readable summary for `vkconvgpt-run info`.
    std::string describe() const;

private:
    Context() = default;
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    VkPhysicalDevice phys_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    uint32_t queue_family_ = 0;
    VkPhysicalDeviceProperties props_{};
    VkPhysicalDeviceMemoryProperties mem_props_{};
    DeviceFeatures features_;
    DeviceLimits limits_;
    std::string driver_;
    int index_ = -1;
    bool unified_ = false;
    bool validation_ = false;
    uint64_t timeout_ns_ = 0;
    LimitsProfile profile_;
    mutable FaultInjector faults_;
    mutable std::atomic<uint64_t> device_bytes_{0}, split_bindings_{0}, pipeline_ns_{0}, pipelines_{0};
    mutable std::mutex shared_mu_;
    mutable std::map<std::string, uint64_t> shared_usage_;
};

// Validation-layer messages (warnings and errors) seen by any Context since process start.
// Tests fail when this is non-zero.
uint64_t validation_message_count();
std::string last_validation_message();

} // namespace vkc
