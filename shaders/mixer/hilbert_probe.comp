#version 450
// Test probe for hilbert.glsl: out[t] = (x, y, xy2d(x, y)) with (x, y) = d2xy(G, t), t < n.
#include "common/types.glsl"
#include "mixer/hilbert.glsl"
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) writeonly buffer O { uint o[]; };
layout(push_constant) uniform Push { uint grid; uint n; } pc;
void main() {
    const uint t = gl_GlobalInvocationID.x;
    if (t >= pc.n) return;
    const uvec2 xy = hilbert_d2xy(pc.grid, t);
    o[3u * t] = xy.x;
    o[3u * t + 1u] = xy.y;
    o[3u * t + 2u] = hilbert_xy2d(pc.grid, xy.x, xy.y);
}
