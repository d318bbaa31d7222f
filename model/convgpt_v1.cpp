// ConvGPT v1 on the GPU. Per token (decode) the dispatch sequence is:
//   embed_conv (gather + 1 x k conv + f x f pool + ScaleNorm)                         1
//   per layer: qkv_rope (the qkv projection with its RMSNorm, then q/k norm + RoPE + K/V cache
//              write; a qkv matmul + qk_norm_rope for prefill and unfusable weights) |
//              attention (split + combine) | o matmul (+= residual) |
//              gate_up matmul (RMSNorm fused) | down matmul (SwiGLU fused, += residual)   6 x L
//   head, tied: scale_up gate_up | scale_up down (SwiGLU) | logits (RMSNorm fused)    3  (untied: 1)
//   advance seq.pos                                                                   1
// decode_batch runs one step for B sequences in the same order: the matmuls take all B rows at once
// (weights read once per step); rope + cache write and attention run once per layer for all rows
// (BATCH variants) or, on devices without them, once per sequence on row views of the shared
// activations; embed runs once for all rows, advance per sequence, with no barriers between
// sequences (their buffers are disjoint); last, each row's argmax (topk_slice + topk_merge, k = 1)
// for greedy callers.
// Rows are padded to the storage-buffer offset alignment.
#include "model/convgpt_v1.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "model/kernels/attention.h"
#include "model/kernels/embed.h"
#include "model/kernels/matmul.h"
#include "model/kernels/topk.h"
#include "model/model.h"

namespace vkc {

namespace {

constexpr float kNormEps = 1e-6f; // every RMSNorm except q_norm / k_norm (spec)

class V1Sequence;

// Row strides (floats) of the activations in a batched decode step: each padded so that a row starts
// on the device's storage-buffer offset alignment (per-sequence kernels bind row views).
struct BatchStrides { uint32_t x, qkv, q, gu, su, z; };

class V1Model : public Model {
public:
    V1Model(const std::string& dir, const ModelConfig& cfg, std::unique_ptr<Context> ctx, const ModelOptions& opts);
    std::unique_ptr<Sequence> new_sequence(int ctx) override;
    void decode_batch(Sequence* const* seqs, const int32_t* ids, int n, float* logits,
                      int32_t* greedy = nullptr) override;
    std::vector<std::pair<std::string, double>> profile_decode_batch(Sequence* const* seqs, const int32_t* ids,
                                                                     int n) override;
    void forget_sequence(Sequence* s) override;
    void check_batch(Sequence* const* seqs, int n) const;
    // Also bounded by one binding of the tied head's [rows, 8H] scale_up activations.
    int logits_rows_capacity() const override {
        int rows = Model::logits_rows_capacity();
        if (!c().tie_word_embeddings) return rows;
        return (int)std::max<uint64_t>(1, std::min<uint64_t>(rows, ctx_->limits().max_storage_buffer_range /
                                                                       (8ull * c().hidden_size * 4)));
    }

    const V1Config& c() const { return config_.v1; }
    V1Weights w;
    std::unique_ptr<EmbedConvKernel> embed;
    std::unique_ptr<MatmulKernel> mm;
    std::unique_ptr<QkNormRopeKernel> rope;
    std::unique_ptr<QkvRopeKernel> qkvr;
    bool fuse_qkv = false; // decode steps run qkvr (every layer's qkv weights fusable, option on)
    std::unique_ptr<AttentionKernel> attn;
    // Activations [max_batch, *] reused by every layer and every sequence.
    BufferRef x, qkv, q, att, gu;
    BufferRef su, z; // tied head: [head_rows, 8H], [head_rows, H]
    int head_rows = 0;

