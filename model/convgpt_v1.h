// ConvGPT v1 (model_type "convgpt"): weights as plain structs with their shapes, and the dispatch
// sequence of one forward. Semantics: ../shared/spec/convgpt-v1.md.
#pragma once
#include <vector>

#include "model/kernels/kernel.h"

namespace vkc {

struct V1LayerWeights {
    BufferRef norm1, norm2;   // [td]
    WeightTensor qkv;         // [(nh + 2 nkv) * hd, td]: q_proj | k_proj | v_proj stacked at load
    BufferRef q_norm, k_norm; // [hd]
    WeightTensor o;           // [td, nh * hd]
    WeightTensor gate_up;     // [2 I, td]: gate_proj | up_proj stacked
    WeightTensor down;        // [td, I]
};

struct V1Weights {
    WeightTensor embed;       // [V, H]; also the tied head. Split by rows past maxStorageBufferRange
    BufferRef conv;           // [e, e, 1, k]
    BufferRef norm_emb_g;     // [1] ScaleNorm gain
    std::vector<V1LayerWeights> layers;
    WeightTensor su_gate_up;  // tied: [8 H, td] scale_up gate | up
    WeightTensor su_down;     // tied: [H, 4 H]
    BufferRef norm;           // tied: [H] (after scale_up); untied: [td]
    WeightTensor lm_head;     // untied: [V, td]
};

} // namespace vkc
