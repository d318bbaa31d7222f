#include "model/kernels/basic.h"

namespace vkc {

AdvanceKernel::AdvanceKernel(KernelEnv& env) {
    p_ = make_pipeline(env, "advance", {1}, 0b1, sizeof(AdvancePush));
}

BoundSet AdvanceKernel::bind(DescriptorArena& sets, const BufferRef& seq) const { return sets.bind(*p_, {seq}); }

void AdvanceKernel::record(Recorder& rec, const BoundSet& set, uint32_t n_tokens) const {
    dispatch_push(rec, set, AdvancePush{n_tokens}, 1, 1, 1, "advance");
}

RmsNormKernel::RmsNormKernel(KernelEnv& env) {
    p_ = make_pipeline(env, "rmsnorm", {1, 1, 1}, 0b100, sizeof(RmsNormPush), {128});
}

BoundSet RmsNormKernel::bind(DescriptorArena& sets, const BufferRef& x, const BufferRef& w, const BufferRef& y) const {
    return sets.bind(*p_, {x, w, y});
}

void RmsNormKernel::record(Recorder& rec, const BoundSet& set, const RmsNormPush& push) const {
    dispatch_push(rec, set, push, push.n_rows, 1, 1, "rmsnorm");
}

} // namespace vkc
