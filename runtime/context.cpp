#include "runtime/context.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

namespace vkc {

namespace {
std::atomic<uint64_t> g_validation_messages{0};
std::mutex g_validation_mutex;
std::string g_last_validation;

VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                              VkDebugUtilsMessageTypeFlagsEXT,
                                              const VkDebugUtilsMessengerCallbackDataEXT* data, void*) {
    if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) return VK_FALSE;
    g_validation_messages.fetch_add(1);
    std::lock_guard<std::mutex> lock(g_validation_mutex);
    g_last_validation = data && data->pMessage ? data->pMessage : "(no message)";
    std::fprintf(stderr, "[vulkan validation] %s\n", g_last_validation.c_str());
    return VK_FALSE;
}

bool env_flag(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}

int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

const char* type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
    for (auto& e : exts)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}

VkInstance create_instance(bool validation, VkDebugUtilsMessengerEXT* messenger) {
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "vkconvgpt";
    app.pEngineName = "vkconvgpt";
    app.apiVersion = VK_API_VERSION_1_1;

    std::vector<const char*> layers, exts;
    if (validation) {
        uint32_t n = 0;
        vkEnumerateInstanceLayerProperties(&n, nullptr);
        std::vector<VkLayerProperties> props(n);
        vkEnumerateInstanceLayerProperties(&n, props.data());
        bool found = false;
        for (auto& p : props) found |= std::strcmp(p.layerName, "VK_LAYER_KHRONOS_validation") == 0;
        if (!found)
            fail(Status::unsupported, "validation requested but VK_LAYER_KHRONOS_validation is not installed "
                                      "(Debian: vulkan-validationlayers)");
        layers.push_back("VK_LAYER_KHRONOS_validation");
        exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    }
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = (uint32_t)layers.size();
    ci.ppEnabledLayerNames = layers.data();
    ci.enabledExtensionCount = (uint32_t)exts.size();
    ci.ppEnabledExtensionNames = exts.data();
    VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    dbg.pfnUserCallback = debug_callback;
    if (validation) ci.pNext = &dbg; // also catches messages from vkCreate/DestroyInstance
    VkInstance inst = VK_NULL_HANDLE;
    VkResult r = vkCreateInstance(&ci, nullptr, &inst);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        fail(Status::unsupported, "no Vulkan 1.1 driver found (vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER)");
    vk_check(r, "vkCreateInstance");
    if (validation) {
        auto fn = (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(inst, "vkCreateDebugUtilsMessengerEXT");
        if (fn) fn(inst, &dbg, nullptr, messenger);
    }
    return inst;
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance inst) {
    uint32_t n = 0;
    vk_check(vkEnumeratePhysicalDevices(inst, &n, nullptr), "vkEnumeratePhysicalDevices");
    std::vector<VkPhysicalDevice> devs(n);
    vk_check(vkEnumeratePhysicalDevices(inst, &n, devs.data()), "vkEnumeratePhysicalDevices");
    // Only Vulkan 1.1+ devices are usable.
    std::vector<VkPhysicalDevice> ok;
    for (auto d : devs) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(d, &p);
        if (p.apiVersion >= VK_API_VERSION_1_1) ok.push_back(d);
    }
    return ok;
}
} // namespace

const char* vk_result_name(VkResult r) {
    switch (r) {
#define C(x) case x: return #x;
        C(VK_SUCCESS) C(VK_NOT_READY) C(VK_TIMEOUT) C(VK_INCOMPLETE) C(VK_ERROR_OUT_OF_HOST_MEMORY)
        C(VK_ERROR_OUT_OF_DEVICE_MEMORY) C(VK_ERROR_INITIALIZATION_FAILED) C(VK_ERROR_DEVICE_LOST)
        C(VK_ERROR_MEMORY_MAP_FAILED) C(VK_ERROR_LAYER_NOT_PRESENT) C(VK_ERROR_EXTENSION_NOT_PRESENT)
        C(VK_ERROR_FEATURE_NOT_PRESENT) C(VK_ERROR_INCOMPATIBLE_DRIVER) C(VK_ERROR_TOO_MANY_OBJECTS)
        C(VK_ERROR_FORMAT_NOT_SUPPORTED) C(VK_ERROR_FRAGMENTED_POOL) C(VK_ERROR_UNKNOWN)
        C(VK_ERROR_OUT_OF_POOL_MEMORY) C(VK_ERROR_INVALID_EXTERNAL_HANDLE)
#undef C
    default: return "VkResult(?)";
    }
}

