// Random-weight Hugging Face checkpoints with real shapes: speed is measured on real sizes without
// downloads, and tests check other layouts than the fixtures against the CPU reference.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/safetensors.h"

namespace vkc {

std::vector<std::string> preset_names();
// The config.json text of a preset ("convgpt-v1-164m", "convgpt-v2-200m", small test presets).
std::string preset_config(const std::string& name);

// Writes dir/config.json (given text) and dir/model.safetensors with weights drawn from a fixed-seed
// uniform distribution scaled by 1/sqrt(fan_in) (norm weights near 1), in F32, F16 or BF16.
void write_random_checkpoint(const std::string& dir, const std::string& config_json, uint32_t seed,
                             DType dtype = DType::f32);

} // namespace vkc
