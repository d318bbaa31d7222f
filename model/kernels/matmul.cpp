#include "model/kernels/matmul.h"

namespace vkc {

namespace {
constexpr uint32_t kMatvecWG = 128, kMatvecPassRows = 4; // matvec.comp: largest WG, MB
constexpr uint32_t kMatvecRows[2] = {4, 1};              // matvec.comp's NR of matvec_[.][0] / [1]
// Below this many 4-row workgroups (per x pass) a matvec takes one row per workgroup: v1's 144-row o /
// down projections (K 2048 / 3072) ran 36 workgroups; the cost is NR-times more input reads and
// reductions, which only pays where the grid is small.
constexpr uint32_t kMatvecFewGroups = 128;
constexpr uint32_t kMatvecManyGroups = 4096;
constexpr uint32_t kTiledWG = 256, kTile = 64;       // shaders/matmul/matmul.comp: WG, BM = BN
constexpr uint32_t kSmallWG = 64, kSmallRows = 16;   // its few-rows variant: 16 x 64 tiles
constexpr uint32_t kFewTiles = 32; // GPUs: the matvec below this many tiles (see automatic_path)
constexpr uint32_t kMaxGroups = 65535;               // guaranteed maxComputeWorkGroupCount per dimension

PipelineDesc matmul_desc(const char* base, WeightType t, std::vector<uint32_t> spec) {
    PipelineDesc d;
    d.shader = std::string(base) + "_" + weight_type_suffix(t);
    d.binding_counts = {1, (uint32_t)kWeightParts, 1, 1}; // x, W[WPARTS], y, norm_w
    d.writes_mask = 0b100;
    d.push_size = sizeof(MatmulPush);
    d.spec = std::move(spec);
    return d;
}
} // namespace

MatmulKernel::MatmulKernel(KernelEnv& env, WeightType type, MatvecWidth width)
    : type_(type),
      smallest_(width == MatvecWidth::smallest ||
                (width == MatvecWidth::automatic && env.ctx.properties().deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)),
      cpu_(env.ctx.properties().deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) {
    for (int i = 0; i < 3; ++i)
        for (int r = 0; r < 2; ++r)
            matvec_[i][r] = std::make_unique<Pipeline>(
                env.ctx, env.cache, matmul_desc("matvec", type, {kMatvecWG >> (2 - i), kMatvecRows[r]}));
    tiled_ = std::make_unique<Pipeline>(env.ctx, env.cache, matmul_desc("matmul", type, {kTiledWG}));
    tiled_small_ = std::make_unique<Pipeline>(env.ctx, env.cache, matmul_desc("matmul", type, {kSmallWG}));
}

BoundSet MatmulKernel::bind(DescriptorArena& sets, const BufferRef& x, const WeightTensor& w, const BufferRef& y,
                            const BufferRef& norm_w) const {
    if (w.type != type_) fail(Status::internal, "matmul: weight type does not match the kernel");
    if (w.parts.empty() || (int)w.parts.size() > kWeightParts)
        fail(Status::internal, "matmul: weight tensor has " + std::to_string(w.parts.size()) + " parts");
    std::vector<BufferRef> refs{x};
    for (const BufferRef& p : w.bind_parts()) refs.push_back(p);
    refs.push_back(y);
    refs.push_back(norm_w.valid() ? norm_w : x);
    return sets.bind(*matvec_[2][0], refs);
}

void MatmulKernel::record(Recorder& rec, const BoundSet& set, const MatmulPush& p, MatmulPath path) const {
    if (p.M == 0 || p.N == 0) return;
    const uint32_t mode = p.flags & (MM_IN_RMSNORM | MM_IN_SWIGLU);
    if (p.flags & ~uint32_t(MM_ACCUMULATE | MM_IN_RMSNORM | MM_IN_SWIGLU) || mode == (MM_IN_RMSNORM | MM_IN_SWIGLU))
        fail(Status::internal, "matmul: invalid flags " + std::to_string(p.flags));
    if (p.K == 0 || p.rows_per_part == 0 || p.y_stride < p.N ||
        p.x_stride < (mode == MM_IN_SWIGLU ? 2 * p.K : p.K))
        fail(Status::internal, "matmul: invalid push (K, rows_per_part or strides)");
    if ((p.N - 1) / p.rows_per_part >= (uint32_t)kWeightParts)
        fail(Status::internal, "matmul: N / rows_per_part needs more than WPARTS parts");
    if (path == MatmulPath::automatic) path = automatic_path(cpu_, p.M, p.N);
    if (path == MatmulPath::matvec) {
        const int nr = ceil_div(p.N, kMatvecRows[0]) < kMatvecFewGroups ? 1 : 0;
        const uint32_t groups = ceil_div(p.N, kMatvecRows[nr]);
        const uint32_t gx = std::min(groups, kMaxGroups);
        const std::string label = "matvec " + std::to_string(p.N) + "x" + std::to_string(p.K); // per shape in profiles
        // weights per thread step (matvec.comp: a 16-byte vector of f32 / f16, 8 quants of Q8_0 / Q4_0)
        const uint32_t ve = type_ == WeightType::f32 ? 4 : 8;
        int v = 0;
        while (!smallest_ && v < 2 && (kMatvecWG >> (2 - v)) * ve < p.K) ++v;
        // x rows in passes of kMatvecPassRows, one grid z each (small N keeps more workgroups busy); a
        // huge grid (the 65k-row head) instead runs the passes in each workgroup, so its weight rows are
        // re-read from cache, not from memory by another wave
        const uint32_t gz = groups >= kMatvecManyGroups ? 1 : std::min(ceil_div(p.M, kMatvecPassRows), kMaxGroups);
        dispatch_push(rec, *matvec_[v][nr], set, p, gx, ceil_div(groups, gx), gz, label.c_str());
    } else {
        // few rows (prefill of a short prompt, a decode batch): 16-row tiles, not 64-row ones mostly zero
        const bool small = p.M <= kSmallRows;
        const uint32_t bm = small ? kSmallRows : kTile;
        if (ceil_div(p.M, bm) > kMaxGroups || ceil_div(p.N, kTile) > kMaxGroups)
            fail(Status::unsupported, "matmul: too many tiles for one dispatch");
        const std::string label = "matmul " + std::to_string(p.N) + "x" + std::to_string(p.K); // per shape
        dispatch_push(rec, small ? *tiled_small_ : *tiled_, set, p, ceil_div(p.N, kTile), ceil_div(p.M, bm), 1,
                      label.c_str());
    }
}

MatmulPath MatmulKernel::automatic_path(bool cpu, uint32_t M, uint32_t N) {
    if (M <= (cpu ? kMatvecMaxMCpu : kMatvecMaxM)) return MatmulPath::matvec;
    // GPUs: a tiled grid of few workgroups runs all of K in each, slice after slice (v1's 144-row o / down
    // projections: 3 tiles per 64 rows); the matvec spreads the rows over N x M / 4 groups. H100, v1-164m
    // prefill of 9 / 128 / 512 tokens: 15.6 -> 2.6, 16.3 -> 5.0 ms, 22.6k -> 30.4k t/s.
    const bool few_tiles = ceil_div(N, kTile) * ceil_div(M, kTile) < kFewTiles;
    return !cpu && few_tiles ? MatmulPath::matvec : MatmulPath::tiled;
}

MatmulPush MatmulKernel::push_for(uint32_t M, const WeightTensor& w, uint32_t flags, float eps) {
    MatmulPush p{};
    p.M = M;
    p.N = (uint32_t)w.rows;
    p.K = (uint32_t)w.cols;
    p.x_stride = (flags & MM_IN_SWIGLU) ? 2 * p.K : p.K;
    p.y_stride = p.N;
    p.rows_per_part = (uint32_t)w.rows_per_part;
    p.flags = flags;
    p.eps = eps;
    return p;
}

MatmulPush MatmulKernel::push_for(uint32_t M, const WeightTensor& w, uint32_t flags, float eps, uint32_t x_stride,
                                  uint32_t y_stride, uint32_t x_row0) {
    MatmulPush p = push_for(M, w, flags, eps);
    p.x_stride = x_stride;
    p.y_stride = y_stride;
    p.x_row0 = x_row0;
    return p;
}

} // namespace vkc
