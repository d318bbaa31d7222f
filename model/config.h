// config.json parsing for ConvGPT v1 (model_type "convgpt") and ConvGPT-v2 ("convgpt_v2").
// Semantics: ../shared/spec/convgpt-v1.md and convgpt-v2.md. Errors name the offending key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vkc {

struct V1Config {
    int vocab_size = 0;
    int hidden_size = 0;       // H = e * e
    int e = 0;                 // emb_dim_factor, grid side
    int f = 0;                 // emb_factor, pool window f x f
    int td = 0;                // transformer_dim = H / f^2
    int conv_k = 3;            // conv_kernel_h_w: conv is 1 x k
    int n_layers = 0;
    int n_heads = 0;
    int n_kv_heads = 0;
    int head_dim = 0;
    int intermediate_size = 0;
    float rms_norm_eps = 1e-6f;     // q_norm / k_norm only; all other RMSNorms use 1e-6
    float rope_theta = 10000.0f;
    int sliding_window = 0;         // 0: none
    std::vector<bool> layer_sliding; // [n_layers]
    bool tie_word_embeddings = true;
    int max_position_embeddings = 0; // 0 when absent
    int bos_token_id = -1, eos_token_id = -1, pad_token_id = -1;
};

struct V2Config {
    int vocab_size = 0;
    int hidden_size = 0;       // d
    int n_layers = 0;          // L
    int intermediate_size = 0; // I
    float rms_norm_eps = 1e-6f;
    int conv1d_kernel = 0;     // k1
    int conv2d_kernel = 0;     // k2, odd
    int grid_size = 0;         // G, power of two; capacity G*G
    int memory_every = 0;      // layer i has memory iff (i+1) % m == 0
    int memory_chunk_size = 0; // C
    int memory_top_k = 0;      // K
    int memory_heads = 0;      // Hm
    int memory_head_dim = 0;   // Dm
    float rope_theta = 10000.0f;
    std::vector<bool> memory_rope; // one per memory layer: true = "rope", false = "none"
    bool tie_word_embeddings = true;
    int bos_token_id = -1, eos_token_id = -1, pad_token_id = -1;
    bool layer_has_memory(int i) const { return (i + 1) % memory_every == 0; }
    int n_memory_layers() const { return n_layers / memory_every; }
};

enum class Arch { v1, v2 };

struct ModelConfig {
    Arch arch = Arch::v1;
    V1Config v1;
    V2Config v2;
    int vocab_size() const { return arch == Arch::v1 ? v1.vocab_size : v2.vocab_size; }
    int max_context() const; // v1: max_position_embeddings (0 = unlimited); v2: grid_size^2
};

ModelConfig parse_config_json(const std::string& json_text, const std::string& where = "config.json");
ModelConfig load_config(const std::string& model_dir); // reads model_dir/config.json

// Expected checkpoint content: name (without nothing stripped: full "model.layers.0..." names) and shape.
struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
    bool optional = false; // e.g. lm_head.weight of a tied v1 model
};
std::vector<TensorSpec> v1_tensor_specs(const V1Config& c);
std::vector<TensorSpec> v2_tensor_specs(const V2Config& c);

class TensorStore;
// Checks that every required tensor exists with the right shape and a float dtype, and that there is
// no tensor the spec does not know. Throws invalid_model naming the tensor, expected and found shape.
void check_tensors(const TensorStore& store, const std::vector<TensorSpec>& specs);

} // namespace vkc
