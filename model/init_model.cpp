#include "model/init_model.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "model/config.h"

namespace vkc {

namespace {

// Presets. The 164M layout is the public ConvGPT v1 checkpoint's; the v2 one follows the v2 card.
const char* kV1_164m = R"({"model_type": "convgpt", "architectures": ["ConvGPTForCausalLM"],
  "vocab_size": 65538, "hidden_size": 1296, "emb_dim_factor": 36, "emb_factor": 3, "transformer_dim": 144,
  "conv_kernel_h_w": 3, "num_hidden_layers": 32, "num_attention_heads": 16, "num_key_value_heads": 8,
  "head_dim": 128, "intermediate_size": 3072, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
  "max_position_embeddings": 4096, "tie_word_embeddings": true, "bos_token_id": 0, "eos_token_id": 2})";
const char* kV2_200m = R"({"model_type": "convgpt_v2", "architectures": ["ConvGPTv2ForCausalLM"],
  "vocab_size": 32024, "hidden_size": 768, "num_hidden_layers": 24, "intermediate_size": 2048,
  "rms_norm_eps": 1e-6, "conv1d_kernel": 4, "conv2d_kernel": 3, "grid_size": 256, "memory_every": 2,
  "memory_chunk_size": 64, "memory_top_k": 4, "memory_heads": 8, "memory_head_dim": 96, "rope_theta": 10000.0,
  "tie_word_embeddings": true, "bos_token_id": 0, "eos_token_id": 2})";

struct Rng { // splitmix64: fast, deterministic across platforms
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    float uniform() { return float((next() >> 40) * (1.0 / 16777216.0)) * 2.f - 1.f; } // [-1, 1)
};

bool is_norm(const std::string& name) {
    return name.find("norm") != std::string::npos || name.find("norm_emb.g") != std::string::npos;
}

} // namespace

std::vector<std::string> preset_names() { return {"convgpt-v1-164m", "convgpt-v2-200m"}; }

std::string preset_config(const std::string& name) {
    if (name == "convgpt-v1-164m") return kV1_164m;
    if (name == "convgpt-v2-200m") return kV2_200m;
    std::string all;
    for (auto& n : preset_names()) all += (all.empty() ? "" : ", ") + n;
    fail(Status::invalid_argument, "unknown preset '" + name + "' (known: " + all + ")");
}

void write_random_checkpoint(const std::string& dir, const std::string& config_json, uint32_t seed, DType dtype) {
    if (dtype != DType::f32 && dtype != DType::f16 && dtype != DType::bf16)
        fail(Status::invalid_argument, "random checkpoints are F32, F16 or BF16");
    ModelConfig cfg = parse_config_json(config_json, "preset config");
    std::vector<TensorSpec> specs = cfg.arch == Arch::v1 ? v1_tensor_specs(cfg.v1) : v2_tensor_specs(cfg.v2);
    ::mkdir(dir.c_str(), 0755);
    {
        std::ofstream out(dir + "/config.json", std::ios::trunc);
        out << nlohmann::json::parse(config_json).dump(2) << "\n";
        if (!out) fail(Status::io_error, "cannot write " + dir + "/config.json");
    }
    Rng rng{seed * 0x100000001ull + 12345};
    std::vector<std::vector<uint8_t>> data;
    std::vector<TensorToWrite> tensors;
    const size_t es = dtype_size(dtype);
    for (const TensorSpec& s : specs) {
        if (s.optional) continue;
        int64_t n = 1;
        for (auto d : s.shape) n *= d;
        // fan_in: the product of all dims but the first (Linear [out, in], Conv [out, in, kh, kw]).
        int64_t fan_in = s.shape.size() > 1 ? n / s.shape[0] : 1;
        const bool norm = is_norm(s.name), bias = s.name.find(".bias") != std::string::npos;
        const bool embed = s.name == "model.embed_tokens.weight";
        const float scale = norm ? 0.1f : bias ? 0.1f : embed ? 1.0f : std::sqrt(3.0f / float(fan_in));
        std::vector<uint8_t> buf(size_t(n) * es);
        for (int64_t i = 0; i < n; ++i) {
            float v = (norm ? 1.0f : 0.0f) + scale * rng.uniform();
            if (dtype == DType::f32) {
                std::memcpy(&buf[i * 4], &v, 4);
            } else if (dtype == DType::f16) {
                uint16_t h = f32_to_f16(v);
                std::memcpy(&buf[i * 2], &h, 2);
            } else {
                uint32_t u;
                std::memcpy(&u, &v, 4);
                uint16_t b = uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16); // round to nearest even
                std::memcpy(&buf[i * 2], &b, 2);
            }
        }
        data.push_back(std::move(buf));
        tensors.push_back({s.name, dtype, s.shape, nullptr});
    }
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = data[i].data();
    write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}, {"generator", "vkconvgpt init-model"}});
}

} // namespace vkc
