// embed family: token ids -> the first residual rows.
//   EmbedConvKernel (ConvGPT v1, spec steps 1-4): E row -> causal 1 x k conv over the e x e grid ->
//     f x f average pool -> ScaleNorm with g, in one dispatch (one workgroup per token).
//   EmbedGatherKernel (ConvGPT-v2): out[t] = E[id].
// E is a WeightTensor [vocab, H or d] (f32 or packed f16, split by rows). Ids are read from a device
// buffer at tokens[tok_offset + t]; ids >= vocab are clamped in the shader (the host must reject them).
#pragma once
#include "model/kernels/kernel.h"

namespace vkc {

// Mirrors `Push` in shaders/embed/embed_conv.comp.
struct EmbedConvPush {
    uint32_t n_tokens, tok_offset;
    uint32_t H, e, f, k, td; // H = e*e <= 4096, f divides e, td = (e/f)^2
    uint32_t rows_per_part, vocab;
    uint32_t out_stride;     // floats between output rows; 0: td (packed)
};
static_assert(sizeof(EmbedConvPush) == 40, "EmbedConvPush mirrors GLSL");

// Mirrors `Push` in shaders/embed/embed_gather.comp.
struct EmbedGatherPush {
    uint32_t n_tokens, tok_offset, d;
    uint32_t rows_per_part, vocab;
};
static_assert(sizeof(EmbedGatherPush) == 20, "EmbedGatherPush mirrors GLSL");

class EmbedConvKernel {
public:
    static constexpr uint32_t kMaxH = 4096; // the E row is staged in 16 KiB of shared memory

    EmbedConvKernel(KernelEnv& env, WeightType type);
    // tokens (uint), E [vocab, H], conv_w [e, e, 1, k] (float), g [1] (float),
    // out [n_tokens, td] (float; rows out_stride apart when set)
    BoundSet bind(DescriptorArena& sets, const BufferRef& tokens, const WeightTensor& E, const BufferRef& conv_w,
                  const BufferRef& g, const BufferRef& out) const;
    void record(Recorder& rec, const BoundSet& set, const EmbedConvPush& push) const;
    // Push for E (H = E.cols, vocab = E.rows, its split) with e = sqrt(H), td = (e/f)^2.
    static EmbedConvPush push_for(uint32_t n_tokens, uint32_t tok_offset, const WeightTensor& E, uint32_t f,
                                  uint32_t k);
    WeightType type() const { return type_; }

private:
    WeightType type_;
    std::unique_ptr<Pipeline> p_;
};

class EmbedGatherKernel {
public:
    EmbedGatherKernel(KernelEnv& env, WeightType type);
    // tokens (uint), E [vocab, d], out [n_tokens, d] (float)
    BoundSet bind(DescriptorArena& sets, const BufferRef& tokens, const WeightTensor& E, const BufferRef& out) const;
    void record(Recorder& rec, const BoundSet& set, const EmbedGatherPush& push) const;
    static EmbedGatherPush push_for(uint32_t n_tokens, uint32_t tok_offset, const WeightTensor& E);
    WeightType type() const { return type_; }

private:
    WeightType type_;
    std::unique_ptr<Pipeline> p_;
};

} // namespace vkc
