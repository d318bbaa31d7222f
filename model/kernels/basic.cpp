#include "model/kernels/basic.h"

namespace vkc {

AdvanceKernel::AdvanceKernel(KernelEnv& env) {
    PipelineDesc d;
    d.shader = "advance";
    d.binding_counts = {1};
    d.writes_mask = 0b1;
    d.push_size = sizeof(AdvancePush);
    p_ = std::make_unique<Pipeline>(env.ctx, env.cache, d);
}

BoundSet AdvanceKernel::bind(DescriptorArena& sets, const BufferRef& seq) const { return sets.bind(*p_, {seq}); }

void AdvanceKernel::record(Recorder& rec, const BoundSet& set, uint32_t n_tokens) const {
    dispatch_push(rec, set, AdvancePush{n_tokens}, 1, 1, 1, "advance");
}

RmsNormKernel::RmsNormKernel(KernelEnv& env) {
    PipelineDesc d;
    d.shader = "rmsnorm";
    d.binding_counts = {1, 1, 1};
    d.writes_mask = 0b100;
    d.push_size = sizeof(RmsNormPush);
    d.spec = {128};
    p_ = std::make_unique<Pipeline>(env.ctx, env.cache, d);
}

BoundSet RmsNormKernel::bind(DescriptorArena& sets, const BufferRef& x, const BufferRef& w, const BufferRef& y) const {
    return sets.bind(*p_, {x, w, y});
}

void RmsNormKernel::record(Recorder& rec, const BoundSet& set, const RmsNormPush& push) const {
    dispatch_push(rec, set, push, push.n_rows, 1, 1, "rmsnorm");
}

} // namespace vkc
