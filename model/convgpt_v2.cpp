// ConvGPT-v2 on the GPU. Per token (decode) the dispatch sequence is:
//   embed_gather                                                                      1
//   per layer: [a|z|glin] matmul (RMSNorm fused) | store a in the history | conv1d + Hilbert conv2d +
//              RMSNorm + gated fusion | out matmul (+= residual) |
//              gate_up matmul (RMSNorm fused) | down matmul (SwiGLU fused, += residual)  6 x L
//   memory layers: qkv matmul (RMSNorm fused) | rope + K/V cache write | close-chunk summary |
//              top-K routed chunk attention | o matmul (+= residual)                    5 x L/m
//   logits matmul (final RMSNorm fused) + advance seq.pos                              2
// Decode state per layer: the history of a (serves both the 1D window and the 2D gather); per memory
// layer K/V of every position and one key summary per closed chunk.
#include "model/convgpt_v2.h"

#include "model/kernels/attention.h"
#include "model/kernels/embed.h"
#include "model/kernels/matmul.h"
#include "model/kernels/memory.h"
#include "model/kernels/mixer.h"
#include "model/model.h"

namespace vkc {

namespace {

class V2Model : public Model {
public:
    V2Model(const std::string& dir, const ModelConfig& cfg, std::unique_ptr<Context> ctx, const ModelOptions& opts);
    std::unique_ptr<Sequence> new_sequence(int ctx) override;

