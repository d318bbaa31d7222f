// Small kernels shared by all models: sequence position advance, row RMSNorm.
#pragma once
#include "model/kernels/kernel.h"

namespace vkc {

struct AdvancePush { uint32_t n_tokens; };
static_assert(sizeof(AdvancePush) <= 128);

// seq.pos += n_tokens on the GPU.
class AdvanceKernel {
public:
    explicit AdvanceKernel(KernelEnv& env);
    BoundSet bind(DescriptorArena& sets, const BufferRef& seq) const;
    void record(Recorder& rec, const BoundSet& set, uint32_t n_tokens) const;
private:
    std::unique_ptr<Pipeline> p_;
};

struct RmsNormPush {
    uint32_t n_rows, n, x_stride, y_stride; // strides in floats
    float eps;
};
static_assert(sizeof(RmsNormPush) <= 128);

// y [n_rows, n] = RMSNorm(x [n_rows, n]) * w [n]
class RmsNormKernel {
public:
    explicit RmsNormKernel(KernelEnv& env);
    BoundSet bind(DescriptorArena& sets, const BufferRef& x, const BufferRef& w, const BufferRef& y) const;
    void record(Recorder& rec, const BoundSet& set, const RmsNormPush& push) const;
private:
    std::unique_ptr<Pipeline> p_;
};

} // namespace vkc