    // Batched decode: at most batch_cap rows; logits [batch_cap, V] host-visible; the matmul sets of
    // every layer and the head (shared activations, batch logits); the command buffer recorded for the
    // last batch (replayed while the same sequences come in the same order).
    BatchStrides bs{};
    int batch_cap = 0;
    std::unique_ptr<Arena> batch_io;
    BufferRef batch_logits;
    BufferRef batch_tokens; // [batch_cap] uint: the step's ids, one embed dispatch for all rows
    BoundSet batch_embed_set;
    // Each row's argmax, on the GPU (greedy callers read back B pairs, not B x V floats): TopK k = 1
    // over the batch logits -> batch_greedy [batch_cap] TopKPair (host-visible, in batch_io).
    std::unique_ptr<Arena> batch_topk_arena;
    BufferRef batch_greedy, batch_topk_scratch;
    BoundSet batch_topk_set;
    std::unique_ptr<DescriptorArena> batch_sets;
    struct MatmulSets { BoundSet qkv, o, gu, down; };
    std::vector<MatmulSets> batch_layers;
    BoundSet batch_head_gu, batch_head_down, batch_logits_set;
    std::unique_ptr<CommandBuffer> batch_cb;
    std::vector<Sequence*> batch_key;
    // The batched rope / attention sets of the recorded batch (they name its sequences' caches):
    // rebuilt with every re-record. Null when the device lacks the batched variants (per-row dispatches).
    std::unique_ptr<DescriptorArena> batch_row_sets;
    bool batch_attention = false;
    std::unique_ptr<Arena> batch_scratch_arena;
    BufferRef batch_scratch; // attention partials [batch_cap][batch_part_stride] (any row's split count)
    uint32_t batch_part_stride = 0;

private:
    void setup_batch();
    void record_batch(Recorder& rec, Sequence* const* seqs, int n);
    void begin_batch(Sequence* const* seqs, const int32_t* ids, int n);
    void submit_batch(CommandBuffer& cb, Sequence* const* seqs, int n);
};

class V1Sequence : public Sequence {
public:
    V1Sequence(V1Model& m, int ctx_len);

