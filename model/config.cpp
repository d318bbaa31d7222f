// config.json parsing and checkpoint tensor specs for ConvGPT v1 / v2 (see shared/spec/convgpt-v*.md).
#include "model/config.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/safetensors.h"
#include "runtime/status.h"

namespace vkc {
namespace {

using json = nlohmann::json;

// Typed accessors over one config object; every error names the file (where) and the key.
struct Reader {
    const json& j;
    std::string where;

    [[noreturn]] void bad(const std::string& msg) const { fail(Status::invalid_model, where + ": " + msg); }

    const json* find(const char* key) const {
        auto it = j.find(key);
        return (it == j.end() || it->is_null()) ? nullptr : &*it;
    }

    int to_int(const json& v, const std::string& key) const {
        double d = 0;
        if (v.is_number_integer()) {
            if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int>::max())
                                       : (v.get<int64_t>() > std::numeric_limits<int>::max() ||
                                          v.get<int64_t>() < std::numeric_limits<int>::min()))
                bad(key + " = " + v.dump() + " is out of range");
            return static_cast<int>(v.get<int64_t>());
        }
        if (v.is_number_float()) { // 256.0 is accepted, 2.5 is not
            d = v.get<double>();
            if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= std::numeric_limits<int>::max())
                return static_cast<int>(d);
        }
        bad(key + " must be an integer, got " + v.dump());
    }

    int get_int(const char* key, int def) const {
        const json* v = find(key);
        return v ? to_int(*v, key) : def;
    }
    int req_int(const char* key) const {
        const json* v = find(key);
        if (!v) bad(std::string("missing required key '") + key + "'");
        return to_int(*v, key);
    }
    int req_pos(const char* key) const {
        int v = req_int(key);
        if (v <= 0) bad(std::string(key) + " must be positive, got " + std::to_string(v));
        return v;
    }
    int opt_pos(const char* key, int def) const {
        int v = get_int(key, def);
        if (v <= 0) bad(std::string(key) + " must be positive, got " + std::to_string(v));
        return v;
    }
    double get_num(const char* key, double def) const {
        const json* v = find(key);
        if (!v) return def;
        if (!v->is_number()) bad(std::string(key) + " must be a number, got " + v->dump());
        return v->get<double>();
    }
    bool get_bool(const char* key, bool def) const {
        const json* v = find(key);
        if (!v) return def;
        if (!v->is_boolean()) bad(std::string(key) + " must be true or false, got " + v->dump());
        return v->get<bool>();
    }
    // bos/eos/pad: int, null/absent (-1) or a list (first entry; HF allows several eos ids).
    int token_id(const char* key) const {
        const json* v = find(key);
        if (!v) return -1;
        if (v->is_array()) return v->empty() ? -1 : to_int((*v)[0], key);
        return to_int(*v, key);
    }
    float eps() const {
        double e = get_num("rms_norm_eps", 1e-6);
        if (!(e > 0) || !std::isfinite(e)) bad("rms_norm_eps must be positive, got " + std::to_string(e));
        return static_cast<float>(e);
    }
    // "rope_theta" (older files) or "rope_parameters": {"rope_theta": ..} (newer); default 10000.
    float rope_theta() const {
        const json* top = find("rope_theta");
        const json* params = find("rope_parameters");
        const json* nested = nullptr;
        if (params) {
            if (!params->is_object()) bad("rope_parameters must be an object");
            auto it = params->find("rope_type");
            if (it != params->end() && !it->is_null() && *it != "default")
                fail(Status::unsupported, where + ": rope_parameters.rope_type " + it->dump() + " is not supported");
            it = params->find("rope_theta");
            if (it != params->end() && !it->is_null()) nested = &*it;
        }
        if (const json* rs = find("rope_scaling"))
            if (rs->is_object() && !rs->empty())
                fail(Status::unsupported, where + ": rope_scaling " + rs->dump() + " is not supported");
        double theta = 10000.0;
        if (top && !top->is_number()) bad("rope_theta must be a number, got " + top->dump());
        if (nested && !nested->is_number()) bad("rope_parameters.rope_theta must be a number, got " + nested->dump());
        if (top && nested && top->get<double>() != nested->get<double>())
            bad("rope_theta " + top->dump() + " and rope_parameters.rope_theta " + nested->dump() + " disagree");
        if (top) theta = top->get<double>();
        else if (nested) theta = nested->get<double>();
        if (!(theta > 0) || !std::isfinite(theta)) bad("rope_theta must be positive, got " + std::to_string(theta));
        return static_cast<float>(theta);
    }
};

