// ConvGPT-v2 sparse chunk memory (shared/spec/convgpt-v2.md step 5), per memory layer:
//   qk_norm_rope wrote q [T, Hm*Dm] and kcache / vcache [ctx, Hm, Dm] at positions pos .. pos+T-1;
//   MemSummarizeKernel: ksum[j] = mean of kcache over chunk j, for each chunk closing in [pos, pos+T)
//   MemSelectKernel:    per (query, head, split of 256 chunks): the split's top-K chunks -> cand
//   MemAttentionKernel: merges the splits' candidates into the top-K (all chunks while c <= K), then
//                       softmax attention over those chunks and the open one -> o [T, Hm*Dm]
//   then o_proj(o) with residual add.
// ksum (n_chunks * Hm * Dm f32, n_chunks = ctx / C) is per layer and per sequence, like the caches; it
// is stored element-major, ksum[i * n_chunks + j] for element i = h * Dm + d of chunk j (coalesced reads
// in mem_select). cand is scratch (cand_bytes), shareable by all layers.
#pragma once
#include <algorithm>

#include "model/kernels/kernel.h"

namespace vkc {

// Mirrors mem_summarize.comp.
struct MemSummarizePush {
    uint32_t n_tokens; // T of the batch just written to kcache
    uint32_t row;      // Hm * Dm
    uint32_t chunk;    // C
    uint32_t n_chunks; // chunks ksum holds (its stride)
    uint32_t ctx;      // rows of kcache
};
static_assert(sizeof(MemSummarizePush) <= 128);

class MemSummarizeKernel {
public:
    explicit MemSummarizeKernel(KernelEnv& env);
    BoundSet bind(DescriptorArena& sets, const BufferRef& seq, const BufferRef& kcache, const BufferRef& ksum) const;
    // Dispatches ceil(T / C) x ceil(row / 128) workgroups; those of chunks not closing exit at once.
    void record(Recorder& rec, const BoundSet& set, const MemSummarizePush& push) const;
private:
    std::unique_ptr<Pipeline> p_;
};

// Mirrors mem_select.comp.
struct MemSelectPush {
    uint32_t n_tokens;
    uint32_t heads;      // Hm
    uint32_t head_dim;   // Dm <= 512
    uint32_t chunk;      // C >= 1
    uint32_t top_k;      // K <= 32
    uint32_t q_stride;   // floats between rows of q (Hm*Dm)
    uint32_t max_splits; // MemSelectKernel::max_splits(n_chunks): the cand layout
    uint32_t ctx;        // positions >= ctx are skipped
    uint32_t q_block;    // queries per workgroup: set by MemSelectKernel::record
    uint32_t n_chunks;   // chunks ksum holds (its stride), as given to MemSummarizeKernel
};
static_assert(sizeof(MemSelectPush) <= 128);

// Workgroups (ceil(T / q_block), Hm, max_splits), q_block = clamp(1024 / Dm, 1, 8) queries sharing each
// summary read (prefill); a split past the block's closed chunks, or any while c <= K, exits at once. Reads ksum of chunks closed before each query's chunk: run MemSummarizeKernel
// for the batch first.
class MemSelectKernel {
public:
    static constexpr uint32_t span = 256; // chunks per split (SPAN in mem_select.comp / mem_attention.comp)
    static uint32_t max_splits(uint32_t n_chunks) { return n_chunks == 0 ? 1 : ceil_div(n_chunks, span); }
    static uint32_t q_block(uint32_t head_dim) { return std::clamp<uint32_t>(1024 / std::max(head_dim, 1u), 1, 8); }
    // bytes of cand for batches of up to max_tokens tokens: [T, Hm, max_splits, K] of (score, chunk)
    static uint64_t cand_bytes(uint32_t max_tokens, uint32_t heads, uint32_t n_chunks, uint32_t top_k) {
        return std::max<uint64_t>(16, uint64_t(max_tokens) * heads * max_splits(n_chunks) * top_k * 8);
    }
    explicit MemSelectKernel(KernelEnv& env, uint32_t wg = 128);
    BoundSet bind(DescriptorArena& sets, const BufferRef& seq, const BufferRef& q, const BufferRef& ksum,
                  const BufferRef& cand) const;
    void record(Recorder& rec, const BoundSet& set, const MemSelectPush& push) const;
private:
    std::unique_ptr<Pipeline> p_;
};

// Mirrors mem_attention.comp.
struct MemAttentionPush {
    uint32_t n_tokens;
    uint32_t heads;      // Hm
    uint32_t head_dim;   // Dm <= max_head_dim
    uint32_t chunk;      // C >= 1
    uint32_t top_k;      // K <= max_top_k
    uint32_t q_stride;   // floats between rows of q (Hm*Dm)
    uint32_t o_stride;   // floats between rows of o (Hm*Dm)
    uint32_t ctx;        // rows of kcache / vcache; positions >= ctx are skipped
    uint32_t max_splits; // as given to MemSelectKernel
};
static_assert(sizeof(MemAttentionPush) <= 128);

// One workgroup per (token, head); run MemSelectKernel for the batch first (same cand). wg: threads per
// (token, head), a power of two <= 512 (shared memory) and <= the device's limit.
class MemAttentionKernel {
public:
    static constexpr uint32_t max_head_dim = 512, max_top_k = 32, max_wg = 512;
    explicit MemAttentionKernel(KernelEnv& env, uint32_t wg = 128);
    BoundSet bind(DescriptorArena& sets, const BufferRef& seq, const BufferRef& q, const BufferRef& kcache,
                  const BufferRef& vcache, const BufferRef& cand, const BufferRef& o) const;
    void record(Recorder& rec, const BoundSet& set, const MemAttentionPush& push) const;
private:
    std::unique_ptr<Pipeline> p_;
};

} // namespace vkc
