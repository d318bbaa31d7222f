#include "model/kernels/mixer.h"

#include <string>

#include "runtime/status.h"

namespace vkc {

namespace {
constexpr uint32_t kWg = 128; // workgroup size of every mixer kernel (spec constant 0)

std::unique_ptr<Pipeline> make(KernelEnv& env, const char* shader, std::vector<uint32_t> counts, uint32_t writes,
                               uint32_t push_size, uint32_t wg = kWg) {
    check_workgroup_size(env, shader, wg, UINT32_MAX);
    return make_pipeline(env, shader, std::move(counts), writes, push_size, {wg});
}
} // namespace

MixerStoreKernel::MixerStoreKernel(KernelEnv& env)
    : p_(make(env, "mixer_store", {1, 1, 1}, 0b100, sizeof(MixerStorePush))) {}

BoundSet MixerStoreKernel::bind(DescriptorArena& sets, const BufferRef& seq, const BufferRef& u,
                                const BufferRef& hist) const {
    return sets.bind(*p_, {seq, u, hist});
}

void MixerStoreKernel::record(Recorder& rec, const BoundSet& set, const MixerStorePush& push) const {
    if (push.n_tokens == 0 || push.d == 0) return;
    dispatch_push(rec, set, push, ceil_div(push.d, kWg), push.n_tokens, 1, "mixer_store");
}

MixerConvKernel::MixerConvKernel(KernelEnv& env, WeightType wtype, uint32_t wg)
    : wtype_(wtype),
      p_(make(env, (std::string("mixer_conv_") + weight_type_suffix(wtype)).c_str(), {1, 1, 1, 1, 1, 1, 1, 1, 1},
              1u << 8, sizeof(MixerConvPush), wg)) {}

BoundSet MixerConvKernel::bind(DescriptorArena& sets, const BufferRef& seq, const BufferRef& u, const BufferRef& hist,
                               const BufferRef& w1, const BufferRef& b1, const BufferRef& w2, const BufferRef& b2,
                               const BufferRef& norm_w, const BufferRef& m) const {
    return sets.bind(*p_, {seq, u, hist, w1, b1, w2, b2, norm_w, m});
}

void MixerConvKernel::record(Recorder& rec, const BoundSet& set, const MixerConvPush& push) const {
    if (push.k1 < 1 || push.k2 % 2 != 1 || push.k2 > max_k2)
        fail(Status::invalid_argument, "mixer_conv: need k1 >= 1 and odd k2 <= 15");
    if (push.grid == 0 || (push.grid & (push.grid - 1)) != 0)
        fail(Status::invalid_argument, "mixer_conv: grid size must be a power of two");
    if (push.n_tokens == 0 || push.d == 0) return;
    dispatch_push(rec, set, push, push.n_tokens, 1, 1, "mixer_conv");
}

HilbertProbeKernel::HilbertProbeKernel(KernelEnv& env) : p_(make(env, "hilbert_probe", {1}, 0b1, 8)) {}

BoundSet HilbertProbeKernel::bind(DescriptorArena& sets, const BufferRef& out) const { return sets.bind(*p_, {out}); }

void HilbertProbeKernel::record(Recorder& rec, const BoundSet& set, uint32_t grid, uint32_t n) const {
    const uint32_t push[2] = {grid, n};
    rec.dispatch(set, push, sizeof(push), ceil_div(n, kWg), 1, 1, "hilbert_probe");
}

} // namespace vkc