int isqrt(int v) {
    int r = static_cast<int>(std::sqrt(static_cast<double>(v)));
    while (r > 0 && static_cast<int64_t>(r) * r > v) --r;
    while (static_cast<int64_t>(r + 1) * (r + 1) <= v) ++r;
    return r;
}

V1Config parse_v1(const Reader& r) {
    V1Config c;
    c.vocab_size = r.req_pos("vocab_size");
    c.hidden_size = r.req_pos("hidden_size");
    const int H = c.hidden_size;

    // Grid geometry: H = e*e, pool f x f, td = H / f^2 = (e/f)^2.
    const int root = isqrt(H);
    if (root * root != H)
        r.bad("hidden_size " + std::to_string(H) + " is not a perfect square (a token is viewed as an e x e grid)");
    c.e = r.get_int("emb_dim_factor", root);
    if (c.e != root)
        r.bad("emb_dim_factor " + std::to_string(c.e) + " does not match hidden_size " + std::to_string(H) +
              " (emb_dim_factor^2 must equal hidden_size)");
    c.f = r.get_int("emb_factor", isqrt(c.e) / 2);
    if (c.f < 1)
        r.bad("emb_factor must be >= 1, got " + std::to_string(c.f) + " (hidden_size " + std::to_string(H) +
              " too small for the derived floor(sqrt(e))/2)");
    if (c.e % c.f != 0)
        r.bad("emb_factor " + std::to_string(c.f) + " must divide emb_dim_factor " + std::to_string(c.e));
    c.td = r.get_int("transformer_dim", H / (c.f * c.f));
    if (c.td <= 0 || static_cast<int64_t>(c.td) * c.f * c.f != H)
        r.bad("transformer_dim " + std::to_string(c.td) + " inconsistent: transformer_dim * emb_factor^2 must equal "
              "hidden_size " + std::to_string(H));

    // conv_kernel_h_w: k, or [1, k] / [k] (kernel is 1 x k).
    if (const json* k = r.find("conv_kernel_h_w")) {
        if (k->is_array()) {
            if (k->empty()) r.bad("conv_kernel_h_w must not be an empty list");
            c.conv_k = r.to_int(k->back(), "conv_kernel_h_w");
        } else {
            c.conv_k = r.to_int(*k, "conv_kernel_h_w");
        }
    }
    if (c.conv_k < 1) r.bad("conv_kernel_h_w must be positive, got " + std::to_string(c.conv_k));

    c.n_layers = r.req_pos("num_hidden_layers");
    c.n_heads = r.req_pos("num_attention_heads");
    c.n_kv_heads = r.opt_pos("num_key_value_heads", c.n_heads);
    if (c.n_heads % c.n_kv_heads != 0)
        r.bad("num_attention_heads " + std::to_string(c.n_heads) + " is not a multiple of num_key_value_heads " +
              std::to_string(c.n_kv_heads));
    if (!r.find("head_dim") && c.td % c.n_heads != 0)
        r.bad("head_dim is absent and transformer_dim " + std::to_string(c.td) +
              " is not divisible by num_attention_heads " + std::to_string(c.n_heads));
    c.head_dim = r.opt_pos("head_dim", c.td / c.n_heads);
    if (c.head_dim % 2 != 0) r.bad("head_dim must be even for RoPE, got " + std::to_string(c.head_dim));
    c.intermediate_size = r.req_pos("intermediate_size");
    c.rms_norm_eps = r.eps();
    c.rope_theta = r.rope_theta();

    // Sliding window: layer i slides iff the window is set and i >= max_window_layers, unless layer_types says.
    c.sliding_window = std::max(0, r.get_int("sliding_window", 0));
    const int max_window_layers = r.get_int("max_window_layers", 0);
    if (max_window_layers < 0) r.bad("max_window_layers must be >= 0");
    const bool use_swa = r.get_bool("use_sliding_window", true); // Qwen2-style switch; absent = on
    c.layer_sliding.assign(c.n_layers, false);
    if (const json* lt = r.find("layer_types")) {
        if (!lt->is_array() || lt->size() != static_cast<size_t>(c.n_layers))
            r.bad("layer_types must be a list of num_hidden_layers (" + std::to_string(c.n_layers) + ") entries");
        for (int i = 0; i < c.n_layers; ++i) {
            const json& v = (*lt)[i];
            if (v == "sliding_attention") c.layer_sliding[i] = true;
            else if (v != "full_attention")
                r.bad("layer_types[" + std::to_string(i) + "] = " + v.dump() +
                      ", expected \"full_attention\" or \"sliding_attention\"");
            if (c.layer_sliding[i] && c.sliding_window == 0)
                r.bad("layer_types[" + std::to_string(i) + "] is sliding_attention but sliding_window is not set");
        }
    } else if (c.sliding_window > 0 && use_swa) {
        for (int i = max_window_layers; i < c.n_layers; ++i) c.layer_sliding[i] = true;
    }

    c.tie_word_embeddings = r.get_bool("tie_word_embeddings", true);
    c.max_position_embeddings = r.get_int("max_position_embeddings", 0);
    if (c.max_position_embeddings < 0) r.bad("max_position_embeddings must be >= 0");
    c.bos_token_id = r.token_id("bos_token_id");
    c.eos_token_id = r.token_id("eos_token_id");
    c.pad_token_id = r.token_id("pad_token_id");
    return c;
}

