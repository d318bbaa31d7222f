// Kernel layer: what every op family shares. A family = one folder shaders/<family>/ (GLSL + variants
// declared in variants.cmake) + model/kernels/<family>.{h,cpp} (push-constant structs mirrored from
// GLSL, pipeline descriptions, record helpers). Models compose families; families know no model.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "runtime/command.h"
#include "runtime/context.h"
#include "runtime/memory.h"
#include "runtime/pipeline.h"

namespace vkc {

// Weight storage on the GPU. q8_0 / q4_0 are GGUF's block formats (32 weights + one f16 scale d per block:
// w = d * q, q int8 | w = d * (nibble - 8)), repacked per part as [quants of every row][f16 scales, two per
// uint] (model/quant.h); rows are zero-padded to a multiple of 32 columns.
enum class WeightType { f32, f16, q8_0, q4_0 };
inline const char* weight_type_suffix(WeightType t) {
    switch (t) {
    case WeightType::f16: return "f16";
    case WeightType::q8_0: return "q8_0";
    case WeightType::q4_0: return "q4_0";
    default: return "f32";
    }
}
// Bytes per element of the dense types (quantized types: see quant_row_bytes in model/quant.h).
inline size_t weight_type_size(WeightType t) { return t == WeightType::f32 ? 4 : 2; }
inline bool weight_type_quantized(WeightType t) { return t == WeightType::q8_0 || t == WeightType::q4_0; }
// Dense type for tensors that are never quantized (v2 mixer convolutions): f16 for the quantized types.
inline WeightType weight_type_dense(WeightType t) { return weight_type_quantized(t) ? WeightType::f16 : t; }
// "f32" | "f16" | "q8_0" | "q4_0" -> type; false for anything else.
inline bool weight_type_from_name(const std::string& s, WeightType* t) {
    for (WeightType c : {WeightType::f32, WeightType::f16, WeightType::q8_0, WeightType::q4_0})
        if (s == weight_type_suffix(c)) return *t = c, true;
    return false;
}

constexpr int kWeightParts = 4; // WPARTS in shaders/common/types.glsl

// Mirrors SEQ_INFO_FIELDS in shaders/common/types.glsl: per-sequence position, read by kernels from a
// device buffer so a recorded decode command buffer is replayed without re-recording.
struct SeqInfo {
    uint32_t pos;       // absolute position of the first token of the current batch
    uint32_t unused;
    uint32_t pad0, pad1;
};
static_assert(sizeof(SeqInfo) == 16, "SeqInfo mirrors GLSL");

// A weight matrix [rows, cols] (row-major, rows = output features), split by rows into parts that each
// fit one storage-buffer binding. f16 elements are packed two per uint; a row may start mid-uint when
// cols is odd (kernels index by element). Quantized types: cols is the logical width; each part holds
// its rows padded to round_up(cols, 32) (layout in model/quant.h).
struct WeightTensor {
    WeightType type = WeightType::f32;
    int64_t rows = 0, cols = 0;
    int64_t rows_per_part = 0;
    std::vector<BufferRef> parts;
    // Exactly kWeightParts refs (unused ones repeat part 0) for a WPARTS binding array.
    std::vector<BufferRef> bind_parts() const {
        std::vector<BufferRef> r(parts.begin(), parts.end());
        while ((int)r.size() < kWeightParts) r.push_back(parts.at(0));
        return r;
    }
};

// Everything a family needs to create pipelines: the device, the on-disk pipeline cache.
struct KernelEnv {
    Context& ctx;
    PipelineCache& cache;
};

// Push-constant helper: static_assert in each family that sizeof(Push) <= 128.
template <class T>
void dispatch_push(Recorder& rec, const BoundSet& set, const T& push, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1,
                   const char* label = nullptr) {
    static_assert(sizeof(T) <= 128, "push constants are limited to 128 bytes");
    rec.dispatch(set, &push, sizeof(T), gx, gy, gz, label);
}
template <class T>
void dispatch_push(Recorder& rec, const Pipeline& p, const BoundSet& set, const T& push, uint32_t gx, uint32_t gy = 1,
                   uint32_t gz = 1, const char* label = nullptr) {
    static_assert(sizeof(T) <= 128, "push constants are limited to 128 bytes");
    rec.dispatch(p, set, &push, sizeof(T), gx, gy, gz, label);
}

// One pipeline of a family, declared as data: variant name, descriptors per binding, mask of written
// bindings, push-constant size, specialization constants (ids 0..n-1).
inline std::unique_ptr<Pipeline> make_pipeline(KernelEnv& env, std::string shader, std::vector<uint32_t> counts,
                                               uint32_t writes_mask, uint32_t push_size,
                                               std::vector<uint32_t> spec = {}) {
    PipelineDesc d;
    d.shader = std::move(shader);
    d.binding_counts = std::move(counts);
    d.writes_mask = writes_mask;
    d.push_size = push_size;
    d.spec = std::move(spec);
    return std::make_unique<Pipeline>(env.ctx, env.cache, d);
}

// Checks a workgroup size given as a specialization constant: a power of two within max and the device.
inline void check_workgroup_size(KernelEnv& env, const std::string& shader, uint32_t wg, uint32_t max) {
    if (wg == 0 || (wg & (wg - 1)) != 0 || wg > max || wg > env.ctx.limits().max_workgroup_invocations)
        fail(Status::invalid_argument, shader + ": workgroup size must be a power of two <= " + std::to_string(max) +
                                           " that the device supports");
}

inline uint32_t ceil_div(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

} // namespace vkc
