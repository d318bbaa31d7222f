// Emulated device limits ("limits profiles"): make a desktop behave like a small mobile GPU so that
// the code paths phones need (split tensors, small shared memory, no fp16 / 8-bit / int-dot, a fixed
// subgroup size) run in CI on lavapipe. A profile can only lower limits and disable features.
//
// $VKCONVGPT_LIMITS = item[,item...] where an item is
//   - a built-in name: mobile, mobile-split, sg8, sg16, sg32, sg64, sg128 (sgN: any power of two),
//     sgmin / sgmax (the device's smallest / largest compute subgroup size: portable for CI),
//   - key=value: max_storage_buffer_range, max_shared_memory, memory_budget (bytes; K/M/G suffixes),
//     subgroup_size (N), fp16_arith, storage8, storage16, int_dot, subgroup_arith (0 or 1),
//   - a path to a JSON file (contains '/' or ends in .json) holding one flat object with those keys
//     (numbers, or true/false for the feature keys) and an optional "name".
// Later items override earlier ones.
#pragma once
#include <cstdint>
#include <string>

namespace vkc {

struct LimitsProfile {
    std::string name;                      // as given (for `info` and errors); empty: none
    uint64_t max_storage_buffer_range = 0; // 0: keep the device's
    uint32_t max_shared_memory = 0;        // bytes; 0: keep
    uint64_t memory_budget = 0;            // device-local bytes the runtime may use; 0: keep
    uint32_t subgroup_size = 0;            // required subgroup size for every pipeline; 0: driver's choice
    char subgroup_pick = 0;                // 'n' / 'x': the device's min / max size (resolved by Context)
    bool no_fp16_arith = false, no_storage8 = false, no_storage16 = false, no_int_dot = false,
         no_subgroup_arith = false;
    bool active() const { return !name.empty(); }
    std::string describe() const; // one line: "mobile: maxStorageBufferRange 16 MiB, ..."
};

// Parses a profile spec (see above). Throws Error(invalid_argument) naming the bad item.
LimitsProfile parse_limits_profile(const std::string& spec);

// The built-in `mobile` profile's numbers, for tests and documentation.
constexpr uint64_t kMobileBufferRange = 16ull << 20;
constexpr uint32_t kMobileSharedMemory = 16u << 10;
constexpr uint64_t kMobileSplitBufferRange = 512ull << 10; // the v1 fixtures' embeddings split (2-4 parts)

} // namespace vkc
