// attention family (ConvGPT v1 self-attention; ConvGPT-v2 memory layers reuse the rope / cache write):
//   QkNormRopeKernel: fused qkv rows -> per-head RMSNorm (q_norm / k_norm) + NeoX RoPE; q to a buffer,
//                     k and v into the layer's K / V cache at the absolute position (seq.pos + t).
//   AttentionKernel:  causal GQA attention over the cache with an online softmax (any context length,
//                     bounded shared memory), optional sliding window, optional split-K for decode.
// Positions come from the SeqInfo buffer (not push constants) so recorded decode steps can be replayed.
#pragma once
#include "model/kernels/kernel.h"

namespace vkc {

// QkNormRopePush::flags
enum QkNormRopeFlags : uint32_t {
    QKR_NORM = 1, // RMSNorm(eps) over each q / k head's hd values, times q_norm_w / k_norm_w [hd]
    QKR_ROPE = 2, // rotate-half RoPE, inv_freq_i = theta^(-2i/hd) (float32 as in HF), needs an even hd
};

// Mirrors `Push` in shaders/attention/qk_norm_rope.comp.
struct QkNormRopePush {
    uint32_t T, nh, nkv, hd; // tokens, q heads, kv heads, head dim
    float eps, theta;        // q/k_norm eps (rms_norm_eps), rope_theta
    uint32_t flags;          // QkNormRopeFlags
    uint32_t ctx;            // cache capacity in rows (positions); rows >= ctx are never written
};
static_assert(sizeof(QkNormRopePush) == 32, "QkNormRopePush mirrors GLSL");

// Most sequences one batched (decode_batch) dispatch takes: the BATCH variants' descriptor arrays.
constexpr uint32_t kAttnMaxBatch = 8;

// One sequence's side of a batched step: its position, caches, capacity and attention split count.
struct BatchRow {
    BufferRef seq, kcache, vcache;
    uint32_t ctx = 0, n_splits = 1;
};

// qkv [T, (nh + 2 nkv) hd] (row t = q heads | k heads | v heads of token t at position p = seq.pos + t)
//   -> q_out [T, nh hd] (normed + roped q), kcache / vcache [ctx, nkv, hd] row p (normed + roped k; v).
// One workgroup per (head, token).
class QkNormRopeKernel {
public:
    explicit QkNormRopeKernel(KernelEnv& env);
    // Without QKR_NORM any buffer (e.g. qkv) may be passed for the norm weights.
    BoundSet bind(DescriptorArena& sets, const BufferRef& qkv, const BufferRef& q_norm_w, const BufferRef& k_norm_w,
                  const BufferRef& seq, const BufferRef& q_out, const BufferRef& kcache,
                  const BufferRef& vcache) const;
    // Validates the push (QKR_ROPE needs an even hd); T == 0 records nothing.
    void record(Recorder& rec, const BoundSet& set, const QkNormRopePush& push) const;

    // Batched decode (one token of each of rows.size() <= kAttnMaxBatch sequences, qkv row b at
    // b * qkv_stride floats, q_out row b at b * q_stride): one dispatch whose rows equal single-sequence
    // records. Only where batch_supported() (dynamic indexing of storage-buffer arrays, 28 buffers).
    bool batch_supported() const { return batch_ != nullptr; }
    BoundSet bind_batch(DescriptorArena& sets, const BufferRef& qkv, const BufferRef& q_norm_w,
                        const BufferRef& k_norm_w, const BufferRef& q_out, const std::vector<BatchRow>& rows) const;
    void record_batch(Recorder& rec, const BoundSet& set, const QkNormRopePush& push,
                      const std::vector<BatchRow>& rows, uint32_t qkv_stride, uint32_t q_stride) const;

private:
    void check_push(const QkNormRopePush& push) const;
    std::unique_ptr<Pipeline> p_, batch_;
    uint32_t max_groups_[3] = {65535, 65535, 65535};
};

// Decode fusion of the qkv projection into QkNormRopeKernel (qk_norm_rope.comp FUSED): each workgroup
// (head, token) computes its head's hd values of RMSNorm(x) * norm_w times W_qkv^T itself, from its x row
// staged in shared memory, then norms, ropes and writes q / the caches exactly as QkNormRopeKernel: one
// dispatch where the unfused step has a matvec and qk_norm_rope. x [T, x_stride] (row b of a batch at
// b * x_stride), W [(nh + 2 nkv) hd, K] of any weight type in one part, K <= kMaxK; for few tokens (decode: the
// head's weight rows are read once per token).
class QkvRopeKernel {
public:
    static constexpr uint32_t kMaxK = 1024; // x row in 4 KiB of shared memory