    // Descriptor sets of this sequence's kernels reading / writing row r of a batched step.
    struct RowSets {
        std::vector<BoundSet> rope, attn; // per layer (the per-row fallback of decode_batch); rope: qkvr's when fused
    };
    const RowSets& row_sets(int r);
    uint32_t splits(int layer) const { return m_.c().layer_sliding[layer] ? splits_window_ : splits_full_; }
    const BoundSet& advance_set() const { return advance_set_; }
    const V1Model& owner() const { return m_; }
    BatchRow batch_row(int layer) const {
        return {seq_, kc_[layer], vc_[layer], (uint32_t)ctx_len_, splits(layer)};
    }

protected:
    void record_forward(Recorder& rec, uint32_t n, uint32_t tok_offset, Logits mode) override;

private:
    struct LayerSets { BoundSet qkv, rope, qkv_rope, attn, o, gu, down; }; // qkv_rope: when m_.fuse_qkv
    V1Model& m_;
    BufferRef scratch_;
    std::map<int, RowSets> row_sets_;
    std::vector<BufferRef> kc_, vc_;
    uint32_t splits_full_ = 1, splits_window_ = 1; // split-K of decode attention (keys spread over workgroups)
    BoundSet embed_set_, head_gu_, head_down_, logits_set_;
    std::vector<LayerSets> layers_;
};

V1Model::V1Model(const std::string& dir, const ModelConfig& cfg, std::unique_ptr<Context> ctx, const ModelOptions& opts)
    : Model(std::move(ctx), cfg, opts) {
    const V1Config& C = c();
    TensorStore store = open_weights(dir); // safetensors or model.gguf
    check_tensors(store, v1_tensor_specs(C));
    const WeightType wt = opts.weight_type;

    // Plan every tensor into the single weight arena.
    WeightLoader L(*ctx_, store, *weights_);
    L.matrix(&w.embed, {"model.embed_tokens.weight"}, C.hidden_size, wt);
    L.vector(&w.conv, "model.conv.weight");
    L.vector(&w.norm_emb_g, "model.norm_emb.g");
    w.layers.resize(C.n_layers);
    for (int i = 0; i < C.n_layers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        V1LayerWeights& lw = w.layers[i];
        L.vector(&lw.norm1, p + "norm1.weight");
        L.vector(&lw.norm2, p + "norm2.weight");
        L.matrix(&lw.qkv, {p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"},
                 C.td, wt);
        L.vector(&lw.q_norm, p + "self_attn.q_norm.weight");
        L.vector(&lw.k_norm, p + "self_attn.k_norm.weight");
        L.matrix(&lw.o, {p + "self_attn.o_proj.weight"}, C.n_heads * C.head_dim, wt);
        L.matrix(&lw.gate_up, {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}, C.td, wt);
        L.matrix(&lw.down, {p + "mlp.down_proj.weight"}, C.intermediate_size, wt);
    }
    L.vector(&w.norm, "model.norm.weight");
    if (C.tie_word_embeddings) {
        L.matrix(&w.su_gate_up, {"model.scale_up.gate_proj.weight", "model.scale_up.up_proj.weight"}, C.td, wt);
        L.matrix(&w.su_down, {"model.scale_up.down_proj.weight"}, 4 * C.hidden_size, wt);
    } else {
        L.matrix(&w.lm_head, {"lm_head.weight"}, C.td, wt);
    }
    // Pipelines, created at load (cached on disk): the driver compiles them on the pipeline builder's
    // threads while the weights upload.
    embed = std::make_unique<EmbedConvKernel>(*env_, wt);
    mm = std::make_unique<MatmulKernel>(*env_, wt);
    rope = std::make_unique<QkNormRopeKernel>(*env_);
    qkvr = std::make_unique<QkvRopeKernel>(*env_, wt);
    attn = std::make_unique<AttentionKernel>(*env_);
    L.upload(opts.progress);
    fuse_qkv = opts.fuse_qkv_rope && std::all_of(w.layers.begin(), w.layers.end(),
                                                 [&](const V1LayerWeights& l) { return qkvr->supports(l.qkv); });
    finish_pipelines();

    // Activation arena.
    const int B = opts.max_batch;
    head_rows = logits_rows_capacity();
    const int64_t qkv_w = int64_t(C.n_heads + 2 * C.n_kv_heads) * C.head_dim, q_w = int64_t(C.n_heads) * C.head_dim;
    int sx = acts_->reserve(int64_t(B) * C.td * 4), sqkv = acts_->reserve(B * qkv_w * 4),
        sq = acts_->reserve(B * q_w * 4), satt = acts_->reserve(B * q_w * 4),
        sgu = acts_->reserve(int64_t(B) * 2 * C.intermediate_size * 4);
    int ssu = -1, sz = -1;
    if (C.tie_word_embeddings) {
        ssu = acts_->reserve(int64_t(head_rows) * 8 * C.hidden_size * 4);
        sz = acts_->reserve(int64_t(head_rows) * C.hidden_size * 4);
    }
    acts_->allocate();
    x = acts_->ref(sx), qkv = acts_->ref(sqkv), q = acts_->ref(sq), att = acts_->ref(satt), gu = acts_->ref(sgu);
    if (C.tie_word_embeddings) su = acts_->ref(ssu), z = acts_->ref(sz);
    setup_batch();
}

void V1Model::setup_batch() {
    const V1Config& C = c();
    const uint64_t align = std::max<uint64_t>(4, ctx_->limits().min_storage_buffer_offset_alignment);
    auto pad = [&](uint64_t floats) { return (uint32_t)((floats * 4 + align - 1) / align * align / 4); };
    const uint64_t qkv_w = uint64_t(C.n_heads + 2 * C.n_kv_heads) * C.head_dim, q_w = uint64_t(C.n_heads) * C.head_dim;
    bs = {pad(C.td), pad(qkv_w), pad(q_w), pad(2ull * C.intermediate_size), pad(8ull * C.hidden_size),
          pad(C.hidden_size)};
    // rows that fit every activation buffer and one logits binding
    auto fit = [&](const BufferRef& b, uint32_t stride, uint64_t width) {
        return b.valid() ? int((b.size / 4 - width) / stride + 1) : 1 << 20;
    };
    batch_cap = std::min<int>({kMaxDecodeBatch, fit(x, bs.x, C.td), fit(qkv, bs.qkv, qkv_w), fit(q, bs.q, q_w),
                               fit(att, bs.q, q_w), fit(gu, bs.gu, 2ull * C.intermediate_size),
                               fit(su, bs.su, 8ull * C.hidden_size), fit(z, bs.z, C.hidden_size),
                               (int)(ctx_->limits().max_storage_buffer_range / (uint64_t(C.vocab_size) * 4))});
    if (batch_cap < 2) return; // decode_batch then runs one sequence at a time
    batch_io = std::make_unique<Arena>(*ctx_, MemoryKind::host, "batch logits");
    const int sl = batch_io->reserve(int64_t(batch_cap) * C.vocab_size * 4);
    const int sg = batch_io->reserve(int64_t(batch_cap) * sizeof(TopKPair));
    const int stok = batch_io->reserve(int64_t(batch_cap) * 4);
    batch_io->allocate();
    batch_logits = batch_io->ref(sl);
    batch_tokens = batch_io->ref(stok);
    batch_greedy = batch_io->ref(sg);
    batch_topk_arena = std::make_unique<Arena>(*ctx_, MemoryKind::device, "batch argmax scratch");
    const int st = batch_topk_arena->reserve(topk_->scratch_bytes(batch_cap, C.vocab_size, 1));
    batch_topk_arena->allocate();
    batch_topk_scratch = batch_topk_arena->ref(st);
    batch_attention = opts_.batch_kernels && (fuse_qkv ? qkvr->batch_supported() : rope->batch_supported()) &&
                      attn->batch_supported() && batch_cap <= (int)kAttnMaxBatch;
    if (batch_attention) { // room for the most splits any context gets
        const uint32_t most = AttentionKernel::suggest_splits(1, C.n_heads, C.n_kv_heads, 1u << 30);
        batch_part_stride = pad(AttentionKernel::scratch_bytes(1, C.n_heads, C.head_dim, most) / 4);
        batch_scratch_arena = std::make_unique<Arena>(*ctx_, MemoryKind::device, "batch attention scratch");
        const int ss = batch_scratch_arena->reserve(int64_t(batch_cap) * batch_part_stride * 4);
        batch_scratch_arena->allocate();
        batch_scratch = batch_scratch_arena->ref(ss);
    }
    batch_sets = std::make_unique<DescriptorArena>(*ctx_);
    DescriptorArena& S = *batch_sets;
    for (const V1LayerWeights& lw : w.layers)
        batch_layers.push_back({mm->bind(S, x, lw.qkv, qkv, lw.norm1), mm->bind(S, att, lw.o, x, att),
                                mm->bind(S, x, lw.gate_up, gu, lw.norm2), mm->bind(S, gu, lw.down, x, gu)});
    if (C.tie_word_embeddings) {
        batch_head_gu = mm->bind(S, x, w.su_gate_up, su, x);
        batch_head_down = mm->bind(S, su, w.su_down, z, su);
        batch_logits_set = mm->bind(S, z, w.embed, batch_logits, w.norm);
    } else {
        batch_logits_set = mm->bind(S, x, w.lm_head, batch_logits, w.norm);
    }
    batch_topk_set = topk_->bind(S, batch_logits, batch_topk_scratch, batch_greedy);
    batch_embed_set = embed->bind(S, batch_tokens, w.embed, w.conv, w.norm_emb_g, x);
    batch_cb = std::make_unique<CommandBuffer>(*ctx_);
}

void V1Model::forget_sequence(Sequence* s) {
    std::lock_guard<std::mutex> lock(submit_mutex()); // another thread may be in decode_batch
    if (std::find(batch_key.begin(), batch_key.end(), s) != batch_key.end()) batch_key.clear();
}

// Checks a decode_batch call: n distinct sequences of this model.
void V1Model::check_batch(Sequence* const* seqs, int n) const {
    if (n <= 0) fail(Status::invalid_argument, "decode batch of " + std::to_string(n) + " sequences");
    for (int i = 0; i < n; ++i) {
        auto* v1 = dynamic_cast<V1Sequence*>(seqs[i]);
        if (!v1 || &v1->owner() != this)
            fail(Status::invalid_argument, "decode batch: sequence " + std::to_string(i) + " is not of this model");
        for (int j = 0; j < i; ++j)
            if (seqs[j] == seqs[i])
                fail(Status::invalid_argument, "decode batch: sequence " + std::to_string(i) + " appears twice");
    }
}

// Under the submit lock: every id and room checked before any work, then the tokens written.
void V1Model::begin_batch(Sequence* const* seqs, const int32_t* ids, int n) {
    for (int i = 0; i < n; ++i) seqs[i]->check_step(ids[i]);
    for (int i = 0; i < n; ++i) seqs[i]->begin_batched_step();
    std::memcpy(batch_tokens.mapped, ids, size_t(n) * 4); // the batched embedding's input
}

// Runs a recorded batched step; positions count as unknown until it is known to have run.
void V1Model::submit_batch(CommandBuffer& cb, Sequence* const* seqs, int n) {
    for (int i = 0; i < n; ++i) seqs[i]->mark_pos_unknown();
    cb.submit_and_wait();
    for (int i = 0; i < n; ++i) seqs[i]->end_batched_step();
}

void V1Model::decode_batch(Sequence* const* seqs, const int32_t* ids, int n, float* logits, int32_t* greedy) {
    check_batch(seqs, n);
    if (n == 1 || n > batch_cap) return Model::decode_batch(seqs, ids, n, logits, greedy);
    std::lock_guard<std::mutex> lock(submit_mutex());
    begin_batch(seqs, ids, n);
    if (batch_key.size() != size_t(n) || !std::equal(batch_key.begin(), batch_key.end(), seqs)) {
        batch_key.clear();
        Recorder rec(batch_cb->begin(false));
        record_batch(rec, seqs, n);
        batch_cb->end();
        batch_dispatches_ = rec.dispatches();
        batch_key.assign(seqs, seqs + n);
    }
    submit_batch(*batch_cb, seqs, n);
    if (logits) std::memcpy(logits, batch_logits.mapped, size_t(n) * c().vocab_size * 4);
    if (greedy) {
        std::vector<TopKPair> p(n);
        std::memcpy(p.data(), batch_greedy.mapped, size_t(n) * sizeof(TopKPair));
        for (int i = 0; i < n; ++i) greedy[i] = greedy_pick(p[i], c().vocab_size);
    }
}

std::vector<std::pair<std::string, double>> V1Model::profile_decode_batch(Sequence* const* seqs, const int32_t* ids,
                                                                          int n) {
    check_batch(seqs, n);
    if (n == 1 || n > batch_cap) return Model::profile_decode_batch(seqs, ids, n);
    std::lock_guard<std::mutex> lock(submit_mutex());
    begin_batch(seqs, ids, n);
    batch_key.clear(); // record_batch replaces the batch-row sets the recorded batch uses
    TimestampQueries ts(*ctx_, 4096);
    CommandBuffer cb(*ctx_);
    Recorder rec(cb.begin(true), &ts);
    record_batch(rec, seqs, n);
    cb.end();
    submit_batch(cb, seqs, n);
    return ts.read(rec.labels(), rec.stamps());
}

// Records one batched step of seqs (checked by check_batch) with fresh batch-row sets, ending with the
// barrier that makes the logits visible to the host.
void V1Model::record_batch(Recorder& rec, Sequence* const* seqs, int B) {
    std::vector<V1Sequence*> s(B);
    for (int i = 0; i < B; ++i) s[i] = static_cast<V1Sequence*>(seqs[i]);
    batch_row_sets = std::make_unique<DescriptorArena>(*ctx_); // the previous batch's sets are unused now
    const V1Config& C = c();
    const uint32_t td = C.td, H = C.hidden_size, n = (uint32_t)B;
    auto mmr = [&](const BoundSet& set, const WeightTensor& wt, uint32_t xs, uint32_t ys, uint32_t flags) {
        // always the matvec: its rows' arithmetic does not depend on M, so each row equals a single
        // sequence's decode bit for bit (automatic would take the tiled kernel for B > 2 on CPU devices)
        mm->record(rec, set, MatmulKernel::push_for(n, wt, flags, kNormEps, xs, ys, 0), MatmulPath::matvec);
    };
    // every row's embedding in one dispatch (ids from batch_tokens, rows bs.x apart)
    EmbedConvPush ep{n, 0, H, (uint32_t)C.e, (uint32_t)C.f, (uint32_t)C.conv_k, td, (uint32_t)w.embed.rows_per_part,
                     (uint32_t)C.vocab_size, bs.x};
    embed->record(rec, batch_embed_set, ep);
    for (int i = 0; i < C.n_layers; ++i) {
        const V1LayerWeights& lw = w.layers[i];
        const MatmulSets& ms = batch_layers[i];
        if (!fuse_qkv) mmr(ms.qkv, lw.qkv, bs.x, bs.qkv, MM_IN_RMSNORM);
        QkNormRopePush rp{1, (uint32_t)C.n_heads, (uint32_t)C.n_kv_heads, (uint32_t)C.head_dim, C.rms_norm_eps,
                          C.rope_theta, QKR_NORM | QKR_ROPE, 0};
        AttentionPush ap{1, (uint32_t)C.n_heads, (uint32_t)C.n_kv_heads, (uint32_t)C.head_dim,
                         C.layer_sliding[i] ? (uint32_t)C.sliding_window : 0u, 1.0f / std::sqrt((float)C.head_dim)};
        if (batch_attention) { // one rope and one split + combine for all rows
            std::vector<BatchRow> rows;
            for (int r = 0; r < B; ++r) rows.push_back(s[r]->batch_row(i));
            if (fuse_qkv) {
                const BoundSet set =
                    qkvr->bind_batch(*batch_row_sets, x, lw.qkv, lw.norm1, lw.q_norm, lw.k_norm, q, rows);
                qkvr->record_batch(rec, set, rp, rows, td, bs.x, bs.q, kNormEps);
            } else {
                rope->record_batch(rec, rope->bind_batch(*batch_row_sets, qkv, lw.q_norm, lw.k_norm, q, rows), rp,
                                   rows, bs.qkv, bs.q);
            }
            attn->record_batch(rec, attn->bind_batch(*batch_row_sets, q, att, batch_scratch, rows), ap, rows, bs.q,
                               batch_part_stride);
        } else { // per-row dispatches (independent rows: no barriers between them)
            for (int r = 0; r < B; ++r) {
                rp.ctx = (uint32_t)s[r]->capacity();
                if (fuse_qkv)
                    qkvr->record(rec, s[r]->row_sets(r).rope[i], rp, td, td, kNormEps);
                else
                    rope->record(rec, s[r]->row_sets(r).rope[i], rp);
            }
            for (int r = 0; r < B; ++r) attn->record(rec, s[r]->row_sets(r).attn[i], ap, s[r]->splits(i));
        }
        mmr(ms.o, lw.o, bs.q, bs.x, MM_ACCUMULATE);
        mmr(ms.gu, lw.gate_up, bs.x, bs.gu, MM_IN_RMSNORM);
        mmr(ms.down, lw.down, bs.gu, bs.x, MM_IN_SWIGLU | MM_ACCUMULATE);
    }
    if (C.tie_word_embeddings) {
        mmr(batch_head_gu, w.su_gate_up, bs.x, bs.su, 0);
        mmr(batch_head_down, w.su_down, bs.su, bs.z, MM_IN_SWIGLU);
        mmr(batch_logits_set, w.embed, bs.z, (uint32_t)C.vocab_size, MM_IN_RMSNORM);
    } else {
        mmr(batch_logits_set, w.lm_head, bs.x, (uint32_t)C.vocab_size, MM_IN_RMSNORM);
    }
    topk_->record(rec, batch_topk_set, n, (uint32_t)C.vocab_size, (uint32_t)C.vocab_size, 1);
    for (int r = 0; r < B; ++r) advance_->record(rec, s[r]->advance_set(), 1);
    rec.host_read_barrier();
}

std::unique_ptr<Sequence> V1Model::new_sequence(int ctx) {
    int max = c().max_position_embeddings > 0 ? c().max_position_embeddings : 4096;
    if (ctx <= 0) ctx = max;
    return std::make_unique<V1Sequence>(*this, ctx);
}

V1Sequence::V1Sequence(V1Model& m, int ctx_len) : Sequence(m, ctx_len), m_(m) {
    const V1Config& C = m.c();
    const int64_t kv_bytes = int64_t(ctx_len) * C.n_kv_heads * C.head_dim * 4;
    if ((uint64_t)kv_bytes > m.context().limits().max_storage_buffer_range)
        fail(Status::invalid_argument, "context of " + std::to_string(ctx_len) + " tokens needs a KV cache of " +
                                           std::to_string(kv_bytes >> 20) + " MiB per layer, above the device's "
                                           "maxStorageBufferRange");
    std::vector<int> ks, vs;
    for (int i = 0; i < C.n_layers; ++i) ks.push_back(state_->reserve(kv_bytes)), vs.push_back(state_->reserve(kv_bytes));
    // Decode attention splits each head's keys over several workgroups (recorded once: the key range
    // itself is read from seq at run time); one scratch serves every layer.
    splits_full_ = AttentionKernel::suggest_splits(1, C.n_heads, C.n_kv_heads, ctx_len);
    splits_window_ = C.sliding_window > 0
                         ? AttentionKernel::suggest_splits(1, C.n_heads, C.n_kv_heads, std::min(ctx_len, C.sliding_window))
                         : 1;
    const uint32_t max_splits = std::max(splits_full_, splits_window_);
    int s_scratch = state_->reserve(AttentionKernel::scratch_bytes(1, C.n_heads, C.head_dim, max_splits));
    const int s_seq = state_->reserve(sizeof(SeqInfo));
    state_->allocate();
    seq_ = state_->ref(s_seq);
    const BufferRef scratch = scratch_ = state_->ref(s_scratch);
    int s_tok = io_->reserve(int64_t(ctx_len) * 4),
        s_log = io_->reserve(int64_t(m.head_rows) * C.vocab_size * 4);
    io_->allocate();
    tokens_ = io_->ref(s_tok), logits_ = io_->ref(s_log);
    for (int i = 0; i < C.n_layers; ++i) kc_.push_back(state_->ref(ks[i])), vc_.push_back(state_->ref(vs[i]));

    DescriptorArena& S = *sets_;
    embed_set_ = m.embed->bind(S, tokens_, m.w.embed, m.w.conv, m.w.norm_emb_g, m.x);
    for (int i = 0; i < C.n_layers; ++i) {
        const V1LayerWeights& lw = m.w.layers[i];
        LayerSets ls;
        ls.qkv = m.mm->bind(S, m.x, lw.qkv, m.qkv, lw.norm1);
        ls.rope = m.rope->bind(S, m.qkv, lw.q_norm, lw.k_norm, seq_, m.q, kc_[i], vc_[i]);
        if (m.fuse_qkv)
            ls.qkv_rope = m.qkvr->bind(S, m.x, lw.qkv, lw.norm1, lw.q_norm, lw.k_norm, seq_, m.q, kc_[i], vc_[i]);
        ls.attn = m.attn->bind(S, m.q, kc_[i], vc_[i], seq_, m.att, scratch);
        ls.o = m.mm->bind(S, m.att, lw.o, m.x, m.att);
        ls.gu = m.mm->bind(S, m.x, lw.gate_up, m.gu, lw.norm2);
        ls.down = m.mm->bind(S, m.gu, lw.down, m.x, m.gu);
        layers_.push_back(ls);
    }
    if (C.tie_word_embeddings) {
        head_gu_ = m.mm->bind(S, m.x, m.w.su_gate_up, m.su, m.x);
        head_down_ = m.mm->bind(S, m.su, m.w.su_down, m.z, m.su);
        logits_set_ = m.mm->bind(S, m.z, m.w.embed, logits_, m.w.norm);
    } else {
        logits_set_ = m.mm->bind(S, m.x, m.w.lm_head, logits_, m.w.norm);
    }
    finish_setup();
}

const V1Sequence::RowSets& V1Sequence::row_sets(int r) {
    auto it = row_sets_.find(r);
    if (it != row_sets_.end()) return it->second;
    const V1Config& C = m_.c();
    const BatchStrides& bs = m_.bs;
    const uint64_t qkv_w = uint64_t(C.n_heads + 2 * C.n_kv_heads) * C.head_dim, q_w = uint64_t(C.n_heads) * C.head_dim;
    const BufferRef x = m_.x.sub(uint64_t(r) * bs.x * 4, uint64_t(C.td) * 4),
                    qkv = m_.qkv.sub(uint64_t(r) * bs.qkv * 4, qkv_w * 4),
                    q = m_.q.sub(uint64_t(r) * bs.q * 4, q_w * 4), att = m_.att.sub(uint64_t(r) * bs.q * 4, q_w * 4);
    DescriptorArena& S = *sets_;
    RowSets rs;
    for (int i = 0; i < C.n_layers; ++i) {
        const V1LayerWeights& lw = m_.w.layers[i];
        rs.rope.push_back(m_.fuse_qkv
                              ? m_.qkvr->bind(S, x, lw.qkv, lw.norm1, lw.q_norm, lw.k_norm, seq_, q, kc_[i], vc_[i])
                              : m_.rope->bind(S, qkv, lw.q_norm, lw.k_norm, seq_, q, kc_[i], vc_[i]));
        rs.attn.push_back(m_.attn->bind(S, q, kc_[i], vc_[i], seq_, att, scratch_));
    }
    return row_sets_.emplace(r, std::move(rs)).first->second;
}

void V1Sequence::record_forward(Recorder& rec, uint32_t n, uint32_t tok_offset, Logits mode) {
    const V1Config& C = m_.c();
    const uint32_t td = C.td, H = C.hidden_size, I = C.intermediate_size;
    const uint32_t qkv_w = (C.n_heads + 2 * C.n_kv_heads) * C.head_dim, q_w = C.n_heads * C.head_dim;
    auto mm = [&](const BoundSet& set, const WeightTensor& w, uint32_t M, uint32_t x_stride, uint32_t y_stride,
                  uint32_t x_row0, uint32_t flags) {
        m_.mm->record(rec, set, MatmulKernel::push_for(M, w, flags, kNormEps, x_stride, y_stride, x_row0));
    };

    EmbedConvPush ep{n, tok_offset, H, (uint32_t)C.e, (uint32_t)C.f, (uint32_t)C.conv_k, td,
                     (uint32_t)m_.w.embed.rows_per_part, (uint32_t)C.vocab_size, 0 /* packed rows */};
    m_.embed->record(rec, embed_set_, ep);

    for (int i = 0; i < C.n_layers; ++i) {
        const V1LayerWeights& lw = m_.w.layers[i];
        const LayerSets& ls = layers_[i];
        QkNormRopePush rp{n, (uint32_t)C.n_heads, (uint32_t)C.n_kv_heads, (uint32_t)C.head_dim, C.rms_norm_eps,
                          C.rope_theta, QKR_NORM | QKR_ROPE, (uint32_t)ctx_len_};
        if (m_.fuse_qkv && n <= m_.mm->matvec_max_m()) { // decode: one dispatch
            m_.qkvr->record(rec, ls.qkv_rope, rp, td, td, kNormEps);
        } else {
            mm(ls.qkv, lw.qkv, n, td, qkv_w, 0, MM_IN_RMSNORM);
            m_.rope->record(rec, ls.rope, rp);
        }
        AttentionPush ap{n, (uint32_t)C.n_heads, (uint32_t)C.n_kv_heads, (uint32_t)C.head_dim,
                         C.layer_sliding[i] ? (uint32_t)C.sliding_window : 0u, 1.0f / std::sqrt((float)C.head_dim)};
        const uint32_t splits = n > 1 ? 1u : C.layer_sliding[i] ? splits_window_ : splits_full_;
        m_.attn->record(rec, ls.attn, ap, splits);
        mm(ls.o, lw.o, n, q_w, td, 0, MM_ACCUMULATE);
        mm(ls.gu, lw.gate_up, n, td, 2 * I, 0, MM_IN_RMSNORM);
        mm(ls.down, lw.down, n, 2 * I, td, 0, MM_IN_SWIGLU | MM_ACCUMULATE);
    }
    if (mode == Logits::none) return;
    const uint32_t rows = mode == Logits::all ? n : 1, row0 = mode == Logits::all ? 0 : n - 1;
    if (C.tie_word_embeddings) {
        mm(head_gu_, m_.w.su_gate_up, rows, td, 8 * H, row0, 0);
        mm(head_down_, m_.w.su_down, rows, 8 * H, H, 0, MM_IN_SWIGLU);
        mm(logits_set_, m_.w.embed, rows, H, C.vocab_size, 0, MM_IN_RMSNORM);
    } else {
        mm(logits_set_, m_.w.lm_head, rows, td, C.vocab_size, row0, MM_IN_RMSNORM);
    }
}

} // namespace

std::unique_ptr<Model> load_v1(const std::string& dir, const ModelConfig& cfg, std::unique_ptr<Context> ctx,
                               const ModelOptions& opts) {
    return std::make_unique<V1Model>(dir, cfg, std::move(ctx), opts);
}

} // namespace vkc
