#include "model/kernels/memory.h"

#include <string>

#include "runtime/status.h"

namespace vkc {

namespace {
std::unique_ptr<Pipeline> make(KernelEnv& env, const char* shader, std::vector<uint32_t> counts, uint32_t writes,
                               uint32_t push_size, uint32_t wg, uint32_t max_wg) {
    check_workgroup_size(env, shader, wg, max_wg);
    return make_pipeline(env, shader, std::move(counts), writes, push_size, {wg});
}

void check_shape(const char* what, uint32_t chunk, uint32_t head_dim, uint32_t top_k) {
    if (chunk == 0 || head_dim == 0 || head_dim > MemAttentionKernel::max_head_dim ||
        top_k > MemAttentionKernel::max_top_k)
        fail(Status::invalid_argument, std::string(what) + ": need C >= 1, 1 <= Dm <= 512, K <= 32");
}
} // namespace

MemSummarizeKernel::MemSummarizeKernel(KernelEnv& env)
    : p_(make(env, "mem_summarize", {1, 1, 1}, 0b100, sizeof(MemSummarizePush), 128, 1024)) {}

BoundSet MemSummarizeKernel::bind(DescriptorArena& sets, const BufferRef& seq, const BufferRef& kcache,
                                  const BufferRef& ksum) const {
    return sets.bind(*p_, {seq, kcache, ksum});
}

void MemSummarizeKernel::record(Recorder& rec, const BoundSet& set, const MemSummarizePush& push) const {
    if (push.chunk == 0) fail(Status::invalid_argument, "mem_summarize: chunk size 0");
    if (push.n_tokens == 0 || push.row == 0) return;
    dispatch_push(rec, set, push, ceil_div(push.n_tokens, push.chunk), ceil_div(push.row, 128), 1, "mem_summarize");
}

MemSelectKernel::MemSelectKernel(KernelEnv& env, uint32_t wg)
    : p_(make(env, "mem_select", {1, 1, 1, 1}, 0b1000, sizeof(MemSelectPush), wg, 1024)) {}

BoundSet MemSelectKernel::bind(DescriptorArena& sets, const BufferRef& seq, const BufferRef& q, const BufferRef& ksum,
                               const BufferRef& cand) const {
    return sets.bind(*p_, {seq, q, ksum, cand});
}

void MemSelectKernel::record(Recorder& rec, const BoundSet& set, const MemSelectPush& push) const {
    check_shape("mem_select", push.chunk, push.head_dim, push.top_k);
    if (push.n_tokens == 0 || push.heads == 0 || push.top_k == 0) return; // K = 0: nothing to select
    MemSelectPush p = push;
    p.q_block = q_block(push.head_dim);
    dispatch_push(rec, set, p, ceil_div(p.n_tokens, p.q_block), p.heads, p.max_splits, "mem_select");
}

MemAttentionKernel::MemAttentionKernel(KernelEnv& env, uint32_t wg)
    : p_(make(env, "mem_attention", {1, 1, 1, 1, 1, 1}, 1u << 5, sizeof(MemAttentionPush), wg, max_wg)) {}

BoundSet MemAttentionKernel::bind(DescriptorArena& sets, const BufferRef& seq, const BufferRef& q,
                                  const BufferRef& kcache, const BufferRef& vcache, const BufferRef& cand,
                                  const BufferRef& o) const {
    return sets.bind(*p_, {seq, q, kcache, vcache, cand, o});
}

void MemAttentionKernel::record(Recorder& rec, const BoundSet& set, const MemAttentionPush& push) const {
    check_shape("mem_attention", push.chunk, push.head_dim, push.top_k);
    if (push.top_k > 0 && push.max_splits == 0)
        fail(Status::invalid_argument, "mem_attention: max_splits is 0: record MemSelectKernel first and pass its "
                                       "max_splits (see model/kernels/memory.h)");
    if (push.n_tokens == 0 || push.heads == 0) return;
    dispatch_push(rec, set, push, push.n_tokens, push.heads, 1, "mem_attention");
}

} // namespace vkc