    const V2Config& c() const { return config_.v2; }
    V2Weights w;
    std::unique_ptr<EmbedGatherKernel> embed;
    std::unique_ptr<MatmulKernel> mm;
    std::unique_ptr<MixerStoreKernel> store;
    std::unique_ptr<MixerConvKernel> conv;
    std::unique_ptr<QkNormRopeKernel> rope;
    std::unique_ptr<MemSummarizeKernel> summarize;
    std::unique_ptr<MemSelectKernel> mem_select;
    std::unique_ptr<MemAttentionKernel> mem_attn;
    BufferRef x, u, mix, qkv, q, o, gu; // activations [max_batch, *]
};

class V2Sequence : public Sequence {
public:
    V2Sequence(V2Model& m, int ctx_len);

protected:
    void record_forward(Recorder& rec, uint32_t n, uint32_t tok_offset, Logits mode) override;

private:
    struct LayerSets { BoundSet u, store, conv, out, qkv, rope, summarize, select, attn, o, gu, down; };
    V2Model& m_;
    BoundSet embed_set_, logits_set_;
    std::vector<LayerSets> layers_;
    uint32_t n_chunks_ = 0;
};

V2Model::V2Model(const std::string& dir, const ModelConfig& cfg, std::unique_ptr<Context> ctx, const ModelOptions& opts)
    : Model(std::move(ctx), cfg, opts) {
    const V2Config& C = c();
    TensorStore store_ = open_weights(dir); // safetensors or model.gguf
    check_tensors(store_, v2_tensor_specs(C));
    const WeightType wt = opts.weight_type;
    const int d = C.hidden_size, hm = C.memory_heads * C.memory_head_dim;

    WeightLoader L(*ctx_, store_, *weights_);
    L.matrix(&w.embed, {"model.embed_tokens.weight"}, d, wt);
    w.layers.resize(C.n_layers);
    int mem_index = 0;
    for (int i = 0; i < C.n_layers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        V2LayerWeights& lw = w.layers[i];
        L.vector(&lw.mixer_norm, p + "mixer_norm.weight");
        L.matrix(&lw.in_gate, {p + "mixer.in_proj.weight", p + "mixer.gate_proj.weight"}, d, wt);
        L.matrix(&lw.conv1d, {p + "mixer.conv1d.weight"}, C.conv1d_kernel, weight_type_dense(wt));
        L.vector(&lw.conv1d_bias, p + "mixer.conv1d.bias");
        L.matrix(&lw.conv2d, {p + "mixer.conv2d.weight"}, C.conv2d_kernel * C.conv2d_kernel, weight_type_dense(wt));
        L.vector(&lw.conv2d_bias, p + "mixer.conv2d.bias");
        L.vector(&lw.conv2d_norm, p + "mixer.conv2d_norm.weight");
        L.matrix(&lw.out, {p + "mixer.out_proj.weight"}, d, wt);
        lw.memory = C.layer_has_memory(i);
        if (lw.memory) {
            lw.rope = C.memory_rope.at(mem_index++);
            L.vector(&lw.memory_norm, p + "memory_norm.weight");
            L.matrix(&lw.qkv, {p + "memory.q_proj.weight", p + "memory.k_proj.weight", p + "memory.v_proj.weight"}, d, wt);
            L.matrix(&lw.o, {p + "memory.o_proj.weight"}, hm, wt);
        }
        L.vector(&lw.mlp_norm, p + "mlp_norm.weight");
        L.matrix(&lw.gate_up, {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}, d, wt);
        L.matrix(&lw.down, {p + "mlp.down_proj.weight"}, C.intermediate_size, wt);
    }
    L.vector(&w.norm, "model.norm.weight");
    if (!C.tie_word_embeddings) L.matrix(&w.lm_head, {"lm_head.weight"}, d, wt);
    // Pipelines (compiled on the pipeline builder's threads while the weights upload).
    embed = std::make_unique<EmbedGatherKernel>(*env_, wt);
    mm = std::make_unique<MatmulKernel>(*env_, wt);
    store = std::make_unique<MixerStoreKernel>(*env_);
    conv = std::make_unique<MixerConvKernel>(*env_, weight_type_dense(wt));
    rope = std::make_unique<QkNormRopeKernel>(*env_);
    summarize = std::make_unique<MemSummarizeKernel>(*env_);
    mem_select = std::make_unique<MemSelectKernel>(*env_);
    mem_attn = std::make_unique<MemAttentionKernel>(*env_);
    L.upload(opts.progress);
    finish_pipelines();

    const int64_t B = opts.max_batch;
    int sx = acts_->reserve(B * d * 4), su = acts_->reserve(B * 3 * d * 4), smix = acts_->reserve(B * d * 4),
        sqkv = acts_->reserve(B * 3 * hm * 4), sq = acts_->reserve(B * hm * 4), so = acts_->reserve(B * hm * 4),
        sgu = acts_->reserve(B * 2 * C.intermediate_size * 4);
    acts_->allocate();
    x = acts_->ref(sx), u = acts_->ref(su), mix = acts_->ref(smix), qkv = acts_->ref(sqkv), q = acts_->ref(sq),
    o = acts_->ref(so), gu = acts_->ref(sgu);
}

std::unique_ptr<Sequence> V2Model::new_sequence(int ctx) {
    const int cap = c().grid_size * c().grid_size;
    if (ctx <= 0) ctx = std::min(cap, 65536);
    if (ctx > cap)
        fail(Status::invalid_argument, "context " + std::to_string(ctx) + " exceeds the grid capacity grid_size^2 = " +
                                           std::to_string(cap));
    return std::make_unique<V2Sequence>(*this, ctx);
}

V2Sequence::V2Sequence(V2Model& m, int ctx_len) : Sequence(m, ctx_len), m_(m) {
    const V2Config& C = m.c();
    const int64_t d = C.hidden_size, hm = int64_t(C.memory_heads) * C.memory_head_dim;
    n_chunks_ = (uint32_t)((ctx_len + C.memory_chunk_size - 1) / C.memory_chunk_size);
    const uint64_t range = m.context().limits().max_storage_buffer_range;
    if (uint64_t(ctx_len) * std::max(d, hm) * 4 > range)
        fail(Status::invalid_argument, "context of " + std::to_string(ctx_len) + " tokens needs per-layer state "
                                       "above the device's maxStorageBufferRange");
    struct Slots { int hist, kc = -1, vc = -1, ksum = -1; };
    std::vector<Slots> slots;
    for (int i = 0; i < C.n_layers; ++i) {
        Slots s;
        s.hist = state_->reserve(ctx_len * d * 4);
        if (m.w.layers[i].memory) {
            s.kc = state_->reserve(ctx_len * hm * 4);
            s.vc = state_->reserve(ctx_len * hm * 4);
            s.ksum = state_->reserve(int64_t(n_chunks_) * hm * 4);
        }
        slots.push_back(s);
    }
    const int s_cand = state_->reserve(MemSelectKernel::cand_bytes(m.max_batch(), C.memory_heads, n_chunks_,
                                                                   C.memory_top_k)); // scratch, all layers
    const int s_seq = state_->reserve(sizeof(SeqInfo));
    state_->allocate();
    seq_ = state_->ref(s_seq);
    const BufferRef cand = state_->ref(s_cand);
    int s_tok = io_->reserve(int64_t(ctx_len) * 4),
        s_log = io_->reserve(int64_t(m.logits_rows_capacity()) * C.vocab_size * 4);
    io_->allocate();
    tokens_ = io_->ref(s_tok), logits_ = io_->ref(s_log);

    DescriptorArena& S = *sets_;
    embed_set_ = m.embed->bind(S, tokens_, m.w.embed, m.x);
    for (int i = 0; i < C.n_layers; ++i) {
        const V2LayerWeights& lw = m.w.layers[i];
        BufferRef hist = state_->ref(slots[i].hist);
        LayerSets ls;
        ls.u = m.mm->bind(S, m.x, lw.in_gate, m.u, lw.mixer_norm);
        ls.store = m.store->bind(S, seq_, m.u, hist);
        ls.conv = m.conv->bind(S, seq_, m.u, hist, lw.conv1d.parts[0], lw.conv1d_bias, lw.conv2d.parts[0],
                               lw.conv2d_bias, lw.conv2d_norm, m.mix);
        ls.out = m.mm->bind(S, m.mix, lw.out, m.x, m.mix);
        if (lw.memory) {
            BufferRef kc = state_->ref(slots[i].kc), vc = state_->ref(slots[i].vc), ksum = state_->ref(slots[i].ksum);
            ls.qkv = m.mm->bind(S, m.x, lw.qkv, m.qkv, lw.memory_norm);
            ls.rope = m.rope->bind(S, m.qkv, lw.memory_norm, lw.memory_norm, seq_, m.q, kc, vc); // no q/k norm
            ls.summarize = m.summarize->bind(S, seq_, kc, ksum);
            ls.select = m.mem_select->bind(S, seq_, m.q, ksum, cand);
            ls.attn = m.mem_attn->bind(S, seq_, m.q, kc, vc, cand, m.o);
            ls.o = m.mm->bind(S, m.o, lw.o, m.x, m.o);
        }
        ls.gu = m.mm->bind(S, m.x, lw.gate_up, m.gu, lw.mlp_norm);
        ls.down = m.mm->bind(S, m.gu, lw.down, m.x, m.gu);
        layers_.push_back(ls);
    }
    logits_set_ = m.mm->bind(S, m.x, C.tie_word_embeddings ? m.w.embed : m.w.lm_head, logits_, m.w.norm);
    finish_setup();
}

void V2Sequence::record_forward(Recorder& rec, uint32_t n, uint32_t tok_offset, Logits mode) {
    const V2Config& C = m_.c();
    const uint32_t d = C.hidden_size, I = C.intermediate_size, hm = C.memory_heads * C.memory_head_dim;
    const uint32_t ctx = (uint32_t)ctx_len_;
    auto mm = [&](const BoundSet& set, const WeightTensor& w, uint32_t M, uint32_t x_stride, uint32_t y_stride,
                  uint32_t x_row0, uint32_t flags) {
        m_.mm->record(rec, set, MatmulKernel::push_for(M, w, flags, C.rms_norm_eps, x_stride, y_stride, x_row0));
    };

    m_.embed->record(rec, embed_set_, EmbedGatherPush{n, tok_offset, d, (uint32_t)m_.w.embed.rows_per_part,
                                                      (uint32_t)C.vocab_size});
    for (int i = 0; i < C.n_layers; ++i) {
        const V2LayerWeights& lw = m_.w.layers[i];
        const LayerSets& ls = layers_[i];
        mm(ls.u, lw.in_gate, n, d, 3 * d, 0, MM_IN_RMSNORM);
        m_.store->record(rec, ls.store, MixerStorePush{n, d, 3 * d, 0, ctx});
        MixerConvPush cp{n, d, 3 * d, d, 2 * d, d, (uint32_t)C.conv1d_kernel, (uint32_t)C.conv2d_kernel,
                         (uint32_t)C.grid_size, ctx, C.rms_norm_eps};
        m_.conv->record(rec, ls.conv, cp);
        mm(ls.out, lw.out, n, d, d, 0, MM_ACCUMULATE);
        if (lw.memory) {
            mm(ls.qkv, lw.qkv, n, d, 3 * hm, 0, MM_IN_RMSNORM);
            QkNormRopePush rp{n, (uint32_t)C.memory_heads, (uint32_t)C.memory_heads, (uint32_t)C.memory_head_dim,
                              C.rms_norm_eps, C.rope_theta, lw.rope ? QKR_ROPE : 0u, ctx};
            m_.rope->record(rec, ls.rope, rp);
            m_.summarize->record(rec, ls.summarize,
                                 MemSummarizePush{n, hm, (uint32_t)C.memory_chunk_size, n_chunks_, ctx});
            const uint32_t splits = MemSelectKernel::max_splits(n_chunks_);
            MemSelectPush sp{n, (uint32_t)C.memory_heads, (uint32_t)C.memory_head_dim, (uint32_t)C.memory_chunk_size,
                             (uint32_t)C.memory_top_k, hm, splits, ctx, 0, n_chunks_};
            m_.mem_select->record(rec, ls.select, sp);
            MemAttentionPush ap{n, (uint32_t)C.memory_heads, (uint32_t)C.memory_head_dim,
                                (uint32_t)C.memory_chunk_size, (uint32_t)C.memory_top_k, hm, hm, ctx, splits};
            m_.mem_attn->record(rec, ls.attn, ap);
            mm(ls.o, lw.o, n, hm, d, 0, MM_ACCUMULATE);
        }
        mm(ls.gu, lw.gate_up, n, d, 2 * I, 0, MM_IN_RMSNORM);
        mm(ls.down, lw.down, n, 2 * I, d, 0, MM_IN_SWIGLU | MM_ACCUMULATE);
    }
    if (mode == Logits::none) return;
    const uint32_t rows = mode == Logits::all ? n : 1, row0 = mode == Logits::all ? 0 : n - 1;
    const WeightTensor& head = C.tie_word_embeddings ? m_.w.embed : m_.w.lm_head;
    mm(logits_set_, head, rows, d, C.vocab_size, row0, MM_IN_RMSNORM);
}

} // namespace

std::unique_ptr<Model> load_v2(const std::string& dir, const ModelConfig& cfg, std::unique_ptr<Context> ctx,
                               const ModelOptions& opts) {
    return std::make_unique<V2Model>(dir, cfg, std::move(ctx), opts);
}

} // namespace vkc
