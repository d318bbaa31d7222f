#version 450
// ConvGPT v1 embedding (spec steps 1-4), one workgroup per token t < n_tokens:
//   id = tokens[tok_offset + t] (clamped to vocab - 1); X = E[id] viewed as an e x e grid X[c][w];
//   Y[o][w] = sum_i sum_j K[o][i][0][j] * X[i][w + j - (k-1)]   (causal conv along w, zero left padding)
//   P[a][b] = mean_{u,v < f} Y[a f + u][b f + v], flattened row-major -> [td = (e/f)^2]
//   out[t][:] = P / max(||P||_2 / sqrt(td), 1e-5) * g[0]   (row t at t * out_stride; 0: td)
// The E row (H = e*e <= 4096 floats) is staged in shared memory; threads compute pooled values P[q]
// directly (Y is never stored): one thread per value, or, when the workgroup has more threads than td,
// C = WG / td threads per value each summing every C-th input channel, combined through shared memory
// (the token's latency is what counts in decode). Values are written unnormalized and rescaled by the
// thread that wrote them after a shared-memory reduction of ||P||^2 (reusing the row's shared memory).
// Mirrored by vkc::EmbedConvPush (model/kernels/embed.h).
#include "common/types.glsl"

layout(constant_id = 0) const uint WG = 256; // power of two, <= MAXH
layout(local_size_x_id = 0) in;

#define MAXH 4096

layout(std430, binding = 0) readonly buffer Tok { uint tokens[]; };
layout(std430, binding = 1) readonly buffer E { WSTORE w[]; } ep[WPARTS];
layout(std430, binding = 2) readonly buffer CW { float cw[]; }; // [e, e, 1, k]
layout(std430, binding = 3) readonly buffer G { float g[]; };   // [1]
layout(std430, binding = 4) buffer Out { float o[]; };          // [n_tokens, td]

layout(push_constant) uniform Push {
    uint n_tokens, tok_offset;
    uint H, e, f, k, td;
    uint rows_per_part, vocab;
    uint out_stride;
} pc;

shared float xs[MAXH]; // the token's grid X, later the reduction scratch (16 KiB)

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint t = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (t >= pc.n_tokens) return; // whole workgroup: uniform
    const uint id = min(tokens[pc.tok_offset + t], pc.vocab - 1u);
    const uint part = id / pc.rows_per_part; // uniform
    const uint r = id - part * pc.rows_per_part; // row within the part
    const uint H = min(pc.H, MAXH);
    for (uint i = tid; i < H; i += WG) xs[i] = WLOAD_RC(ep[part].w, r, i, pc.H, pc.rows_per_part);
    barrier();

    const uint e = pc.e, f = pc.f, kw = pc.k, p = pc.e / pc.f, td = pc.td;
    const uint ob = t * (pc.out_stride == 0u ? td : pc.out_stride);
    const float inv_area = 1.0 / float(f * f);
    // C threads share one pooled value when the workgroup outnumbers td (each sums channels i = c mod C)
    const uint C = max(1u, WG / td);
    float ss = 0.0, psum = 0.0;
    for (uint u0 = tid; u0 < td * C; u0 += WG) {
        const uint q = u0 / C, c = u0 % C;
        const uint a = q / p, b = q % p;
        float s = 0.0;
        for (uint u = 0; u < f; ++u) {
            const uint oc = a * f + u;                       // output channel (grid row of Y)
            for (uint i = c; i < e; i += C) {
                const uint wb = (oc * e + i) * kw, xr = i * e;
                for (uint j = 0; j < kw; ++j) {
                    const float wv = cw[wb + j];
                    for (uint v = 0; v < f; ++v) {
                        const int src = int(b * f + v + j) - int(kw - 1u); // X column; < 0: padding
                        if (src >= 0) s += wv * xs[xr + uint(src)];
                    }
                }
            }
        }
        if (C == 1u) { // the value is complete: store it unnormalized
            const float pv = s * inv_area;
            o[ob + q] = pv;
            ss += pv * pv;
        } else {
            psum = s; // td * C <= WG: one unit per thread
        }
    }
    barrier(); // every thread is done reading the grid: reuse xs
    if (C > 1u) {
        xs[tid] = psum;
        barrier();
        if (tid < td * C && tid % C == 0u) {
            float s = 0.0;
            for (uint c = 0; c < C; ++c) s += xs[tid + c];
            const float pv = s * inv_area;
            o[ob + tid / C] = pv;
            ss = pv * pv;
        }
        barrier();
    }
    xs[tid] = ss;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) xs[tid] += xs[tid + s];
        barrier();
    }
    const float denom = max(sqrt(xs[0]) * inversesqrt(float(td)), 1e-5);
    const float scale = g[0] / denom;
    // values this thread wrote (C == 1: q = tid + j WG; C > 1: q = tid / C)
    if (C == 1u) {
        for (uint q = tid; q < td; q += WG) o[ob + q] *= scale;
    } else if (tid < td * C && tid % C == 0u) {
        o[ob + tid / C] *= scale;
    }
}