void vk_check(VkResult r, const char* what) {
    if (r == VK_SUCCESS) return;
    std::string msg = std::string(what) + " failed: " + vk_result_name(r);
    switch (r) {
    case VK_ERROR_DEVICE_LOST: fail(Status::device_lost, msg + " (the GPU device was lost; reload the model)");
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY: fail(Status::out_of_memory, msg);
    default: fail(Status::vulkan_error, msg);
    }
}

uint64_t validation_message_count() { return g_validation_messages.load(); }
std::string last_validation_message() {
    std::lock_guard<std::mutex> lock(g_validation_mutex);
    return g_last_validation;
}

std::vector<PhysicalDeviceInfo> Context::list_devices() {
    VkDebugUtilsMessengerEXT m = VK_NULL_HANDLE;
    VkInstance inst = create_instance(false, &m);
    std::vector<PhysicalDeviceInfo> out;
    try {
        auto devs = physical_devices(inst);
        for (size_t i = 0; i < devs.size(); ++i) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(devs[i], &p);
            out.push_back({(int)i, p.deviceName, type_name(p.deviceType), p.apiVersion});
        }
    } catch (...) {
        vkDestroyInstance(inst, nullptr);
        throw;
    }
    vkDestroyInstance(inst, nullptr);
    return out;
}

