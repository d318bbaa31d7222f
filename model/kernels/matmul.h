// matmul family: y[m][n] (=|+=) sum_k in(m, k) * W[n][k] for m < M, n < N, with W a WeightTensor [N, K]
// (f32 or packed f16, split by rows). Two shaders with one descriptor layout: matvec (small M, decode;
// memory bound, weights streamed once) and a 64 x 64 tiled kernel (prefill). Optional fusions: the
// pre-RMSNorm of the input, SwiGLU of a [gate | up] input, and y += (residual add).
#pragma once
#include "model/kernels/kernel.h"

namespace vkc {

// MatmulPush::flags. ACCUMULATE may combine with one input mode.
enum MatmulFlags : uint32_t {
    MM_ACCUMULATE = 1,  // y += result (fused residual add)
    MM_IN_RMSNORM = 2,  // in(m, k) = x[m][k] / sqrt(mean_k x[m]^2 + eps) * norm_w[k]
    MM_IN_SWIGLU = 4,   // in(m, k) = silu(x[m][k]) * x[m][K + k]   (x_stride >= 2K)
};

// Mirrors `Push` in shaders/matmul/{matvec,matmul}.comp.
struct MatmulPush {
    uint32_t M, N, K;
    uint32_t x_stride, y_stride; // floats per row
    uint32_t x_row0, y_row0;     // first row of x read / of y written (e.g. the head's last token: x_row0 = T-1)
    uint32_t rows_per_part;      // = WeightTensor::rows_per_part
    uint32_t flags;              // MatmulFlags
    float eps;                   // RMSNorm eps (MM_IN_RMSNORM)
};
static_assert(sizeof(MatmulPush) == 40, "MatmulPush mirrors GLSL");

enum class MatmulPath { automatic, matvec, tiled };

// Workgroup width of the matvec path: by_k takes the smallest workgroup whose threads cover K in one
// sweep (GPUs); smallest always takes 32 threads (CPU drivers such as lavapipe, where a workgroup's
// barriers and reductions cost more than its threads gain: the 65k-row head of v1-164m, 1.0 -> 0.5 s
// per token there); automatic: smallest on VK_PHYSICAL_DEVICE_TYPE_CPU devices, else by_k.
enum class MatvecWidth { automatic, by_k, smallest };

class MatmulKernel {
public:
    // MatmulPath::automatic (automatic_path): matvec for M <= matvec_max_m(), tiled above (on GPUs the
    // matvec also where the tiled grid would be small). GPUs: kMatvecMaxM (H100: the matvec re-reads the
    // weights per 4 rows but still wins up to M = 8..32 depending on the shape; 8 is safe everywhere
    // measured). CPU devices: kMatvecMaxMCpu (lavapipe, v1-164m prefill GPU time: 8 tokens 4.7 s with
    // matvecs, 1.9 s tiled in 16-row tiles; 4 tokens 2.9 / 1.8 s; 2 tokens 2.1 / 2.1 s).
    static constexpr uint32_t kMatvecMaxM = 8;
    static constexpr uint32_t kMatvecMaxMCpu = 2;

    MatmulKernel(KernelEnv& env, WeightType type, MatvecWidth width = MatvecWidth::automatic);
    // x [.., x_stride] (float), w [N, K], y [.., y_stride] (float), norm_w [K] (float; pass x again, or an
    // invalid BufferRef, when MM_IN_RMSNORM is not used). y must not overlap x.
    BoundSet bind(DescriptorArena& sets, const BufferRef& x, const WeightTensor& w, const BufferRef& y,
                  const BufferRef& norm_w) const;
    // Validates the push (sizes, flags) and dispatches; M == 0 or N == 0 records nothing.
    void record(Recorder& rec, const BoundSet& set, const MatmulPush& push,
                MatmulPath path = MatmulPath::automatic) const;
    // Push for x [M, K] -> y [M, N] with packed rows (strides K and N, row offsets 0) and w's split.
    static MatmulPush push_for(uint32_t M, const WeightTensor& w, uint32_t flags = 0, float eps = 1e-6f);
    // Same with explicit row strides (floats) and the first x row read (the head reads only row T-1).
    static MatmulPush push_for(uint32_t M, const WeightTensor& w, uint32_t flags, float eps, uint32_t x_stride,
                               uint32_t y_stride, uint32_t x_row0 = 0);
    WeightType type() const { return type_; }
    uint32_t matvec_max_m() const { return cpu_ ? kMatvecMaxMCpu : kMatvecMaxM; }
    // The path MatmulPath::automatic takes for M x N on a CPU device or a GPU: matvec up to the max M;
    // on GPUs also where 64 x 64 tiles would make fewer than 32 workgroups.
    static MatmulPath automatic_path(bool cpu, uint32_t M, uint32_t N);

private:
    WeightType type_;
    bool smallest_ = false; // MatvecWidth resolved
    bool cpu_ = false;      // VK_PHYSICAL_DEVICE_TYPE_CPU
    // matvec_[i][r]: workgroups of 32 << i threads and 4 (r = 0) or 1 (r = 1) weight rows. Threads
    // stride over K one 16-byte weight vector at a time, so a short K (v1's 144-wide projections: 18 f16
    // vectors) leaves most of 128 threads idle and pays their reduction: record() takes the smallest
    // workgroup whose threads cover K in one sweep, and one row per workgroup where 4 leave the grid small.
    std::unique_ptr<Pipeline> matvec_[3][2];
    std::unique_ptr<Pipeline> tiled_, tiled_small_; // 64 x 64 tiles; 16 x 64 for M <= 16
};

} // namespace vkc
