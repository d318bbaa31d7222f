// ConvGPT-v2 mixer kernels (shared/spec/convgpt-v2.md steps 2-4): history store, and the fused causal
// 1D conv + Hilbert 2D "active causal gather" + conv2d RMSNorm + gated fusion. Per v2 layer:
//   u [T, 3d] = [a | z | glin] (matmul of RMSNorm(x) with [in_proj; gate_proj])
//   MixerStoreKernel: hist[pos + t] = a[t]
//   MixerConvKernel:  m [T, d] = (g silu(c1) + (1-g) silu(RMSNorm(c2) norm_w)) silu(z), g = sigmoid(glin)
//   then out_proj(m) with residual add.
// hist [ctx, d] f32 (ctx <= G*G) is per layer and per sequence; it serves the 1D window too.
#pragma once
#include "model/kernels/kernel.h"

namespace vkc {

// Mirrors mixer_store.comp.
struct MixerStorePush {
    uint32_t n_tokens; // T
    uint32_t d;
    uint32_t u_stride; // floats between rows of u (3d for [a | z | glin])
    uint32_t a_off;    // offset of a in a row of u (0)
    uint32_t ctx;      // rows of hist; positions >= ctx are skipped
};
static_assert(sizeof(MixerStorePush) <= 128);

// hist[seq.pos + t][:] = u[t][a_off : a_off + d] for t < n_tokens.
class MixerStoreKernel {
public:
    explicit MixerStoreKernel(KernelEnv& env);
    BoundSet bind(DescriptorArena& sets, const BufferRef& seq, const BufferRef& u, const BufferRef& hist) const;
    void record(Recorder& rec, const BoundSet& set, const MixerStorePush& push) const;
private:
    std::unique_ptr<Pipeline> p_;
};

// Mirrors mixer_conv.comp.
struct MixerConvPush {
    uint32_t n_tokens;
    uint32_t d;
    uint32_t u_stride; // floats between rows of u
    uint32_t z_off;    // offset of z in a row of u (d)
    uint32_t g_off;    // offset of glin (gate before the sigmoid) in a row of u (2d)
    uint32_t m_stride; // floats between rows of m (d)
    uint32_t k1;       // conv1d kernel, >= 1
    uint32_t k2;       // conv2d kernel, odd, <= 15
    uint32_t grid;     // G, power of two
    uint32_t ctx;      // rows of hist (<= G*G); positions >= ctx are skipped
    float eps;         // rms_norm_eps of conv2d_norm
};
static_assert(sizeof(MixerConvPush) <= 128);

// One workgroup per token. Weights: w1 [d, k1] (conv1d.weight), w2 [d, k2*k2] (conv2d.weight) in the
// kernel's WeightType (f16 packed two per uint); b1, b2, norm_w [d] always f32.
// wg: threads per token (power of two, <= the device's max workgroup size); 128 suits phones, a larger
// one shortens decode (one workgroup per token) on big GPUs.
class MixerConvKernel {
public:
    static constexpr uint32_t max_k2 = 15;
    MixerConvKernel(KernelEnv& env, WeightType wtype, uint32_t wg = 128);
    // bindings 0..8 in this order; m [T, m_stride] is written (also used as scratch between passes)
    BoundSet bind(DescriptorArena& sets, const BufferRef& seq, const BufferRef& u, const BufferRef& hist,
                  const BufferRef& w1, const BufferRef& b1, const BufferRef& w2, const BufferRef& b2,
                  const BufferRef& norm_w, const BufferRef& m) const;
    void record(Recorder& rec, const BoundSet& set, const MixerConvPush& push) const;
    WeightType weight_type() const { return wtype_; }
private:
    WeightType wtype_;
    std::unique_ptr<Pipeline> p_;
};

// Test probe of the shader Hilbert functions: out [n, 3] uint = (x, y, xy2d(G, x, y)), (x, y) = d2xy(G, t).
class HilbertProbeKernel {
public:
    explicit HilbertProbeKernel(KernelEnv& env);
    BoundSet bind(DescriptorArena& sets, const BufferRef& out) const;
    void record(Recorder& rec, const BoundSet& set, uint32_t grid, uint32_t n) const;
private:
    std::unique_ptr<Pipeline> p_;
};

} // namespace vkc
