#include "model/kernels/topk.h"
#include <algorithm>

namespace vkc {

TopKKernel::TopKKernel(KernelEnv& env, uint32_t wg, uint32_t slice_len) : slice_len_(slice_len) {
    check_workgroup_size(env, "topk", wg, 1024); // shared memory: 12 bytes per invocation
    if (slice_len == 0) fail(Status::invalid_argument, "topk: slice_len must be >= 1");
    // Both pipelines have the layout {x, scratch, out}; scratch is marked written in both so the merge
    // pass gets a barrier after the slice pass and the BoundSet is interchangeable.
    slice_ = make_pipeline(env, "topk_slice", {1, 1, 1}, 0b110, sizeof(TopKPush), {wg});
    merge_ = make_pipeline(env, "topk_merge", {1, 1, 1}, 0b110, sizeof(TopKPush), {wg});
}

uint64_t TopKKernel::scratch_bytes(uint32_t rows, uint32_t n, uint32_t k) const {
    return std::max<uint64_t>(8, uint64_t(rows) * n_slices(n) * k * sizeof(TopKPair));
}

BoundSet TopKKernel::bind(DescriptorArena& sets, const BufferRef& x, const BufferRef& scratch,
                          const BufferRef& out) const {
    return sets.bind(*slice_, {x, scratch, out});
}

uint32_t TopKKernel::record(Recorder& rec, const BoundSet& set, uint32_t rows, uint32_t n, uint32_t x_stride,
                            uint32_t k, uint32_t out_offset) const {
    if (k < 1 || k > kTopKMax) fail(Status::invalid_argument, "topk: k must be in [1, 64]");
    if (n < 1 || rows < 1) fail(Status::invalid_argument, "topk: empty input");
    TopKPush p{rows, n, x_stride, k, slice_len_, n_slices(n), 0, out_offset};
    p.direct = p.n_slices == 1 ? 1 : 0;
    dispatch_push(rec, *slice_, set, p, p.n_slices, rows, 1, "topk_slice");
    if (p.direct) return 1;
    dispatch_push(rec, *merge_, set, p, 1, rows, 1, "topk_merge");
    return 2;
}

} // namespace vkc
