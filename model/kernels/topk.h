// Top-K over the vocabulary (GPU-side sampling support): per row of logits [rows, n] the K largest
// (id, value) pairs sorted by value descending, ties -> lower id. K = 1 is argmax.
#pragma once
#include "model/kernels/kernel.h"

namespace vkc {

constexpr uint32_t kTopKMax = 64;                // largest supported K
constexpr uint32_t kTopKInvalid = 0xFFFFFFFFu;   // id of a slot beyond the row's elements (K > n)

// One output element; out is [rows, K] of these (8 bytes each, std430 struct { uint id; float v; }).
struct TopKPair {
    uint32_t id;
    float value;
};
static_assert(sizeof(TopKPair) == 8, "TopKPair mirrors GLSL Pair");

// Mirrors Push in shaders/topk/topk.comp.
struct TopKPush {
    uint32_t rows, n, x_stride; // x [rows, n], row stride in floats
    uint32_t k;                 // 1..kTopKMax
    uint32_t slice_len;         // elements per pass-1 workgroup
    uint32_t n_slices;          // ceil(n / slice_len)
    uint32_t direct;            // 1: pass 1 writes out directly (n_slices == 1)
    uint32_t out_offset;        // pairs of out before row 0's K results
};
static_assert(sizeof(TopKPush) <= 128);

// Two passes sharing one BoundSet (bindings: x, scratch, out):
//   topk_slice: grid (n_slices, rows), each workgroup's local top-K of slice_len elements -> scratch
//   topk_merge: grid (1, rows), merges n_slices * K candidates -> out.
// When n <= slice_len only topk_slice runs, writing out directly (scratch unused but must be bound).
class TopKKernel {
public:
    explicit TopKKernel(KernelEnv& env, uint32_t wg = 128, uint32_t slice_len = 4096);
    uint32_t slice_len() const { return slice_len_; }
    uint32_t n_slices(uint32_t n) const { return ceil_div(n, slice_len_); }
    // Scratch [rows, n_slices, k] pairs (>= 8 bytes so it can always be bound).
    uint64_t scratch_bytes(uint32_t rows, uint32_t n, uint32_t k) const;
    BoundSet bind(DescriptorArena& sets, const BufferRef& x, const BufferRef& scratch, const BufferRef& out) const;
    // Records 1 or 2 dispatches (returned). Validates k in [1, kTopKMax] and n >= 1. Row r's pairs go
    // to out[out_offset + r * k ..] (out must hold them: not checked here).
    uint32_t record(Recorder& rec, const BoundSet& set, uint32_t rows, uint32_t n, uint32_t x_stride,
                    uint32_t k, uint32_t out_offset = 0) const;

private:
    std::unique_ptr<Pipeline> slice_, merge_;
    uint32_t slice_len_;
};

} // namespace vkc
