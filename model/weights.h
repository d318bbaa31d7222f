// Loads checkpoint tensors into ONE weight arena: plan every tensor (fusing matrices that are used
// together, e.g. q|k|v, splitting rows where a tensor exceeds maxStorageBufferRange), allocate once,
// then convert (F32/F16/BF16 -> f32 or f16, or quantize to Q8_0 / Q4_0 and repack, model/quant.h) straight
// into mapped memory or through the staging ring. Pre-quantized GGUF matrices of the requested type are
// repacked without re-quantizing; any other combination goes through f32.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/kernels/kernel.h"
#include "model/safetensors.h"
#include "runtime/memory.h"

namespace vkc {

using ProgressFn = std::function<bool(float fraction)>; // return false to cancel

// The checkpoint of a model directory: model.gguf (model/gguf.h; from `vkconvgpt-run quantize`) or
// model.safetensors / its sharded index. Both present is ambiguous: Error(invalid_model).
TensorStore open_weights(const std::string& dir);

class WeightLoader {
public:
    WeightLoader(Context& ctx, const TensorStore& store, Arena& arena);

    // Matrix [sum of rows, cols] made of the named tensors stacked by rows (each [r_i, cols], or any
    // shape whose trailing dims multiply to cols). `out` is filled in by upload().
    void matrix(WeightTensor* out, const std::vector<std::string>& names, int64_t cols, WeightType type);
    // A float vector (norm weights, conv kernels, biases): always f32.
    void vector(BufferRef* out, const std::string& name);

    // Allocates the arena and uploads every planned tensor. Throws Error(cancelled) if progress says so.
    void upload(const ProgressFn& progress = nullptr);
    uint64_t bytes_planned() const { return planned_; }

private:
    struct Mat {
        WeightTensor* out;
        std::vector<const TensorView*> srcs;
        int64_t rows, cols;
        WeightType type;
        std::vector<int> slots;
    };
    struct Vec {
        BufferRef* out;
        const TensorView* src;
        int slot;
    };
    Context& ctx_;
    const TensorStore& store_;
    Arena& arena_;
    std::vector<Mat> mats_;
    std::vector<Vec> vecs_;
    uint64_t planned_ = 0;
};

} // namespace vkc
