// ConvGPT-v2 (model_type "convgpt_v2"): weights as plain structs with their shapes.
// Semantics: ../shared/spec/convgpt-v2.md.
#pragma once
#include <vector>

#include "model/kernels/kernel.h"

namespace vkc {

struct V2LayerWeights {
    BufferRef mixer_norm;        // [d]
    WeightTensor in_gate;        // [3d, d]: in_proj (a | z) and gate_proj stacked at load
    WeightTensor conv1d;         // [d, k1] (one part)
    BufferRef conv1d_bias;       // [d]
    WeightTensor conv2d;         // [d, k2 * k2] (one part)
    BufferRef conv2d_bias;       // [d]
    BufferRef conv2d_norm;       // [d]
    WeightTensor out;            // [d, d]
    bool memory = false;
    bool rope = false;           // memory layer position mode
    BufferRef memory_norm;       // [d]
    WeightTensor qkv;            // [3 Hm Dm, d]: q | k | v stacked
    WeightTensor o;              // [d, Hm Dm]
    BufferRef mlp_norm;          // [d]
    WeightTensor gate_up;        // [2 I, d]
    WeightTensor down;           // [d, I]
};

struct V2Weights {
    WeightTensor embed;          // [V, d] (the tied head too)
    std::vector<V2LayerWeights> layers;
    BufferRef norm;              // [d]
    WeightTensor lm_head;        // untied: [V, d]
};

} // namespace vkc
