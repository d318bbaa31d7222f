#version 450
// hist[seq.pos + t][ch] = u[t][a_off + ch]: the mixer input a of this batch appended to the layer's
// history [ctx, d] (read by mixer_conv for both the 1D window and the 2D Hilbert gather).
// Grid: (ceil(d / WG), n_tokens).
#include "common/types.glsl"
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Seq { SEQ_INFO_FIELDS } seq;
layout(std430, binding = 1) readonly buffer U { float u[]; };
layout(std430, binding = 2) writeonly buffer H { float hist[]; };
layout(push_constant) uniform Push { uint n_tokens; uint d; uint u_stride; uint a_off; uint ctx; } pc;
void main() {
    const uint ch = gl_GlobalInvocationID.x, t = gl_WorkGroupID.y;
    const uint p = seq.pos + t;
    if (ch >= pc.d || t >= pc.n_tokens || p >= pc.ctx) return;
    hist[p * pc.d + ch] = u[t * pc.u_stride + pc.a_off + ch];
}
