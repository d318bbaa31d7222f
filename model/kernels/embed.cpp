#include "model/kernels/embed.h"

#include <cmath>

namespace vkc {

namespace {
constexpr uint32_t kWG = 128;
constexpr uint32_t kMaxGroups = 65535; // guaranteed maxComputeWorkGroupCount per dimension

std::vector<BufferRef> weight_refs(const WeightTensor& E, WeightType type, const char* who) {
    if (E.type != type) fail(Status::internal, std::string(who) + ": weight type does not match the kernel");
    if (E.parts.empty() || (int)E.parts.size() > kWeightParts)
        fail(Status::internal, std::string(who) + ": embedding has " + std::to_string(E.parts.size()) + " parts");
    return E.bind_parts();
}

// One workgroup per token; a 2D grid beyond the per-dimension limit (the shaders linearize it).
void token_grid(uint32_t n, uint32_t* gx, uint32_t* gy) {
    *gx = std::min(n, kMaxGroups);
    *gy = ceil_div(n, *gx);
}
} // namespace

EmbedConvKernel::EmbedConvKernel(KernelEnv& env, WeightType type) : type_(type) {
    // A token is one workgroup, so decode latency shrinks with its size: up to 1024 threads (a power of two
    // the device allows; the shader splits each pooled value over WG / td threads). H100, v1-164m: 38.5 µs
    // per token at 512 threads, 29.0 at 1024.
    uint32_t wg = 128;
    while (wg < 1024 && wg * 2 <= env.ctx.limits().max_workgroup_invocations) wg *= 2;
    // bindings: tokens, E[WPARTS], conv_w, g, out
    p_ = make_pipeline(env, std::string("embed_conv_") + weight_type_suffix(type), {1, (uint32_t)kWeightParts, 1, 1, 1},
                       0b10000, sizeof(EmbedConvPush), {wg});
}

BoundSet EmbedConvKernel::bind(DescriptorArena& sets, const BufferRef& tokens, const WeightTensor& E,
                               const BufferRef& conv_w, const BufferRef& g, const BufferRef& out) const {
    std::vector<BufferRef> refs{tokens};
    for (const BufferRef& p : weight_refs(E, type_, "embed_conv")) refs.push_back(p);
    refs.insert(refs.end(), {conv_w, g, out});
    return sets.bind(*p_, refs);
}

void EmbedConvKernel::record(Recorder& rec, const BoundSet& set, const EmbedConvPush& p) const {
    if (p.n_tokens == 0) return;
    if (p.e == 0 || p.H != p.e * p.e || p.H > kMaxH || p.f == 0 || p.e % p.f != 0 || p.k == 0 ||
        p.td != (p.e / p.f) * (p.e / p.f) || p.vocab == 0 || p.rows_per_part == 0 ||
        (p.vocab - 1) / p.rows_per_part >= (uint32_t)kWeightParts || (p.out_stride != 0 && p.out_stride < p.td))
        fail(Status::internal, "embed_conv: invalid push (H = e*e <= 4096, f | e, td = (e/f)^2, split, stride)");
    uint32_t gx, gy;
    token_grid(p.n_tokens, &gx, &gy);
    dispatch_push(rec, set, p, gx, gy, 1, "embed_conv");
}

EmbedConvPush EmbedConvKernel::push_for(uint32_t n_tokens, uint32_t tok_offset, const WeightTensor& E, uint32_t f,
                                        uint32_t k) {
    EmbedConvPush p{};
    p.n_tokens = n_tokens;
    p.tok_offset = tok_offset;
    p.H = (uint32_t)E.cols;
    p.e = (uint32_t)std::lround(std::sqrt((double)E.cols));
    p.f = f;
    p.k = k;
    p.td = f ? (p.e / f) * (p.e / f) : 0;
    p.rows_per_part = (uint32_t)E.rows_per_part;
    p.vocab = (uint32_t)E.rows;
    return p;
}

EmbedGatherKernel::EmbedGatherKernel(KernelEnv& env, WeightType type) : type_(type) {
    // bindings: tokens, E[WPARTS], out
    p_ = make_pipeline(env, std::string("embed_gather_") + weight_type_suffix(type), {1, (uint32_t)kWeightParts, 1},
                       0b100, sizeof(EmbedGatherPush), {kWG});
}

BoundSet EmbedGatherKernel::bind(DescriptorArena& sets, const BufferRef& tokens, const WeightTensor& E,
                                 const BufferRef& out) const {
    std::vector<BufferRef> refs{tokens};
    for (const BufferRef& p : weight_refs(E, type_, "embed_gather")) refs.push_back(p);
    refs.push_back(out);
    return sets.bind(*p_, refs);
}

void EmbedGatherKernel::record(Recorder& rec, const BoundSet& set, const EmbedGatherPush& p) const {
    if (p.n_tokens == 0) return;
    if (p.d == 0 || p.vocab == 0 || p.rows_per_part == 0 || (p.vocab - 1) / p.rows_per_part >= (uint32_t)kWeightParts)
        fail(Status::internal, "embed_gather: invalid push (d, vocab, split)");
    uint32_t gx, gy;
    token_grid(p.n_tokens, &gx, &gy);
    dispatch_push(rec, set, p, gx, gy, 1, "embed_gather");
}

EmbedGatherPush EmbedGatherKernel::push_for(uint32_t n_tokens, uint32_t tok_offset, const WeightTensor& E) {
    return EmbedGatherPush{n_tokens, tok_offset, (uint32_t)E.cols, (uint32_t)E.rows_per_part, (uint32_t)E.rows};
}

} // namespace vkc
