#version 450
// Decode matmul (small M): y[m][n] (=|+=) sum_k in(m, k) * W[n][k], m < M, n < N.
// Memory bound: each workgroup owns NR output columns n and streams their weight rows exactly once
// (threads stride over K: consecutive threads read consecutive 16-byte vectors when K allows, else
// single elements), applying each weight to MB rows of x at a time (a larger M loops over passes of MB
// rows; the weights are then re-read, mostly from cache, by workgroups of another grid z). Per-thread partial sums are reduced through
// shared memory in two steps (no subgroup-size assumption).
// in(m, k) by flags: x[m][k] | RMSNorm(x[m]) [k] * norm_w[k] | silu(x[m][k]) * x[m][K + k].
// Bindings and push constants are identical to matmul.comp (one BoundSet serves both);
// mirrored by vkc::MatmulPush (model/kernels/matmul.h).
#include "common/types.glsl"

layout(constant_id = 0) const uint WG = 128; // multiple of 16, <= 128 (shared memory: NV * WG floats)
// output columns (weight rows) per workgroup: 4, or 1 for a short N with a long K (v1's 144-row o and
// down projections: 36 workgroups of 4 rows left most of a large GPU idle)
layout(constant_id = 1) const uint NR = 4;
layout(local_size_x_id = 0) in;

#define MB 4              // x rows per pass
#define NV (NR * MB + MB) // values reduced per thread: NR*MB dot products + MB sums of squares

#define MM_ACCUMULATE 1u
#define MM_IN_RMSNORM 2u
#define MM_IN_SWIGLU 4u

#if defined(WQUANT)
#define WVEC uvec4     // (unused: quantized rows are read as uint / uvec2)
#elif defined(WTYPE_F16)
#define VE 8u          // elements per 16-byte vector
#define WVEC uvec4
#else
#define VE 4u
#define WVEC vec4
#endif

#ifndef WQUANT
#define VEC_ROWS (K % VE == 0u)
#endif

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 0) readonly buffer XV4 { vec4 x4[]; }; // the same x as vec4 (vector path)
layout(std430, binding = 1) readonly buffer W { WSTORE w[]; } wp[WPARTS];
// the same weight buffers viewed as 16-byte vectors (used when every row starts on a vector: K % VE == 0)
layout(std430, binding = 1) readonly buffer WV { WVEC v[]; } wv[WPARTS];
#if defined(WTYPE_Q8_0)
layout(std430, binding = 1) readonly buffer WV2 { uvec2 v[]; } wv2[WPARTS]; // 8 int8 quants
#endif
layout(std430, binding = 2) buffer Y { float y[]; };
layout(std430, binding = 3) readonly buffer NW { float nw[]; };
layout(std430, binding = 3) readonly buffer NWV4 { vec4 nw4[]; };

layout(push_constant) uniform Push {
    uint M, N, K;
    uint x_stride, y_stride;
    uint x_row0, y_row0;
    uint rows_per_part;
    uint flags;
    float eps;
} pc;

shared float red[NV * WG];

// Input element k of the x row starting at xb (mode is workgroup-uniform).
float in_val(uint xb, uint k, inout float ss) {
    const float v = x[xb + k];
    if ((pc.flags & MM_IN_RMSNORM) != 0u) { ss += v * v; return v * nw[k]; }
    if ((pc.flags & MM_IN_SWIGLU) != 0u) return silu(v) * x[xb + pc.K + k];
    return v;
}

// Input elements k .. k + 3 (k % 4 == 0, x rows starting on a vec4): 1 to 3 vector loads, not 4 to 12
// scalar ones (the loads of in_val dominated the short-K matvecs).
vec4 in_vec4(uint xb, uint k, inout float ss) {
    const vec4 v = x4[(xb + k) >> 2];
    if ((pc.flags & MM_IN_RMSNORM) != 0u) { ss += dot(v, v); return v * nw4[k >> 2]; }
    if ((pc.flags & MM_IN_SWIGLU) != 0u) {
        const vec4 u = x4[(xb + pc.K + k) >> 2];
        return vec4(silu(v.x), silu(v.y), silu(v.z), silu(v.w)) * u;
    }
    return v;
}

