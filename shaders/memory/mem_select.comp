#version 450
// Chunk selection, stage 1 (split over workgroups so that a decode step fills the GPU). Workgroup
// (b, h, s) takes the queries t = b*QB .. b*QB+QB-1 (QB = q_block, sharing each summary row read) and
// head h, scores the chunks j in [s*SPAN, (s+1)*SPAN) closed before each query's chunk c = p / C by
// q . ksum[j], and writes each query's best min(K, n) as (score bits, j), best first, to
// cand[t][h][s][0 ..]. Order: larger score, ties -> lower j (rank = number of better chunks). Queries
// with c <= K (every chunk is taken) or a split starting at or after c write nothing; mem_attention
// merges the splits. q [T, q_stride], ksum [Hm * Dm, n_chunks] (element-major, see mem_summarize),
// cand [T, Hm, max_splits, K] uvec2.
#include "common/types.glsl"
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
#define SPAN 256       // chunks per split (MemSelectKernel::span)
#define MAX_QB 8       // queries per workgroup
#define QS_FLOATS 1024 // q_block * Dm <= QS_FLOATS
layout(std430, binding = 0) readonly buffer Seq { SEQ_INFO_FIELDS } seq;
layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) readonly buffer KS { float ksum[]; };
layout(std430, binding = 3) writeonly buffer CA { uvec2 cand[]; };
layout(push_constant) uniform Push {
    uint n_tokens; uint heads; uint head_dim; uint chunk; uint top_k; uint q_stride; uint max_splits; uint ctx;
    uint q_block; uint n_chunks;
} pc;

shared float qs[QS_FLOATS];
shared float sc[MAX_QB * SPAN];

void main() {
    const uint h = gl_WorkGroupID.y, s = gl_WorkGroupID.z, tid = gl_LocalInvocationID.x;
    const uint tb = gl_WorkGroupID.x * pc.q_block, p0 = seq.pos + tb;
    if (tb >= pc.n_tokens || p0 >= pc.ctx) return; // uniform per workgroup
    const uint nq = min(min(pc.q_block, pc.n_tokens - tb), pc.ctx - p0); // queries with p < ctx
    const uint D = pc.head_dim, K = pc.top_k, C = pc.chunk, j0 = s * SPAN;
    const uint c_last = (p0 + nq - 1u) / C; // the block's largest c
    if (c_last <= K || j0 >= c_last) return;
    const uint n = min(SPAN, c_last - j0), hoff = h * D;
    for (uint e = tid; e < nq * D; e += WG) qs[e] = q[(tb + e / D) * pc.q_stride + hoff + e % D];
    barrier();

    for (uint i = tid; i < n; i += WG) {
        float acc[MAX_QB];
        for (uint b = 0u; b < MAX_QB; ++b) acc[b] = 0.0;
        const uint kb = hoff * pc.n_chunks + j0 + i; // element k at kb + k * n_chunks: coalesced over i
        uint k = 0u;
        for (; k + 8u <= D; k += 8u) { // 8 unconditional loads in flight (latency-bound in decode)
            float v[8];
            for (uint l = 0u; l < 8u; ++l) v[l] = ksum[kb + (k + l) * pc.n_chunks];
            for (uint b = 0u; b < MAX_QB; ++b)
                if (b < nq)
                    for (uint l = 0u; l < 8u; ++l) acc[b] += qs[b * D + k + l] * v[l];
        }
        for (; k < D; ++k) {
            const float v = ksum[kb + k * pc.n_chunks];
            for (uint b = 0u; b < MAX_QB; ++b)
                if (b < nq) acc[b] += qs[b * D + k] * v;
        }
        for (uint b = 0u; b < nq; ++b) sc[b * SPAN + i] = acc[b];
    }
    barrier();

    for (uint e = tid; e < nq * SPAN; e += WG) {
        const uint b = e / SPAN, i = e % SPAN, c = (p0 + b) / C;
        if (c <= K || j0 >= c) continue;
        const uint nv = min(SPAN, c - j0); // this query's chunks in the split
        if (i >= nv) continue;
        const float v = sc[e];
        uint rank = 0u;
        for (uint k = 0u; k < nv; ++k) {
            const float o = sc[b * SPAN + k];
            rank += (o > v || (o == v && k < i)) ? 1u : 0u;
        }
        if (rank < K) cand[(((tb + b) * pc.heads + h) * pc.max_splits + s) * K + rank] = uvec2(floatBitsToUint(v), j0 + i);
    }
}