V2Config parse_v2(const Reader& r) {
    V2Config c;
    c.vocab_size = r.req_pos("vocab_size");
    c.hidden_size = r.req_pos("hidden_size");
    c.n_layers = r.req_pos("num_hidden_layers");
    c.intermediate_size = r.req_pos("intermediate_size");
    c.rms_norm_eps = r.eps();
    c.conv1d_kernel = r.req_pos("conv1d_kernel");
    c.conv2d_kernel = r.req_pos("conv2d_kernel");
    if (c.conv2d_kernel % 2 == 0)
        r.bad("conv2d_kernel must be odd, got " + std::to_string(c.conv2d_kernel));
    c.grid_size = r.req_pos("grid_size");
    if ((c.grid_size & (c.grid_size - 1)) != 0)
        r.bad("grid_size must be a power of two, got " + std::to_string(c.grid_size));
    if (c.grid_size > (1 << 15)) // capacity G*G must fit in int
        r.bad("grid_size " + std::to_string(c.grid_size) + " is too large (max 32768)");
    c.memory_every = r.req_int("memory_every");
    if (c.memory_every < 1) r.bad("memory_every must be >= 1, got " + std::to_string(c.memory_every));
    c.memory_chunk_size = r.req_int("memory_chunk_size");
    if (c.memory_chunk_size < 1) r.bad("memory_chunk_size must be >= 1, got " + std::to_string(c.memory_chunk_size));
    c.memory_top_k = r.req_int("memory_top_k");
    if (c.memory_top_k < 1) r.bad("memory_top_k must be >= 1, got " + std::to_string(c.memory_top_k));
    c.memory_heads = r.req_pos("memory_heads");
    c.memory_head_dim = r.req_pos("memory_head_dim");
    c.rope_theta = r.rope_theta();

    // One mode per memory layer; default "rope", "none", "rope", ...
    const int n_mem = c.n_memory_layers();
    if (const json* m = r.find("memory_position_modes")) {
        if (!m->is_array() || m->size() != static_cast<size_t>(n_mem))
            r.bad("memory_position_modes must be a list with one entry per memory layer (num_hidden_layers / "
                  "memory_every = " + std::to_string(n_mem) + "), got " + m->dump());
        for (const json& v : *m) {
            if (v != "rope" && v != "none")
                r.bad("memory_position_modes entry " + v.dump() + " must be \"rope\" or \"none\"");
            c.memory_rope.push_back(v == "rope");
        }
    } else {
        for (int i = 0; i < n_mem; ++i) c.memory_rope.push_back(i % 2 == 0);
    }
    for (bool rope : c.memory_rope)
        if (rope && c.memory_head_dim % 2 != 0)
            r.bad("memory_head_dim must be even when a memory layer uses rope, got " +
                  std::to_string(c.memory_head_dim));

    c.tie_word_embeddings = r.get_bool("tie_word_embeddings", true);
    c.bos_token_id = r.token_id("bos_token_id");
    c.eos_token_id = r.token_id("eos_token_id");
    c.pad_token_id = r.token_id("pad_token_id");
    return c;
}

} // namespace

