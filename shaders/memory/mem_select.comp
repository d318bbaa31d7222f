#version 450
// Chunk selection, stage 1 (split over workgroups so that a decode step fills the GPU): workgroup
// (t, h, s) scores the chunks j in [s*SPAN, min(c, (s+1)*SPAN)) of query t (p = seq.pos + t, c = p / C)
// and head h by q . ksum[j], and writes its best min(K, n) as (score bits, j), best first, to
// cand[t][h][s][0 ..]. Order: larger score, ties -> lower j (rank = number of better chunks). Nothing
// runs when c <= K (every chunk is taken) or the split starts at or after c. mem_attention merges the
// splits. q [T, q_stride], ksum [n_chunks, Hm, Dm], cand [T, Hm, max_splits, K] uvec2.
#include "common/types.glsl"
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
#define MAX_D 512
#define SPAN 256 // chunks per split (MemSelectKernel::span)
layout(std430, binding = 0) readonly buffer Seq { SEQ_INFO_FIELDS } seq;
layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) readonly buffer KS { float ksum[]; };
layout(std430, binding = 3) writeonly buffer CA { uvec2 cand[]; };
layout(push_constant) uniform Push {
    uint n_tokens; uint heads; uint head_dim; uint chunk; uint top_k; uint q_stride; uint max_splits; uint ctx;
} pc;

shared float qs[MAX_D];
shared float sc[SPAN];

void main() {
    const uint t = gl_WorkGroupID.x, h = gl_WorkGroupID.y, s = gl_WorkGroupID.z, tid = gl_LocalInvocationID.x;
    const uint p = seq.pos + t;
    if (t >= pc.n_tokens || p >= pc.ctx) return; // uniform per workgroup
    const uint D = pc.head_dim, K = pc.top_k, c = p / pc.chunk, j0 = s * SPAN;
    if (c <= K || j0 >= c) return;
    const uint n = min(SPAN, c - j0), row = pc.heads * D, hoff = h * D;
    for (uint i = tid; i < D; i += WG) qs[i] = q[t * pc.q_stride + hoff + i];
    barrier();
    for (uint i = tid; i < n; i += WG) {
        const uint kb = (j0 + i) * row + hoff;
        float a = 0.0;
        for (uint k = 0u; k < D; ++k) a += qs[k] * ksum[kb + k];
        sc[i] = a;
    }
    barrier();
    const uint cb = ((t * pc.heads + h) * pc.max_splits + s) * K;
    for (uint i = tid; i < n; i += WG) {
        const float v = sc[i];
        uint rank = 0u;
        for (uint k = 0u; k < n; ++k) {
            const float o = sc[k];
            rank += (o > v || (o == v && k < i)) ? 1u : 0u;
        }
        if (rank < K) cand[cb + rank] = uvec2(floatBitsToUint(v), j0 + i);
    }
}
