// Reference forward passes, see ref_model.h. Activations are std::vector<double> throughout.
#include "tests/ref/ref_model.h"

#include <cstring>
#include <stdexcept>

#include "tests/ref/ref_ops.h"

namespace vkc::ref {

using DVec = std::vector<double>;

std::vector<float> read_f32(const TensorView& t) {
    std::vector<float> v(size_t(t.numel()));
    tensor_to_f32(t, v.data());
    return v;
}

std::vector<double> read_f64(const TensorView& t) {
    if (t.dtype == DType::f64) {
        DVec v(size_t(t.numel()));
        std::memcpy(v.data(), t.data, v.size() * sizeof(double));
        return v;
    }
    const std::vector<float> f = read_f32(t);
    return DVec(f.begin(), f.end());
}

std::vector<int64_t> read_i64(const TensorView& t) {
    std::vector<int64_t> v(size_t(t.numel()));
    if (t.dtype == DType::i64) {
        std::memcpy(v.data(), t.data, v.size() * sizeof(int64_t));
    } else if (t.dtype == DType::i32) {
        for (size_t i = 0; i < v.size(); i++) {
            int32_t x;
            std::memcpy(&x, t.data + 4 * i, 4);
            v[i] = x;
        }
    } else {
        throw std::invalid_argument("read_i64: " + t.name + " is not an integer tensor");
    }
    return v;
}

std::vector<int32_t> read_ids(const TensorView& t) {
    std::vector<int64_t> v = read_i64(t);
    return std::vector<int32_t>(v.begin(), v.end());
}

namespace {

DVec weight(const TensorStore& s, const std::string& name) { return read_f64(s.get(name)); }

std::vector<float> to_f32(const DVec& v) { return std::vector<float>(v.begin(), v.end()); }

// rows [T, n] -> columns [c0, c0 + w) -> [T, w]
DVec columns(const DVec& x, int n, int c0, int w) {
    const size_t T = x.size() / size_t(n);
    DVec y(T * size_t(w));
    for (size_t t = 0; t < T; t++)
        for (int i = 0; i < w; i++) y[t * w + i] = x[t * n + c0 + i];
    return y;
}

// gather embedding rows: E [V, n] -> [T, n]
DVec embed_rows(const DVec& E, int n, int vocab, const std::vector<int>& ids) {
    DVec y(ids.size() * size_t(n));
    for (size_t t = 0; t < ids.size(); t++) {
        if (ids[t] < 0 || ids[t] >= vocab) throw std::invalid_argument("forward: token id out of range");
        for (int i = 0; i < n; i++) y[t * n + i] = E[size_t(ids[t]) * n + i];
    }
    return y;
}

constexpr double k_norm_eps_v1 = 1e-6; // every v1 RMSNorm except q_norm / k_norm

} // namespace

RefOutput forward_v1(const TensorStore& s, const V1Config& c, const std::vector<int>& ids) {
    const int T = int(ids.size()), H = c.hidden_size, td = c.td, hd = c.head_dim;
    const int nh = c.n_heads, nkv = c.n_kv_heads, I = c.intermediate_size, V = c.vocab_size;
    RefOutput out;
    out.n_tokens = T;
    out.vocab = V;

    // 1-4: per-token embedding conv + pool + ScaleNorm -> h [T, td]
    const DVec E = weight(s, "model.embed_tokens.weight");   // [V, H]
    const DVec convw = weight(s, "model.conv.weight");       // [e, e, 1, k]
    const double g = weight(s, "model.norm_emb.g")[0];
    const DVec rows = embed_rows(E, H, V, ids);               // [T, H]
    DVec h(size_t(T) * td);
    for (int t = 0; t < T; t++) {
        const DVec erow(rows.begin() + size_t(t) * H, rows.begin() + size_t(t + 1) * H);
        const DVec p = embed_conv_pool_norm(erow, convw, g, c.e, c.f, c.conv_k);
        std::copy(p.begin(), p.end(), h.begin() + size_t(t) * td);
    }
    out.intermediates["embed_out"] = to_f32(h);

    // 5: decoder layers
    for (int l = 0; l < c.n_layers; l++) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        const DVec a = rmsnorm(h, weight(s, p + "norm1.weight"), k_norm_eps_v1);
        DVec q = matmul(a, weight(s, p + "self_attn.q_proj.weight"), nh * hd, td);  // [T, nh, hd]
        DVec k = matmul(a, weight(s, p + "self_attn.k_proj.weight"), nkv * hd, td); // [T, nkv, hd]
        DVec v = matmul(a, weight(s, p + "self_attn.v_proj.weight"), nkv * hd, td); // [T, nkv, hd]
        qk_norm_rope(q, weight(s, p + "self_attn.q_norm.weight"), double(c.rms_norm_eps), nh, 0, double(c.rope_theta));
        qk_norm_rope(k, weight(s, p + "self_attn.k_norm.weight"), double(c.rms_norm_eps), nkv, 0, double(c.rope_theta));
        const bool sliding = c.sliding_window > 0 && l < int(c.layer_sliding.size()) && c.layer_sliding[size_t(l)];
        const DVec att = attention(q, k, v, nh, nkv, hd, 0, sliding ? c.sliding_window : 0); // [T, nh*hd]
        add_inplace(h, matmul(att, weight(s, p + "self_attn.o_proj.weight"), td, nh * hd));
        const DVec m = rmsnorm(h, weight(s, p + "norm2.weight"), k_norm_eps_v1);
        add_inplace(h, mlp(m, weight(s, p + "mlp.gate_proj.weight"), weight(s, p + "mlp.up_proj.weight"),
                           weight(s, p + "mlp.down_proj.weight"), td, I, td));
        out.intermediates["layer" + std::to_string(l) + "_out"] = to_f32(h);
    }