int ModelConfig::max_context() const {
    return arch == Arch::v1 ? v1.max_position_embeddings : v2.grid_size * v2.grid_size;
}

ModelConfig parse_config_json(const std::string& json_text, const std::string& where) {
    json j;
    try {
        j = json::parse(json_text);
    } catch (const json::exception& e) {
        fail(Status::invalid_model, where + ": not valid JSON: " + e.what());
    }
    if (!j.is_object()) fail(Status::invalid_model, where + ": not a JSON object");
    const Reader r{j, where};
    const json* mt = r.find("model_type");
    if (!mt) r.bad("missing 'model_type' (expected \"convgpt\" or \"convgpt_v2\")");
    ModelConfig mc;
    if (*mt == "convgpt") {
        mc.arch = Arch::v1;
        mc.v1 = parse_v1(r);
    } else if (*mt == "convgpt_v2") {
        mc.arch = Arch::v2;
        mc.v2 = parse_v2(r);
    } else {
        r.bad("unsupported model_type " + mt->dump() + " (expected \"convgpt\" or \"convgpt_v2\")");
    }
    return mc;
}

ModelConfig load_config(const std::string& model_dir) {
    const std::string path = model_dir + "/config.json";
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(Status::io_error, "cannot open " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) fail(Status::io_error, "cannot read " + path);
    return parse_config_json(ss.str(), path);
}

// ---------------------------------------------------------------------------------------------------------
// Tensor specs

std::vector<TensorSpec> v1_tensor_specs(const V1Config& c) {
    using S = std::vector<int64_t>;
    const int64_t V = c.vocab_size, H = c.hidden_size, e = c.e, td = c.td, hd = c.head_dim;
    const int64_t q = int64_t(c.n_heads) * hd, kv = int64_t(c.n_kv_heads) * hd, I = c.intermediate_size;
    std::vector<TensorSpec> s = {
        {"model.embed_tokens.weight", S{V, H}},
        {"model.conv.weight", S{e, e, 1, c.conv_k}}, // Conv2d [out, in, kh, kw], no bias
        {"model.norm_emb.g", S{1}},                   // ScaleNorm gain
    };
    for (int i = 0; i < c.n_layers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        s.push_back({p + "self_attn.q_proj.weight", S{q, td}});
        s.push_back({p + "self_attn.k_proj.weight", S{kv, td}});
        s.push_back({p + "self_attn.v_proj.weight", S{kv, td}});
        s.push_back({p + "self_attn.o_proj.weight", S{td, q}});
        s.push_back({p + "self_attn.q_norm.weight", S{hd}});
        s.push_back({p + "self_attn.k_norm.weight", S{hd}});
        s.push_back({p + "mlp.gate_proj.weight", S{I, td}});
        s.push_back({p + "mlp.up_proj.weight", S{I, td}});
        s.push_back({p + "mlp.down_proj.weight", S{td, I}});
        s.push_back({p + "norm1.weight", S{td}});
        s.push_back({p + "norm2.weight", S{td}});
    }
    if (c.tie_word_embeddings) {
        // Head: scale_up MLP td -> H, RMSNorm over H, logits against embed_tokens.
        s.push_back({"model.scale_up.gate_proj.weight", S{4 * H, td}});
        s.push_back({"model.scale_up.up_proj.weight", S{4 * H, td}});
        s.push_back({"model.scale_up.down_proj.weight", S{H, 4 * H}});
        s.push_back({"model.norm.weight", S{H}});
        s.push_back({"lm_head.weight", S{V, H}, true}); // a copy of embed_tokens some exporters write
    } else {
        s.push_back({"model.norm.weight", S{td}});
        s.push_back({"lm_head.weight", S{V, td}});
    }
    return s;
}

