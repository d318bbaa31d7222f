#include "model/kernels/attention.h"

#include <algorithm>
#include <string>

namespace vkc {

namespace {
constexpr uint32_t kQkWg = 64;      // qk_norm_rope threads
// attention.comp spec constants {WG, NQ, HDMAX}: WG = 64 keys per block x NQ / 4 row groups, and the
// shared memory (q tile HDMAX x NQ, K chunk 32 x 65, scores 64 x NQ) stays under 16 KiB.
constexpr uint32_t kSmallSpec[3] = {128, 8, 128}; // hd <= 128
constexpr uint32_t kLargeSpec[3] = {64, 4, 256};  // hd <= 256

// Mirrors the SPLIT / COMBINE push of attention.comp.
struct AttentionSplitPush {
    AttentionPush base;
    uint32_t n_splits;
};
static_assert(sizeof(AttentionSplitPush) == 28, "AttentionSplitPush mirrors GLSL");

// Mirror the BATCH pushes of attention.comp and qk_norm_rope.comp.
struct AttentionBatchPush {
    uint32_t B, nh, nkv, hd, window;
    float scale;
    uint32_t n_splits;    // the largest row split count (grid z = B * n_splits)
    uint32_t stride;      // q / out row stride (floats)
    uint32_t part_stride; // scratch floats per row
    uint32_t splits[kAttnMaxBatch];
};
static_assert(sizeof(AttentionBatchPush) == 68 && sizeof(AttentionBatchPush) <= 128, "mirrors GLSL");
struct QkNormRopeBatchPush {
    uint32_t B, nh, nkv, hd;
    float eps, theta;
    uint32_t flags, in_stride, out_stride;
    uint32_t ctx[kAttnMaxBatch];
};
static_assert(sizeof(QkNormRopeBatchPush) == 68 && sizeof(QkNormRopeBatchPush) <= 128, "mirrors GLSL");
// Mirror the FUSED pushes of qk_norm_rope.comp.
struct QkvRopePush {
    QkNormRopePush base;
    uint32_t K, x_stride;
    float in_eps;
};
static_assert(sizeof(QkvRopePush) == 44, "QkvRopePush mirrors GLSL");
struct QkvRopeBatchPush {
    QkNormRopeBatchPush base; // in_stride: the x row stride
    uint32_t K;
    float in_eps;
};
static_assert(sizeof(QkvRopeBatchPush) == 76 && sizeof(QkvRopeBatchPush) <= 128, "mirrors GLSL");

// The BATCH variants index descriptor arrays by workgroup (dynamically uniform) and bind up to
// 4 + 3 * kAttnMaxBatch storage buffers (qk_norm_rope_batch; attention: 3 + 3 * kAttnMaxBatch).
bool batch_capable(const Context& ctx) {
    return ctx.features().dynamic_indexing && ctx.limits().max_storage_buffers >= 4 + 3 * kAttnMaxBatch;
}

// refs for a binding array of kAttnMaxBatch: rows' buffers, the unused tail repeating row 0's.
template <class F>
void push_rows(std::vector<BufferRef>& refs, const std::vector<BatchRow>& rows, F pick) {
    for (uint32_t b = 0; b < kAttnMaxBatch; ++b) refs.push_back(pick(rows[b < rows.size() ? b : 0]));
}

void check(bool ok, const std::string& what) {
    if (!ok) fail(Status::invalid_argument, what);
}

// Bindings 0..6 of qk_norm_rope's BATCH variants (the FUSED one appends W and norm_w): input, q / k norm
// weights, the rows' positions, q_out, the rows' K and V caches.
std::vector<BufferRef> rope_batch_refs(const BufferRef& in, const BufferRef& q_norm_w, const BufferRef& k_norm_w,
                                       const BufferRef& q_out, const std::vector<BatchRow>& rows) {
    std::vector<BufferRef> refs{in, q_norm_w, k_norm_w};
    push_rows(refs, rows, [](const BatchRow& r) { return r.seq; });
    refs.push_back(q_out);
    push_rows(refs, rows, [](const BatchRow& r) { return r.kcache; });
    push_rows(refs, rows, [](const BatchRow& r) { return r.vcache; });
    return refs;
}

void check_qk_push(const QkNormRopePush& push, const uint32_t max_groups[3]) {
    check(push.nh > 0 && push.nkv > 0 && push.hd > 0, "qk_norm_rope: nh, nkv and hd must be positive");
    check(!(push.flags & QKR_ROPE) || push.hd % 2 == 0, "qk_norm_rope: RoPE needs an even head dim");
    check(!(push.flags & QKR_ROPE) || push.theta > 0.f, "qk_norm_rope: rope theta must be positive");
    check((push.flags & ~uint32_t(QKR_NORM | QKR_ROPE)) == 0, "qk_norm_rope: unknown flags");
    check(push.hd < 65536, "qk_norm_rope: head dim too large");
    check(push.T <= max_groups[1] && push.nh + 2 * push.nkv <= max_groups[0],
          "qk_norm_rope: too many tokens / heads for one dispatch");
}

constexpr uint32_t kQkvWg = 512; // qkv_rope threads at most (4 per head row for hd 128), device limit permitting
} // namespace

QkNormRopeKernel::QkNormRopeKernel(KernelEnv& env) {
    PipelineDesc d;
    d.shader = "qk_norm_rope";
    d.binding_counts = {1, 1, 1, 1, 1, 1, 1};
    d.writes_mask = 0b1110000; // q_out, kcache, vcache
    d.push_size = sizeof(QkNormRopePush);
    d.spec = {kQkWg};
    p_ = std::make_unique<Pipeline>(env.ctx, env.cache, d);
    if (batch_capable(env.ctx)) {
        d.shader = "qk_norm_rope_batch";
        d.binding_counts = {1, 1, 1, kAttnMaxBatch, 1, kAttnMaxBatch, kAttnMaxBatch};
        d.push_size = sizeof(QkNormRopeBatchPush);
        batch_ = std::make_unique<Pipeline>(env.ctx, env.cache, d);
    }
    for (int i = 0; i < 3; ++i) max_groups_[i] = env.ctx.limits().max_workgroup_count[i];
}

BoundSet QkNormRopeKernel::bind_batch(DescriptorArena& sets, const BufferRef& qkv, const BufferRef& q_norm_w,
                                      const BufferRef& k_norm_w, const BufferRef& q_out,
                                      const std::vector<BatchRow>& rows) const {
    check(batch_ != nullptr, "qk_norm_rope: no batched variant on this device");
    check(!rows.empty() && rows.size() <= kAttnMaxBatch, "qk_norm_rope: batch of 1..8 sequences");
    return sets.bind(*batch_, rope_batch_refs(qkv, q_norm_w, k_norm_w, q_out, rows));
}

void QkNormRopeKernel::record_batch(Recorder& rec, const BoundSet& set, const QkNormRopePush& push,
                                    const std::vector<BatchRow>& rows, uint32_t qkv_stride,
                                    uint32_t q_stride) const {
    check(batch_ != nullptr && set.pipeline == batch_.get(), "qk_norm_rope: set not bound by bind_batch");
    check(!rows.empty() && rows.size() <= kAttnMaxBatch, "qk_norm_rope: batch of 1..8 sequences");
    check(qkv_stride >= (push.nh + 2 * push.nkv) * push.hd && q_stride >= push.nh * push.hd,
          "qk_norm_rope: batch row strides smaller than a row");
    QkNormRopePush one = push;
    one.T = 1;
    check_push(one);
    QkNormRopeBatchPush bp{(uint32_t)rows.size(), push.nh, push.nkv, push.hd, push.eps, push.theta, push.flags,
                           qkv_stride, q_stride, {}};
    for (size_t b = 0; b < rows.size(); ++b) bp.ctx[b] = rows[b].ctx;
    dispatch_push(rec, *batch_, set, bp, push.nh + 2 * push.nkv, (uint32_t)rows.size(), 1, "qk_norm_rope");
}

BoundSet QkNormRopeKernel::bind(DescriptorArena& sets, const BufferRef& qkv, const BufferRef& q_norm_w,
                                const BufferRef& k_norm_w, const BufferRef& seq, const BufferRef& q_out,
                                const BufferRef& kcache, const BufferRef& vcache) const {
    return sets.bind(*p_, {qkv, q_norm_w, k_norm_w, seq, q_out, kcache, vcache});
}

void QkNormRopeKernel::record(Recorder& rec, const BoundSet& set, const QkNormRopePush& push) const {
    if (push.T == 0) return;
    check_push(push);
    dispatch_push(rec, set, push, push.nh + 2 * push.nkv, push.T, 1, "qk_norm_rope");
}

void QkNormRopeKernel::check_push(const QkNormRopePush& push) const { check_qk_push(push, max_groups_); }

QkvRopeKernel::QkvRopeKernel(KernelEnv& env, WeightType type) : type_(type) {
    for (int i = 0; i < 3; ++i) max_groups_[i] = env.ctx.limits().max_workgroup_count[i];
    PipelineDesc d;
    d.shader = std::string("qkv_rope_") + weight_type_suffix(type);
    d.binding_counts = {1, 1, 1, 1, 1, 1, 1, 1, 1}; // x, qn, kn, seq, q_out, kc, vc, W, norm_w
    d.writes_mask = 0b001110000;
    d.push_size = sizeof(QkvRopePush);
    uint32_t wg = 64; // a power of two within the device's limit (>= 128 on every Vulkan device)
    while (wg * 2 <= std::min(kQkvWg, env.ctx.limits().max_workgroup_invocations)) wg *= 2;
    d.spec = {wg};
    p_ = std::make_unique<Pipeline>(env.ctx, env.cache, d);
    const Context& c = env.ctx;
    if (c.features().dynamic_indexing && c.limits().max_storage_buffers >= 6 + 3 * kAttnMaxBatch) {
        d.shader = std::string("qkv_rope_batch_") + weight_type_suffix(type);
        d.binding_counts = {1, 1, 1, kAttnMaxBatch, 1, kAttnMaxBatch, kAttnMaxBatch, 1, 1};
        d.push_size = sizeof(QkvRopeBatchPush);
        batch_ = std::make_unique<Pipeline>(env.ctx, env.cache, d);
    }
}

bool QkvRopeKernel::supports(const WeightTensor& w) const {
    // quantized: the shader finds the block scales after all rows of the one part
    return p_ && w.type == type_ && w.parts.size() == 1 && w.cols > 0 && (uint64_t)w.cols <= kMaxK &&
           (!weight_type_quantized(type_) || w.rows_per_part == w.rows);
}

BoundSet QkvRopeKernel::bind(DescriptorArena& sets, const BufferRef& x, const WeightTensor& w,
                             const BufferRef& norm_w, const BufferRef& q_norm_w, const BufferRef& k_norm_w,
                             const BufferRef& seq, const BufferRef& q_out, const BufferRef& kcache,
                             const BufferRef& vcache) const {
    check(supports(w), "qkv_rope: weights not fusable (type, parts or K)");
    return sets.bind(*p_, {x, q_norm_w, k_norm_w, seq, q_out, kcache, vcache, w.parts[0], norm_w});
}

void QkvRopeKernel::record(Recorder& rec, const BoundSet& set, const QkNormRopePush& push, uint32_t K,
                           uint32_t x_stride, float in_eps) const {
    if (push.T == 0) return;
    check_qk_push(push, max_groups_);
    check(set.pipeline == p_.get(), "qkv_rope: set not bound by bind");
    check(K > 0 && K <= kMaxK && x_stride >= K && push.hd <= AttentionKernel::kMaxHeadDim,
          "qkv_rope: K in [1, 1024], x_stride >= K, hd <= 256");
    dispatch_push(rec, set, QkvRopePush{push, K, x_stride, in_eps}, push.nh + 2 * push.nkv, push.T, 1, "qkv_rope");
}

BoundSet QkvRopeKernel::bind_batch(DescriptorArena& sets, const BufferRef& x, const WeightTensor& w,
                                   const BufferRef& norm_w, const BufferRef& q_norm_w, const BufferRef& k_norm_w,
                                   const BufferRef& q_out, const std::vector<BatchRow>& rows) const {
    check(batch_ != nullptr, "qkv_rope: no batched variant on this device");
    check(supports(w), "qkv_rope: weights not fusable (type, parts or K)");
    check(!rows.empty() && rows.size() <= kAttnMaxBatch, "qkv_rope: batch of 1..8 sequences");
    std::vector<BufferRef> refs = rope_batch_refs(x, q_norm_w, k_norm_w, q_out, rows);
    refs.push_back(w.parts[0]);
    refs.push_back(norm_w);
    return sets.bind(*batch_, refs);
}

void QkvRopeKernel::record_batch(Recorder& rec, const BoundSet& set, const QkNormRopePush& push,
                                 const std::vector<BatchRow>& rows, uint32_t K, uint32_t x_stride, uint32_t q_stride,
                                 float in_eps) const {
    check(batch_ != nullptr && set.pipeline == batch_.get(), "qkv_rope: set not bound by bind_batch");
    check(!rows.empty() && rows.size() <= kAttnMaxBatch, "qkv_rope: batch of 1..8 sequences");
    check(K > 0 && K <= kMaxK && x_stride >= K && q_stride >= push.nh * push.hd &&
              push.hd <= AttentionKernel::kMaxHeadDim,
          "qkv_rope: K in [1, 1024], row strides at least a row, hd <= 256");
    QkNormRopePush one = push;
    one.T = 1;
    check_qk_push(one, max_groups_);
    QkvRopeBatchPush bp{{(uint32_t)rows.size(), push.nh, push.nkv, push.hd, push.eps, push.theta, push.flags,
                         x_stride, q_stride, {}},
                        K, in_eps};
    for (size_t b = 0; b < rows.size(); ++b) bp.base.ctx[b] = rows[b].ctx;
    dispatch_push(rec, *batch_, set, bp, push.nh + 2 * push.nkv, (uint32_t)rows.size(), 1, "qkv_rope");
}

AttentionKernel::AttentionKernel(KernelEnv& env) {
    PipelineDesc d;
    d.binding_counts = {1, 1, 1, 1, 1, 1};
    d.writes_mask = 0b110000; // out, scratch (tracked for every variant: conservative barriers)
    for (int v = 0; v < 2; ++v) {
        const uint32_t* sp = v == 0 ? kSmallSpec : kLargeSpec;
        d.spec = {sp[0], sp[1], sp[2]};
        d.shader = "attention";
        d.push_size = sizeof(AttentionPush);
        single_[v] = std::make_unique<Pipeline>(env.ctx, env.cache, d);
        d.shader = "attention_split";
        d.push_size = sizeof(AttentionSplitPush);
        split_[v] = std::make_unique<Pipeline>(env.ctx, env.cache, d);
    }
    d.shader = "attention_combine";
    d.spec = {128, 8, 128};
    combine_ = std::make_unique<Pipeline>(env.ctx, env.cache, d);
    if (batch_capable(env.ctx)) {
        d.binding_counts = {1, kAttnMaxBatch, kAttnMaxBatch, kAttnMaxBatch, 1, 1};
        d.push_size = sizeof(AttentionBatchPush);
        for (int v = 0; v < 2; ++v) {
            const uint32_t* sp = v == 0 ? kSmallSpec : kLargeSpec;
            d.spec = {sp[0], sp[1], sp[2]};
            d.shader = "attention_split_batch";
            split_batch_[v] = std::make_unique<Pipeline>(env.ctx, env.cache, d);
        }
        d.shader = "attention_combine_batch";
        d.spec = {128, 8, 128};
        combine_batch_ = std::make_unique<Pipeline>(env.ctx, env.cache, d);
    }
    for (int i = 0; i < 3; ++i) max_groups_[i] = env.ctx.limits().max_workgroup_count[i];
}

BoundSet AttentionKernel::bind(DescriptorArena& sets, const BufferRef& q, const BufferRef& kcache,
                               const BufferRef& vcache, const BufferRef& seq, const BufferRef& out,
                               const BufferRef& scratch) const {
    return sets.bind(*single_[0], {q, kcache, vcache, seq, out, scratch.valid() ? scratch : out});
}

BoundSet AttentionKernel::bind_batch(DescriptorArena& sets, const BufferRef& q, const BufferRef& out,
                                     const BufferRef& scratch, const std::vector<BatchRow>& rows) const {
    check(combine_batch_ != nullptr, "attention: no batched variant on this device");
    check(!rows.empty() && rows.size() <= kAttnMaxBatch, "attention: batch of 1..8 sequences");
    std::vector<BufferRef> refs{q};
    push_rows(refs, rows, [](const BatchRow& r) { return r.kcache; });
    push_rows(refs, rows, [](const BatchRow& r) { return r.vcache; });
    push_rows(refs, rows, [](const BatchRow& r) { return r.seq; });
    refs.push_back(out);
    refs.push_back(scratch);
    return sets.bind(*combine_batch_, refs);
}

void AttentionKernel::record_batch(Recorder& rec, const BoundSet& set, const AttentionPush& push,
                                   const std::vector<BatchRow>& rows, uint32_t stride, uint32_t part_stride) const {
    check(combine_batch_ != nullptr && set.pipeline == combine_batch_.get(), "attention: set not bound by bind_batch");
    check(!rows.empty() && rows.size() <= kAttnMaxBatch, "attention: batch of 1..8 sequences");
    check(push.nkv > 0 && push.nh % push.nkv == 0, "attention: nh must be a positive multiple of nkv");
    check(push.hd > 0 && push.hd <= kMaxHeadDim, "attention: head dim must be in [1, 256]");
    check(stride >= push.nh * push.hd, "attention: batch row stride smaller than a row");
    AttentionBatchPush bp{(uint32_t)rows.size(), push.nh, push.nkv, push.hd, push.window, push.scale, 1, stride,
                          part_stride, {}};
    for (size_t b = 0; b < rows.size(); ++b) {
        const BatchRow& r = rows[b];
        check(r.n_splits >= 1 && r.n_splits <= kMaxSplits, "attention: n_splits must be in [1, 256]");
        check(uint64_t(part_stride) * 4 >= scratch_bytes(1, push.nh, push.hd, r.n_splits),
              "attention: batch row " + std::to_string(b) + ": part_stride below scratch_bytes(1, nh, hd, n_splits)");
        bp.splits[b] = r.n_splits;
        bp.n_splits = std::max(bp.n_splits, r.n_splits);
    }
    check(set.refs.size() == 3 + 3 * kAttnMaxBatch && set.refs.back().size >= uint64_t(part_stride) * 4 * rows.size(),
          "attention: batch scratch smaller than rows x part_stride");
    const int v = push.hd <= kSmallSpec[2] ? 0 : 1;
    const uint32_t tiles = ceil_div(uint64_t(push.nh / push.nkv), v == 0 ? kSmallSpec[1] : kLargeSpec[1]);
    check(tiles <= max_groups_[0] && push.nkv <= max_groups_[1] && bp.B * bp.n_splits <= max_groups_[2] &&
              push.nh <= max_groups_[0],
          "attention: too many heads for one dispatch");
    dispatch_push(rec, *split_batch_[v], set, bp, tiles, push.nkv, bp.B * bp.n_splits, "attention_split");
    dispatch_push(rec, *combine_batch_, set, bp, push.nh, bp.B, 1, "attention_combine");
}

VkDeviceSize AttentionKernel::scratch_bytes(uint32_t T, uint32_t nh, uint32_t hd, uint32_t n_splits) {
    return VkDeviceSize(n_splits) * T * nh * (hd + 2) * sizeof(float);
}

uint32_t AttentionKernel::suggest_splits(uint32_t T, uint32_t nh, uint32_t nkv, uint32_t max_keys) {
    if (T == 0 || nkv == 0 || nh % nkv != 0) return 1;
    // Measured on an H100 (hd 128, nkv 8, T = 1): ~64+ keys per split and ~256 workgroups in all were
    // best from 512 to 32k keys; larger grids (prefill) gain nothing from splitting.
    const uint64_t tiles = uint64_t(ceil_div(uint64_t(T) * (nh / nkv), kSmallSpec[1])) * nkv;
    const uint64_t by_grid = std::max<uint64_t>(1, 256 / tiles);
    const uint64_t by_keys = std::max<uint64_t>(1, ceil_div(max_keys, 64));
    return uint32_t(std::min<uint64_t>({by_grid, by_keys, 128}));
}

void AttentionKernel::record(Recorder& rec, const BoundSet& set, const AttentionPush& push,
                             uint32_t n_splits) const {
    if (push.T == 0) return;
    check(push.nkv > 0 && push.nh % push.nkv == 0, "attention: nh must be a positive multiple of nkv");
    check(push.hd > 0 && push.hd <= kMaxHeadDim, "attention: head dim must be in [1, 256]");
    check(n_splits >= 1 && n_splits <= kMaxSplits, "attention: n_splits must be in [1, 256]");
    const int v = push.hd <= kSmallSpec[2] ? 0 : 1;
    const uint32_t tiles = ceil_div(uint64_t(push.T) * (push.nh / push.nkv), v == 0 ? kSmallSpec[1] : kLargeSpec[1]);
    check(tiles <= max_groups_[0] && push.nkv <= max_groups_[1] && n_splits <= max_groups_[2] &&
              push.nh <= max_groups_[0] && push.T <= max_groups_[1],
          "attention: too many queries / heads for one dispatch");
    if (n_splits == 1) {
        dispatch_push(rec, *single_[v], set, push, tiles, push.nkv, 1, "attention");
        return;
    }
    check(set.refs.size() == 6, "attention: set not bound by AttentionKernel::bind");
    const BufferRef& sc = set.refs[5];
    const BufferRef& out = set.refs[4];
    check(!(sc.buffer == out.buffer && sc.offset == out.offset) &&
              sc.size >= scratch_bytes(push.T, push.nh, push.hd, n_splits),
          "attention: n_splits > 1 needs a scratch of scratch_bytes(T, nh, hd, n_splits) in bind()");
    const AttentionSplitPush sp{push, n_splits};
    dispatch_push(rec, *split_[v], set, sp, tiles, push.nkv, n_splits, "attention_split");
    dispatch_push(rec, *combine_, set, sp, push.nh, push.T, 1, "attention_combine");
}

} // namespace vkc