    // 6: head
    DVec logits;
    if (c.tie_word_embeddings) {
        // scale_up MLP td -> H (width 4H), RMSNorm over H, then logits = z E^T
        const DVec up = mlp(h, weight(s, "model.scale_up.gate_proj.weight"), weight(s, "model.scale_up.up_proj.weight"),
                            weight(s, "model.scale_up.down_proj.weight"), td, 4 * H, H);
        const DVec z = rmsnorm(up, weight(s, "model.norm.weight"), k_norm_eps_v1); // [T, H]
        out.intermediates["final_hidden"] = to_f32(z);
        logits = matmul(z, E, V, H);
    } else {
        const DVec z = rmsnorm(h, weight(s, "model.norm.weight"), k_norm_eps_v1); // [T, td]
        out.intermediates["final_hidden"] = to_f32(z);
        logits = matmul(z, weight(s, "lm_head.weight"), V, td);
    }
    out.logits = to_f32(logits);
    return out;
}

RefOutput forward_v2(const TensorStore& s, const V2Config& c, const std::vector<int>& ids) {
    const int T = int(ids.size()), d = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
    const int Hm = c.memory_heads, Dm = c.memory_head_dim;
    const double eps = double(c.rms_norm_eps);
    if (int64_t(T) > int64_t(c.grid_size) * c.grid_size) throw std::invalid_argument("forward_v2: T > G*G");
    RefOutput out;
    out.n_tokens = T;
    out.vocab = V;

    const DVec E = weight(s, "model.embed_tokens.weight"); // [V, d]
    DVec x = embed_rows(E, d, V, ids);                      // [T, d]
    int mem_index = 0;
    for (int l = 0; l < c.n_layers; l++) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        const std::string tag = "layer" + std::to_string(l);
        // 1: in_proj -> a, z
        const DVec h = rmsnorm(x, weight(s, p + "mixer_norm.weight"), eps);
        const DVec u = matmul(h, weight(s, p + "mixer.in_proj.weight"), 2 * d, d); // [T, 2d]
        const DVec a = columns(u, 2 * d, 0, d), z = columns(u, 2 * d, d, d);
        // 2: 1D branch (conv1d.weight [d, 1, k1] == [d, k1])
        const DVec c1 = conv1d_causal(a, weight(s, p + "mixer.conv1d.weight"), weight(s, p + "mixer.conv1d.bias"),
                                      c.conv1d_kernel);
        // 3: 2D Hilbert branch, then conv2d_norm
        const DVec c2 = rmsnorm(conv2d_hilbert(a, weight(s, p + "mixer.conv2d.weight"), weight(s, p + "mixer.conv2d.bias"),
                                               c.conv2d_kernel, c.grid_size),
                                weight(s, p + "mixer.conv2d_norm.weight"), eps);
        // 4: gated fusion + out_proj
        const DVec gate_pre = matmul(h, weight(s, p + "mixer.gate_proj.weight"), d, d);
        add_inplace(x, matmul(gated_fusion(gate_pre, c1, c2, z), weight(s, p + "mixer.out_proj.weight"), d, d));
        out.intermediates[tag + "_mixer"] = to_f32(x);
        // 5: sparse chunk memory
        if (c.layer_has_memory(l)) {
            const bool use_rope = mem_index < int(c.memory_rope.size()) ? bool(c.memory_rope[size_t(mem_index)])
                                                                        : (mem_index % 2 == 0);
            mem_index++;
            const DVec hm = rmsnorm(x, weight(s, p + "memory_norm.weight"), eps);
            DVec q = matmul(hm, weight(s, p + "memory.q_proj.weight"), Hm * Dm, d); // [T, Hm, Dm]
            DVec k = matmul(hm, weight(s, p + "memory.k_proj.weight"), Hm * Dm, d);
            const DVec v = matmul(hm, weight(s, p + "memory.v_proj.weight"), Hm * Dm, d);
            if (use_rope) {
                rope(q, Hm, Dm, 0, double(c.rope_theta));
                rope(k, Hm, Dm, 0, double(c.rope_theta));
            }
            const DVec o = memory_attention(q, k, v, Hm, Dm, c.memory_chunk_size, c.memory_top_k);
            add_inplace(x, matmul(o, weight(s, p + "memory.o_proj.weight"), d, Hm * Dm));
            out.intermediates[tag + "_memory"] = to_f32(x);
        }
        // 6: MLP
        const DVec m = rmsnorm(x, weight(s, p + "mlp_norm.weight"), eps);
        add_inplace(x, mlp(m, weight(s, p + "mlp.gate_proj.weight"), weight(s, p + "mlp.up_proj.weight"),
                           weight(s, p + "mlp.down_proj.weight"), d, I, d));
        out.intermediates[tag + "_out"] = to_f32(x);
    }
    const DVec fin = rmsnorm(x, weight(s, "model.norm.weight"), eps);
    out.intermediates["final_hidden"] = to_f32(fin);
    const DVec logits = c.tie_word_embeddings ? matmul(fin, E, V, d) : matmul(fin, weight(s, "lm_head.weight"), V, d);
    out.logits = to_f32(logits);
    return out;
}

RefOutput forward(const TensorStore& s, const ModelConfig& c, const std::vector<int>& ids) {
    return c.arch == Arch::v1 ? forward_v1(s, c.v1, ids) : forward_v2(s, c.v2, ids);
}

std::vector<int> greedy_generate(const TensorStore& s, const ModelConfig& c, const std::vector<int>& prompt, int n) {
    std::vector<int> seq = prompt, gen;
    for (int i = 0; i < n; i++) {
        const RefOutput o = forward(s, c, seq);
        const int next = argmax(&o.logits[size_t(o.n_tokens - 1) * o.vocab], o.vocab);
        gen.push_back(next);
        seq.push_back(next);
    }
    return gen;
}

} // namespace vkc::ref
