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

void check(bool ok, const std::string& what) {
    if (!ok) fail(Status::invalid_argument, what);
}
} // namespace

QkNormRopeKernel::QkNormRopeKernel(KernelEnv& env) {
    PipelineDesc d;
    d.shader = "qk_norm_rope";
    d.binding_counts = {1, 1, 1, 1, 1, 1, 1};
    d.writes_mask = 0b1110000; // q_out, kcache, vcache
    d.push_size = sizeof(QkNormRopePush);
    d.spec = {kQkWg};
    p_ = std::make_unique<Pipeline>(env.ctx, env.cache, d);
    for (int i = 0; i < 3; ++i) max_groups_[i] = env.ctx.limits().max_workgroup_count[i];
}

BoundSet QkNormRopeKernel::bind(DescriptorArena& sets, const BufferRef& qkv, const BufferRef& q_norm_w,
                                const BufferRef& k_norm_w, const BufferRef& seq, const BufferRef& q_out,
                                const BufferRef& kcache, const BufferRef& vcache) const {
    return sets.bind(*p_, {qkv, q_norm_w, k_norm_w, seq, q_out, kcache, vcache});
}

void QkNormRopeKernel::record(Recorder& rec, const BoundSet& set, const QkNormRopePush& push) const {
    if (push.T == 0) return;
    check(push.nh > 0 && push.nkv > 0 && push.hd > 0, "qk_norm_rope: nh, nkv and hd must be positive");
    check(!(push.flags & QKR_ROPE) || push.hd % 2 == 0, "qk_norm_rope: RoPE needs an even head dim");
    check(!(push.flags & QKR_ROPE) || push.theta > 0.f, "qk_norm_rope: rope theta must be positive");
    check((push.flags & ~uint32_t(QKR_NORM | QKR_ROPE)) == 0, "qk_norm_rope: unknown flags");
    check(push.hd < 65536, "qk_norm_rope: head dim too large");
    check(push.T <= max_groups_[1] && push.nh + 2 * push.nkv <= max_groups_[0],
          "qk_norm_rope: too many tokens / heads for one dispatch");
    dispatch_push(rec, set, push, push.nh + 2 * push.nkv, push.T, 1, "qk_norm_rope");
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
    for (int i = 0; i < 3; ++i) max_groups_[i] = env.ctx.limits().max_workgroup_count[i];
}

BoundSet AttentionKernel::bind(DescriptorArena& sets, const BufferRef& q, const BufferRef& kcache,
                               const BufferRef& vcache, const BufferRef& seq, const BufferRef& out,
                               const BufferRef& scratch) const {
    return sets.bind(*single_[0], {q, kcache, vcache, seq, out, scratch.valid() ? scratch : out});
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