// dot of 8 (f16) / 4 (f32) weights with 8 / 4 inputs
#if defined(WTYPE_F16)
float vdot(uvec4 u, float xv[VE]) {
    return dot(unpackHalf2x16(u.x), vec2(xv[0], xv[1])) + dot(unpackHalf2x16(u.y), vec2(xv[2], xv[3])) +
           dot(unpackHalf2x16(u.z), vec2(xv[4], xv[5])) + dot(unpackHalf2x16(u.w), vec2(xv[6], xv[7]));
}
#elif !defined(WQUANT)
float vdot(vec4 u, float xv[VE]) { return dot(u, vec4(xv[0], xv[1], xv[2], xv[3])); }
#endif

void main() {
    const uint tid = gl_LocalInvocationID.x;
    // 2D grid when N / NR exceeds the dispatch limit of one dimension
    const uint n0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * NR;
    if (n0 >= pc.N) return; // whole workgroup: uniform
    const uint K = pc.K;
    const bool rms = (pc.flags & MM_IN_RMSNORM) != 0u;

    // Weight row r of this workgroup: its part (uniform index) and first element within the part.
    // Columns past N are clamped to N-1 (loads stay in bounds; their results are not written).
#ifdef WQUANT
    // quantized: eb[r] = first 8-weight sub-vector of the row (4 per block: a uint of Q4_0, a uvec2 of
    // Q8_0), hb[r] = half index of its first block scale
    uint part[NR], eb[NR], hb[NR];
    for (uint r = 0; r < NR; ++r) {
        const uint n = min(n0 + r, pc.N - 1u);
        part[r] = n / pc.rows_per_part;
        const uint rp = n - part[r] * pc.rows_per_part;
        eb[r] = rp * WQ_NB(K) * 4u;
        hb[r] = rp * WQ_NB(K);
    }
    const uint sbase = pc.rows_per_part * WQ_ROWU(K); // uint offset of the scales in every part
    const uint nsub = WQ_NB(K) * 4u;                 // 8-weight sub-vectors per (padded) row
#else
    uint part[NR], eb[NR];
    for (uint r = 0; r < NR; ++r) {
        const uint n = min(n0 + r, pc.N - 1u);
        part[r] = n / pc.rows_per_part;
        eb[r] = (n - part[r] * pc.rows_per_part) * K;
    }
#endif

    // passes of MB x rows: gl_WorkGroupID.z takes every gl_NumWorkGroups.z-th (the host spreads M > MB
    // over z so a batch of rows runs in parallel workgroups; each row's arithmetic is the same)
    for (uint m0 = gl_WorkGroupID.z * MB; m0 < pc.M; m0 += MB * gl_NumWorkGroups.z) {
        const uint mc = min(MB, pc.M - m0); // active rows in this pass (uniform)
        uint xb[MB];
        for (uint i = 0; i < MB; ++i) xb[i] = (pc.x_row0 + m0 + min(i, mc - 1u)) * pc.x_stride;
        float acc[NR][MB], ss[MB];
        for (uint i = 0; i < MB; ++i) {
            ss[i] = 0.0;
            for (uint r = 0; r < NR; ++r) acc[r][i] = 0.0;
        }

#ifdef WQUANT
        // Q8_0 / Q4_0 rows are whole blocks (zero-padded to WQ_KP(K)). Each thread takes 8 weights of a
        // block at a time, like the f16 path (a thread per whole block left most of a workgroup idle on
        // 144-wide rows: 5 of 32 threads): Q4_0 uint c of block b holds elements 4c..4c+3 (low nibbles)
        // and 16+4c..16+4c+3 (high); Q8_0 uints 2c, 2c+1 hold elements 8c..8c+7. Each 4-element group
        // lies wholly below or past K when K % 4 == 0; inputs past K (the padding) are not read.
        const bool xvec = K % 4u == 0u && pc.x_stride % 4u == 0u; // inputs as vec4 (uniform)
        for (uint s = tid; s < nsub; s += WG) {
            const uint b = s >> 2, c = s & 3u;
            WQ_STEP wr[NR];
#if defined(WTYPE_Q8_0)
            const uint k0 = b * 32u + c * 8u, k1 = k0 + 4u;
            for (uint r = 0; r < NR; ++r) wr[r] = wv2[part[r]].v[eb[r] + s];
#else
            const uint k0 = b * 32u + c * 4u, k1 = k0 + 16u;
            for (uint r = 0; r < NR; ++r) wr[r] = wp[part[r]].w[eb[r] + s];
#endif
            float d[NR];
            for (uint r = 0; r < NR; ++r) {
                const uint h = hb[r] + b;
                d[r] = unpackHalf2x16(wp[part[r]].w[sbase + (h >> 1)])[h & 1u];
            }
            for (uint i = 0; i < MB; ++i) {
                if (i >= mc) break;
                vec4 x0 = vec4(0.0), x1 = vec4(0.0);
                if (xvec) {
                    if (k0 < K) x0 = in_vec4(xb[i], k0, ss[i]);
                    if (k1 < K) x1 = in_vec4(xb[i], k1, ss[i]);
                } else {
                    for (uint j = 0; j < 4u; ++j) {
                        if (k0 + j < K) x0[j] = in_val(xb[i], k0 + j, ss[i]);
                        if (k1 + j < K) x1[j] = in_val(xb[i], k1 + j, ss[i]);
                    }
                }
                for (uint r = 0; r < NR; ++r) acc[r][i] += d[r] * wq_dot8(wr[r], x0, x1);
            }
        }
#else
        if (VEC_ROWS) {
            // every row starts on a 16-byte vector: each thread reads whole vectors of NR rows; the
            // inputs as vec4 too when every x row starts on one (uniform)
            const bool xvec = pc.x_stride % 4u == 0u;
            for (uint k = tid * VE; k < K; k += WG * VE) {
                WVEC wr[NR];
                for (uint r = 0; r < NR; ++r) wr[r] = wv[part[r]].v[(eb[r] + k) / VE];
                for (uint i = 0; i < MB; ++i) {
                    if (i >= mc) break;
                    float xv[VE];
                    if (xvec) {
                        for (uint j = 0; j < VE; j += 4u) {
                            const vec4 v = in_vec4(xb[i], k + j, ss[i]);
                            xv[j] = v.x, xv[j + 1u] = v.y, xv[j + 2u] = v.z, xv[j + 3u] = v.w;
                        }
                    } else {
                        for (uint j = 0; j < VE; ++j) xv[j] = in_val(xb[i], k + j, ss[i]);
                    }
                    for (uint r = 0; r < NR; ++r) acc[r][i] += vdot(wr[r], xv);
                }
            }
        } else {
            for (uint k = tid; k < K; k += WG) {
                float wr[NR];
                for (uint r = 0; r < NR; ++r) wr[r] = WLOAD(wp[part[r]].w, eb[r] + k);
                for (uint i = 0; i < MB; ++i) {
                    if (i >= mc) break;
                    const float xv = in_val(xb[i], k, ss[i]);
                    for (uint r = 0; r < NR; ++r) acc[r][i] += wr[r] * xv;
                }
            }
        }
#endif

        // Reduction of the nv active values (dot products of active rows, then their sums of squares):
        // step 1, thread p sums entries c, c + 16, ... of value v (p = v * 16 + c); step 2 sums the 16.
        const uint nd = NR * mc, nv = nd + (rms ? mc : 0u);
        for (uint r = 0; r < NR; ++r)
            for (uint i = 0; i < MB; ++i)
                if (i < mc) red[(r * mc + i) * WG + tid] = acc[r][i];
        if (rms)
            for (uint i = 0; i < MB; ++i)
                if (i < mc) red[(nd + i) * WG + tid] = ss[i];
        barrier();
        float part_sum[NV * 16u / WG + 1u]; // step-1 results this thread owns (WG >= 16)
        {
            uint c = 0;
            for (uint p = tid; p < nv * 16u; p += WG, ++c) {
                const uint v = p / 16u, o = p % 16u;
                float s = 0.0;
                for (uint j = o; j < WG; j += 16u) s += red[v * WG + j];
                part_sum[c] = s;
            }
        }
        barrier();
        {
            uint c = 0;
            for (uint p = tid; p < nv * 16u; p += WG, ++c) red[p] = part_sum[c];
        }
        barrier();
        if (tid < nd) {
            const uint r = tid / mc, i = tid % mc;
            const uint n = n0 + r;
            if (n < pc.N) {
                float v = 0.0;
                for (uint j = 0; j < 16u; ++j) v += red[tid * 16u + j];
                if (rms) {
                    float s = 0.0;
                    for (uint j = 0; j < 16u; ++j) s += red[(nd + i) * 16u + j];
                    v *= inversesqrt(s / float(K) + pc.eps);
                }
                const uint yi = (pc.y_row0 + m0 + i) * pc.y_stride + n;
                y[yi] = ((pc.flags & MM_ACCUMULATE) != 0u) ? y[yi] + v : v;
            }
        }
        barrier(); // red is reused by the next pass
    }
}