    QkvRopeKernel(KernelEnv& env, WeightType type);
    // w can be fused: the kernel's type, one part, K <= kMaxK.
    bool supports(const WeightTensor& w) const;
    BoundSet bind(DescriptorArena& sets, const BufferRef& x, const WeightTensor& w, const BufferRef& norm_w,
                  const BufferRef& q_norm_w, const BufferRef& k_norm_w, const BufferRef& seq, const BufferRef& q_out,
                  const BufferRef& kcache, const BufferRef& vcache) const;
    // push as QkNormRopeKernel's (T tokens); in_eps: the input RMSNorm's eps.
    void record(Recorder& rec, const BoundSet& set, const QkNormRopePush& push, uint32_t K, uint32_t x_stride,
                float in_eps) const;
    // One token of each of rows.size() <= kAttnMaxBatch sequences (x row b at b * x_stride, q_out row b at
    // b * q_stride), rows equal to single-sequence records. Only where batch_supported() (dynamic indexing,
    // 30 storage buffers).
    bool batch_supported() const { return batch_ != nullptr; }
    BoundSet bind_batch(DescriptorArena& sets, const BufferRef& x, const WeightTensor& w, const BufferRef& norm_w,
                        const BufferRef& q_norm_w, const BufferRef& k_norm_w, const BufferRef& q_out,
                        const std::vector<BatchRow>& rows) const;
    void record_batch(Recorder& rec, const BoundSet& set, const QkNormRopePush& push, const std::vector<BatchRow>& rows,
                      uint32_t K, uint32_t x_stride, uint32_t q_stride, float in_eps) const;

private:
    WeightType type_;
    std::unique_ptr<Pipeline> p_, batch_;
    uint32_t max_groups_[3] = {65535, 65535, 65535};
};

// Mirrors `Push` in shaders/attention/attention.comp (non-split variant).
struct AttentionPush {
    uint32_t T, nh, nkv, hd;
    uint32_t window; // sliding window (key j visible to query p iff p - j < window); 0 = none
    float scale;     // hd^-0.5
};
static_assert(sizeof(AttentionPush) == 24, "AttentionPush mirrors GLSL");

// q [T, nh hd] (query t at position seq.pos + t), kcache / vcache [ctx, nkv, hd] holding keys
// 0 .. seq.pos + T - 1 -> out [T, nh hd]. q head h uses kv head h / (nh / nkv); hd <= kMaxHeadDim.
// A workgroup handles 8 query rows (4 when hd > 128) of one kv head (t-major over the group's heads),
// 64 keys per block.
// Split-K (n_splits > 1, for decode with long contexts): each of n_splits workgroups per tile handles
// a slice of the key range and writes partials to `scratch` (scratch_bytes), then a combine pass merges
// them into out. The split count is fixed at record time; the key range is read from seq on the GPU,
// so a recorded decode step stays valid as seq.pos grows (slices past the range are empty and cheap).
class AttentionKernel {
public:
    static constexpr uint32_t kMaxHeadDim = 256;
    static constexpr uint32_t kMaxSplits = 256;

    explicit AttentionKernel(KernelEnv& env);
    // scratch: optional (needed only for n_splits > 1), at least scratch_bytes(T, nh, hd, n_splits).
    // All variants share one descriptor-set layout (binding 5 = scratch, or out again when absent).
    BoundSet bind(DescriptorArena& sets, const BufferRef& q, const BufferRef& kcache, const BufferRef& vcache,
                  const BufferRef& seq, const BufferRef& out, const BufferRef& scratch = BufferRef{}) const;
    // Validates the push; T == 0 records nothing. n_splits > 1 needs a set bound with a large enough scratch.
    void record(Recorder& rec, const BoundSet& set, const AttentionPush& push, uint32_t n_splits = 1) const;

    // Batched decode: one token of each of rows.size() <= kAttnMaxBatch sequences (q / out row b at
    // b * stride floats), split-K with each row's own n_splits (1 included): two dispatches whose rows
    // equal single-sequence records bit for bit. Row b's partials go to scratch at b * part_stride floats
    // (part_stride >= scratch_bytes(1, nh, hd, its n_splits) / 4). Only where batch_supported().
    bool batch_supported() const { return combine_batch_ != nullptr; }
    BoundSet bind_batch(DescriptorArena& sets, const BufferRef& q, const BufferRef& out, const BufferRef& scratch,
                        const std::vector<BatchRow>& rows) const;
    void record_batch(Recorder& rec, const BoundSet& set, const AttentionPush& push, const std::vector<BatchRow>& rows,
                      uint32_t stride, uint32_t part_stride) const;

    static VkDeviceSize scratch_bytes(uint32_t T, uint32_t nh, uint32_t hd, uint32_t n_splits);
    // Split count for T queries whose key range can reach max_keys keys (decode: the cache capacity, or
    // min(capacity, window) for sliding layers): 1 for prefill-sized grids, up to 128 for decode.
    static uint32_t suggest_splits(uint32_t T, uint32_t nh, uint32_t nkv, uint32_t max_keys);

private:
    std::unique_ptr<Pipeline> single_[2], split_[2], combine_; // [0]: hd <= 128, [1]: hd <= 256
    std::unique_ptr<Pipeline> split_batch_[2], combine_batch_;
    uint32_t max_groups_[3] = {65535, 65535, 65535};
};

} // namespace vkc
