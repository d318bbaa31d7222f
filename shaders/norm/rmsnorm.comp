#version 450
// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w   for r in [0, n_rows); one workgroup per row.
#include "common/types.glsl"
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { uint n_rows; uint n; uint x_stride; uint y_stride; float eps; } pc;
shared float partial[WG];
void main() {
    const uint row = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
    const uint xb = row * pc.x_stride, yb = row * pc.y_stride;
    float s = 0.0;
    for (uint i = tid; i < pc.n; i += WG) { float v = x[xb + i]; s += v * v; }
    partial[tid] = s;
    barrier();
    for (uint k = WG / 2; k > 0; k >>= 1) {
        if (tid < k) partial[tid] += partial[tid + k];
        barrier();
    }
    const float r = inversesqrt(partial[0] / float(pc.n) + pc.eps);
    for (uint i = tid; i < pc.n; i += WG) y[yb + i] = x[xb + i] * r * w[i];
}
