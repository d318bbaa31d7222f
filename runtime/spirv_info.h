// Minimal SPIR-V reflection: workgroup (shared) memory and workgroup size of a compute shader after
// specialization, so pipeline creation can check them against the device's (or a limits profile's)
// limits and name the kernel that does not fit, instead of a driver crash on a phone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vkc {

struct SpirvInfo {
    bool ok = false;               // false: something the reflector does not model (sizes unknown)
    uint64_t shared_bytes = 0;     // sum of Workgroup-storage variables (natural sizes, no padding)
    uint32_t local_size[3] = {1, 1, 1};
};

// spec: specialization constant values by constant_id (ids 0..n-1), as in PipelineDesc::spec.
SpirvInfo reflect_spirv(const uint32_t* code, size_t words, const std::vector<uint32_t>& spec);

} // namespace vkc