std::vector<TensorSpec> v2_tensor_specs(const V2Config& c) {
    using S = std::vector<int64_t>;
    const int64_t V = c.vocab_size, d = c.hidden_size, I = c.intermediate_size;
    const int64_t k1 = c.conv1d_kernel, k2 = c.conv2d_kernel, m = int64_t(c.memory_heads) * c.memory_head_dim;
    std::vector<TensorSpec> s = {{"model.embed_tokens.weight", S{V, d}}};
    for (int i = 0; i < c.n_layers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        s.push_back({p + "mixer_norm.weight", S{d}});
        s.push_back({p + "mixer.in_proj.weight", S{2 * d, d}}); // rows [0,d) -> a, [d,2d) -> z
        s.push_back({p + "mixer.conv1d.weight", S{d, 1, k1}});  // depthwise
        s.push_back({p + "mixer.conv1d.bias", S{d}});
        s.push_back({p + "mixer.conv2d.weight", S{d, 1, k2, k2}}); // depthwise, [dy][dx]
        s.push_back({p + "mixer.conv2d.bias", S{d}});
        s.push_back({p + "mixer.conv2d_norm.weight", S{d}});
        s.push_back({p + "mixer.gate_proj.weight", S{d, d}});
        s.push_back({p + "mixer.out_proj.weight", S{d, d}});
        if (c.layer_has_memory(i)) {
            s.push_back({p + "memory_norm.weight", S{d}});
            s.push_back({p + "memory.q_proj.weight", S{m, d}});
            s.push_back({p + "memory.k_proj.weight", S{m, d}});
            s.push_back({p + "memory.v_proj.weight", S{m, d}});
            s.push_back({p + "memory.o_proj.weight", S{d, m}});
        }
        s.push_back({p + "mlp_norm.weight", S{d}});
        s.push_back({p + "mlp.gate_proj.weight", S{I, d}});
        s.push_back({p + "mlp.up_proj.weight", S{I, d}});
        s.push_back({p + "mlp.down_proj.weight", S{d, I}});
    }
    s.push_back({"model.norm.weight", S{d}});
    // Untied: required. Tied: tolerated if present (a copy of embed_tokens); the runtime uses embed_tokens.
    s.push_back({"lm_head.weight", S{V, d}, c.tie_word_embeddings});
    return s;
}

void check_tensors(const TensorStore& store, const std::vector<TensorSpec>& specs) {
    std::set<std::string> known;
    for (const TensorSpec& sp : specs) {
        known.insert(sp.name);
        const TensorView* t = store.find(sp.name);
        if (!t) {
            if (sp.optional) continue;
            fail(Status::invalid_model, "missing tensor '" + sp.name + "' (expected shape " +
                                            shape_to_string(sp.shape) + ") in " + store.dir());
        }
        if (!dtype_is_float(t->dtype))
            fail(Status::invalid_model, "tensor '" + sp.name + "' has dtype " + dtype_name(t->dtype) +
                                            ", expected F32, F16, BF16 or F64 (in " + t->file + ")");
        if (t->shape != sp.shape)
            fail(Status::invalid_model, "tensor '" + sp.name + "' has shape " + t->shape_str() + ", expected " +
                                            shape_to_string(sp.shape) + " (in " + t->file + ")");
    }
    for (const std::string& n : store.names())
        if (!known.count(n))
            fail(Status::invalid_model, "unknown tensor '" + n + "' (in " + store.find(n)->file +
                                            "): not part of this architecture/config");
}

} // namespace vkc
