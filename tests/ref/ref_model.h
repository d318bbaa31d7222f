// CPU reference forward passes of ConvGPT v1 and ConvGPT-v2, built from ref_ops (double internally).
// Full recompute over the whole sequence: meant for tiny fixtures and as ground truth for GPU tests.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/safetensors.h"

namespace vkc::ref {

struct RefOutput {
    int n_tokens = 0;
    int vocab = 0;
    std::vector<float> logits; // [T, V]
    // Intermediates under the names expected.safetensors uses, each [T, width]:
    // v1: embed_out [T, td], layerN_out [T, td], final_hidden ([T, H] tied: after scale_up + norm;
    //     [T, td] untied). v2: layerN_mixer, layerN_memory (memory layers), layerN_out, final_hidden [T, d];
    //     layerN_mixer / layerN_memory are the residual stream right after that sub-block's add.
    std::map<std::string, std::vector<float>> intermediates;
};

RefOutput forward_v1(const TensorStore& store, const V1Config& cfg, const std::vector<int>& ids);
RefOutput forward_v2(const TensorStore& store, const V2Config& cfg, const std::vector<int>& ids);
RefOutput forward(const TensorStore& store, const ModelConfig& cfg, const std::vector<int>& ids);

// Greedy continuation: n new tokens after prompt (argmax of the last row, ties -> lowest id).
std::vector<int> greedy_generate(const TensorStore& store, const ModelConfig& cfg,
                                 const std::vector<int>& prompt, int n);

// Whole tensor (any float dtype) -> f32 / f64; integer tensor (I64/I32) -> int64.
std::vector<float> read_f32(const TensorView& t);
std::vector<double> read_f64(const TensorView& t);
std::vector<int64_t> read_i64(const TensorView& t);
// Token ids (I64 or I32 tensor) as int32.
std::vector<int32_t> read_ids(const TensorView& t);

} // namespace vkc::ref
