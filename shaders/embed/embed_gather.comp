#version 450
// ConvGPT-v2 embedding: out[t][:] = E[tokens[tok_offset + t]][:] (d floats), one workgroup per token;
// ids >= vocab are clamped to vocab - 1 (the host validates ids; this only keeps reads in bounds).
// Mirrored by vkc::EmbedGatherPush (model/kernels/embed.h).
#include "common/types.glsl"

layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Tok { uint tokens[]; };
layout(std430, binding = 1) readonly buffer E { WSTORE w[]; } ep[WPARTS];
layout(std430, binding = 2) writeonly buffer Out { float o[]; }; // [n_tokens, d]

layout(push_constant) uniform Push { uint n_tokens, tok_offset, d, rows_per_part, vocab; } pc;

void main() {
    const uint t = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (t >= pc.n_tokens) return;
    const uint id = min(tokens[pc.tok_offset + t], pc.vocab - 1u);
    const uint part = id / pc.rows_per_part; // uniform
    const uint r = id - part * pc.rows_per_part, ob = t * pc.d; // row within the part
    for (uint i = gl_LocalInvocationID.x; i < pc.d; i += WG) o[ob + i] = WLOAD_RC(ep[part].w, r, i, pc.d, pc.rows_per_part);
}