std::unique_ptr<Context> Context::create(const ContextOptions& opts) {
    std::unique_ptr<Context> c(new Context());
    {
        std::string spec = opts.limits_profile;
        if (spec.empty())
            if (const char* e = std::getenv("VKCONVGPT_LIMITS")) spec = e;
        if (spec != "none") c->profile_ = parse_limits_profile(spec);
        std::string faults = opts.faults;
        if (faults.empty())
            if (const char* e = std::getenv("VKCONVGPT_FAULT")) faults = e;
        c->faults_.arm_from_spec(faults);
    }
    const LimitsProfile& prof = c->profile_;
    c->validation_ = opts.validation || env_flag("VKC_VALIDATION");
    c->instance_ = create_instance(c->validation_, &c->messenger_);

    auto devs = physical_devices(c->instance_);
    if (devs.empty()) fail(Status::unsupported, "no Vulkan 1.1 capable device found");
    int index = opts.device_index;
    if (index < 0) {
        if (const char* e = std::getenv("VKCONVGPT_DEVICE")) {
            char* end = nullptr;
            long v = std::strtol(e, &end, 10);
            if (!*e || *end || v < 0) fail(Status::invalid_argument, std::string("VKCONVGPT_DEVICE='") + e + "' is not a device index");
            index = (int)v;
        }
    }
    if (index >= (int)devs.size())
        fail(Status::invalid_argument, "device index " + std::to_string(index) + " out of range: " +
                                           std::to_string(devs.size()) + " Vulkan device(s) found");
    if (index < 0) {
        int best = -1;
        for (size_t i = 0; i < devs.size(); ++i) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(devs[i], &p);
            if (best < 0 || type_rank(p.deviceType) > best) { best = type_rank(p.deviceType); index = (int)i; }
        }
    }
    c->index_ = index;
    c->phys_ = devs[index];
    vkGetPhysicalDeviceProperties(c->phys_, &c->props_);
    vkGetPhysicalDeviceMemoryProperties(c->phys_, &c->mem_props_);

    // Queue: first family with compute.
    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(c->phys_, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qf(nq);
    vkGetPhysicalDeviceQueueFamilyProperties(c->phys_, &nq, qf.data());
    bool found = false;
    for (uint32_t i = 0; i < nq && !found; ++i)
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) { c->queue_family_ = i; found = true; }
    if (!found) fail(Status::unsupported, std::string("device '") + c->props_.deviceName + "' has no compute queue");
    c->limits_.timestamps = qf[c->queue_family_].timestampValidBits > 0;

    // Extensions.
    uint32_t ne = 0;
    vkEnumerateDeviceExtensionProperties(c->phys_, nullptr, &ne, nullptr);
    std::vector<VkExtensionProperties> exts(ne);
    vkEnumerateDeviceExtensionProperties(c->phys_, nullptr, &ne, exts.data());
    std::vector<const char*> enable;
    auto want = [&](const char* name) {
        if (!has_extension(exts, name)) return false;
        enable.push_back(name);
        return true;
    };
    bool ext_f16i8 = want(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    bool ext_8bit = want(VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
    bool ext_sgsc = want(VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    bool ext_dot = opts.allow_int_dot && !prof.no_int_dot && want(VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
    c->features_.memory_budget = want(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    bool ext_driver = want(VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);

    // Probe features (chained query), then enable the subset we use.
    VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDevice8BitStorageFeaturesKHR s8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES_KHR};
    VkPhysicalDeviceShaderFloat16Int8FeaturesKHR f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES_KHR};
    VkPhysicalDeviceSubgroupSizeControlFeaturesEXT sgsc{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT};
    VkPhysicalDeviceShaderIntegerDotProductFeaturesKHR dot{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES_KHR};
    void** tail = &f2.pNext;
    auto chain = [&](void* s) { *tail = s; tail = reinterpret_cast<void**>(&static_cast<VkBaseOutStructure*>(s)->pNext); };
    chain(&s16);
    if (ext_8bit) chain(&s8);
    if (ext_f16i8) chain(&f16);
    if (ext_sgsc) chain(&sgsc);
    if (ext_dot) chain(&dot);
    vkGetPhysicalDeviceFeatures2(c->phys_, &f2);

    VkPhysicalDeviceFeatures2 en{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    en.features.shaderStorageBufferArrayDynamicIndexing = f2.features.shaderStorageBufferArrayDynamicIndexing;
    en.features.shaderInt16 = f2.features.shaderInt16;
    VkPhysicalDevice16BitStorageFeatures en16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    en16.storageBuffer16BitAccess = prof.no_storage16 ? VK_FALSE : s16.storageBuffer16BitAccess;
    VkPhysicalDevice8BitStorageFeaturesKHR en8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES_KHR};
    en8.storageBuffer8BitAccess = ext_8bit && !prof.no_storage8 ? s8.storageBuffer8BitAccess : VK_FALSE;
    VkPhysicalDeviceShaderFloat16Int8FeaturesKHR enf16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES_KHR};
    enf16.shaderFloat16 = ext_f16i8 && opts.allow_fp16_arith && !prof.no_fp16_arith ? f16.shaderFloat16 : VK_FALSE;
    enf16.shaderInt8 = ext_f16i8 ? f16.shaderInt8 : VK_FALSE;
    VkPhysicalDeviceSubgroupSizeControlFeaturesEXT ensg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT};
    ensg.subgroupSizeControl = ext_sgsc ? sgsc.subgroupSizeControl : VK_FALSE;
    ensg.computeFullSubgroups = ext_sgsc ? sgsc.computeFullSubgroups : VK_FALSE;
    VkPhysicalDeviceShaderIntegerDotProductFeaturesKHR endot{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES_KHR};
    endot.shaderIntegerDotProduct = ext_dot ? dot.shaderIntegerDotProduct : VK_FALSE;
    tail = &en.pNext;
    chain(&en16);
    if (ext_8bit) chain(&en8);
    if (ext_f16i8) chain(&enf16);
    if (ext_sgsc) chain(&ensg);
    if (ext_dot) chain(&endot);

    auto& F = c->features_;
    F.storage16 = en16.storageBuffer16BitAccess;
    F.storage8 = en8.storageBuffer8BitAccess;
    F.fp16_arith = enf16.shaderFloat16;
    F.int8_arith = enf16.shaderInt8;
    F.subgroup_size_control = ensg.subgroupSizeControl;
    F.int_dot = endot.shaderIntegerDotProduct;
    F.dynamic_indexing = en.features.shaderStorageBufferArrayDynamicIndexing;

    // Properties: subgroups, limits, driver.
    VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlPropertiesEXT sgp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES_EXT};
    VkPhysicalDeviceDriverPropertiesKHR drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES_KHR};
    tail = &p2.pNext;
    chain(&sg);
    if (ext_sgsc) chain(&sgp);
    if (ext_driver) chain(&drv);
    vkGetPhysicalDeviceProperties2(c->phys_, &p2);
    F.subgroup_size = sg.subgroupSize;
    F.min_subgroup_size = ext_sgsc ? sgp.minSubgroupSize : sg.subgroupSize;
    F.max_subgroup_size = ext_sgsc ? sgp.maxSubgroupSize : sg.subgroupSize;
    F.subgroup_arith = opts.allow_subgroups && !prof.no_subgroup_arith && (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                       (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    c->driver_ = ext_driver ? std::string(drv.driverName) + " " + drv.driverInfo
                            : "driver version " + std::to_string(c->props_.driverVersion);

    auto& L = c->limits_;
    const auto& pl = c->props_.limits;
    L.max_storage_buffer_range = pl.maxStorageBufferRange;
    uint64_t cap = opts.max_storage_buffer_range;
    if (const char* e = std::getenv("VKCONVGPT_MAX_BUFFER_RANGE")) {
        char* end = nullptr;
        unsigned long long v = std::strtoull(e, &end, 10);
        if (!*e || *end || v < 4096)
            fail(Status::invalid_argument, std::string("VKCONVGPT_MAX_BUFFER_RANGE='") + e + "' is not a byte count >= 4096");
        cap = cap ? std::min<uint64_t>(cap, v) : v;
    }
    if (prof.max_storage_buffer_range) cap = cap ? std::min(cap, prof.max_storage_buffer_range) : prof.max_storage_buffer_range;
    if (cap) L.max_storage_buffer_range = std::min<uint64_t>(L.max_storage_buffer_range, cap);
    L.min_storage_buffer_offset_alignment = pl.minStorageBufferOffsetAlignment;
    L.max_shared_memory = pl.maxComputeSharedMemorySize;
    if (prof.max_shared_memory) L.max_shared_memory = std::min(L.max_shared_memory, prof.max_shared_memory);
    if (prof.subgroup_pick) {
        if (!F.subgroup_size_control || !(sgp.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT))
            fail(Status::unsupported, "limits profile '" + prof.name + "': '" + c->props_.deviceName +
                                          "' has no subgroup size control for compute");
        c->profile_.subgroup_size = prof.subgroup_pick == 'n' ? F.min_subgroup_size : F.max_subgroup_size;
    }
    if (prof.subgroup_size) {
        // Every pipeline will require this size (VK_EXT_subgroup_size_control, compute stage).
        const uint32_t n = prof.subgroup_size;
        if (!F.subgroup_size_control || !(sgp.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT) ||
            n < F.min_subgroup_size || n > F.max_subgroup_size)
            fail(Status::unsupported,
                 "limits profile '" + prof.name + "': subgroup size " + std::to_string(n) + " is not supported for compute by '" +
                     c->props_.deviceName + "' (" +
                     (F.subgroup_size_control ? "it supports " + std::to_string(F.min_subgroup_size) + ".." +
                                                    std::to_string(F.max_subgroup_size)
                                              : std::string("no VK_EXT_subgroup_size_control")) + ")");
    }
    L.max_workgroup_invocations = pl.maxComputeWorkGroupInvocations;
    L.max_compute_workgroup_subgroups = ext_sgsc ? sgp.maxComputeWorkgroupSubgroups : 0;
    if (prof.subgroup_size && L.max_compute_workgroup_subgroups) // a required size caps workgroups too
        L.max_workgroup_invocations = std::min<uint64_t>(L.max_workgroup_invocations,
                                                         uint64_t(prof.subgroup_size) * L.max_compute_workgroup_subgroups);
    for (int i = 0; i < 3; ++i) L.max_workgroup_count[i] = pl.maxComputeWorkGroupCount[i];
    L.max_push_constants = pl.maxPushConstantsSize;
    L.max_bound_descriptor_sets = pl.maxBoundDescriptorSets;
    L.max_storage_buffers = std::min(pl.maxPerStageDescriptorStorageBuffers, pl.maxDescriptorSetStorageBuffers);
    L.timestamp_period_ns = pl.timestampPeriod;
    L.timestamps = L.timestamps && pl.timestampComputeAndGraphics;
    VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 p3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    p3.pNext = &m3;
    vkGetPhysicalDeviceProperties2(c->phys_, &p3);
    L.max_memory_allocation_size = m3.maxMemoryAllocationSize;

    for (uint32_t i = 0; i < c->mem_props_.memoryTypeCount; ++i) {
        auto fl = c->mem_props_.memoryTypes[i].propertyFlags;
        if ((fl & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) && (fl & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
            (fl & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) &&
            c->props_.deviceType != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)
            c->unified_ = true; // discrete GPUs' small BAR window is not used for bulk data
    }

    if (opts.force_staging || env_flag("VKCONVGPT_FORCE_STAGING")) c->unified_ = false;
    uint64_t timeout_s = c->props_.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? 3600 : 300;
    if (const char* e = std::getenv("VKCONVGPT_TIMEOUT_S")) {
        char* end = nullptr;
        unsigned long long v = std::strtoull(e, &end, 10);
        if (!*e || *end || v == 0) fail(Status::invalid_argument, std::string("VKCONVGPT_TIMEOUT_S='") + e + "' is not a positive number of seconds");
        timeout_s = v;
    }
    c->timeout_ns_ = timeout_s * 1000000000ull;

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = c->queue_family_;
    qci.queueCount = 1;
    qci.pQueuePriorities = &prio;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.pNext = &en;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = (uint32_t)enable.size();
    dci.ppEnabledExtensionNames = enable.data();
    vk_check(vkCreateDevice(c->phys_, &dci, nullptr, &c->device_), "vkCreateDevice");
    vkGetDeviceQueue(c->device_, c->queue_family_, 0, &c->queue_);
    return c;
}

Context::~Context() {
    if (device_) {
        vkDeviceWaitIdle(device_);
        vkDestroyDevice(device_, nullptr);
    }
    if (messenger_) {
        auto fn = (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT");
        if (fn) fn(instance_, messenger_, nullptr);
    }
    if (instance_) vkDestroyInstance(instance_, nullptr);
}

uint64_t Context::device_memory_budget() const {
    uint64_t best = 0;
    uint64_t cap = UINT64_MAX;
    if (profile_.memory_budget) {
        uint64_t used = device_bytes_.load();
        cap = profile_.memory_budget > used ? profile_.memory_budget - used : 0;
    }
    if (features_.memory_budget) {
        VkPhysicalDeviceMemoryBudgetPropertiesEXT b{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
        VkPhysicalDeviceMemoryProperties2 mp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
        mp.pNext = &b;
        vkGetPhysicalDeviceMemoryProperties2(phys_, &mp);
        for (uint32_t i = 0; i < mem_props_.memoryHeapCount; ++i)
            if (mem_props_.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
                best = std::max<uint64_t>(best, b.heapBudget[i] > b.heapUsage[i] ? b.heapBudget[i] - b.heapUsage[i] : 0);
        return std::min(best, cap);
    }
    for (uint32_t i = 0; i < mem_props_.memoryHeapCount; ++i)
        if (mem_props_.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            best = std::max<uint64_t>(best, mem_props_.memoryHeaps[i].size);
    return std::min(best, cap);
}

void Context::note_shared_memory(const std::string& shader, uint64_t bytes) const {
    std::lock_guard<std::mutex> l(shared_mu_);
    uint64_t& v = shared_usage_[shader];
    v = std::max(v, bytes);
}

std::map<std::string, uint64_t> Context::shared_memory_usage() const {
    std::lock_guard<std::mutex> l(shared_mu_);
    return shared_usage_;
}

std::string Context::describe() const {
    std::ostringstream o;
    auto yn = [](bool b) { return b ? "yes" : "no"; };
    o << "device " << index_ << ": " << props_.deviceName << " (" << type_name(props_.deviceType) << ")\n";
    o << "  api " << VK_API_VERSION_MAJOR(props_.apiVersion) << "." << VK_API_VERSION_MINOR(props_.apiVersion) << "."
      << VK_API_VERSION_PATCH(props_.apiVersion) << ", driver " << driver_ << "\n";
    o << "  features: fp16 arithmetic " << yn(features_.fp16_arith) << ", 16-bit storage " << yn(features_.storage16)
      << ", 8-bit storage " << yn(features_.storage8) << ", subgroup arithmetic " << yn(features_.subgroup_arith)
      << ", subgroup size control " << yn(features_.subgroup_size_control) << ", integer dot product "
      << yn(features_.int_dot) << ", memory budget " << yn(features_.memory_budget) << "\n";
    o << "  subgroup size " << features_.subgroup_size << " (min " << features_.min_subgroup_size << ", max "
      << features_.max_subgroup_size << ")\n";
    o << "  limits: maxStorageBufferRange " << limits_.max_storage_buffer_range << ", shared memory "
      << limits_.max_shared_memory << " B, workgroup invocations " << limits_.max_workgroup_invocations
      << ", push constants " << limits_.max_push_constants << " B, maxMemoryAllocationSize "
      << limits_.max_memory_allocation_size << "\n";
    o << "  memory: " << (unified_ ? "unified (host-visible device-local used directly)" : "discrete (staged uploads)")
      << ", device-local budget " << (device_memory_budget() >> 20) << " MiB\n";
    o << "  limits profile: " << profile_.describe() << "\n";
    o << "  timestamps " << yn(limits_.timestamps) << " (period " << limits_.timestamp_period_ns << " ns)";
    return o.str();
}

} // namespace vkc
