#version 450
// Prefill matmul (tiled): y[m][n] (=|+=) sum_k in(m, k) * W[n][k], m < M, n < N.
// Workgroup = BM x 64 output tile (gl_WorkGroupID.y: rows m, .x: columns n; BM = 64 with WG = 256, 16
// with WG = 64), threads as 16 x TM (TM = WG / 16), each computing a 4 x 4 register micro-tile at rows
// 4 ty + i, columns 4 tx + j, read from shared memory as vec4s (2 vector loads per 16 FMAs). K advances in
// slices of 16: the BM x 16 x-tile and 64 x 16 W-tile are staged k-major in shared memory (at most
// 2 x 16 x 68 floats = 8.5 KiB; rows padded to 68 floats so the transposing stores hit at most 2 threads
// per bank). Global loads: 16 threads read 16 consecutive k.
// Global loads of the next K slice are issued into registers before the current slice's FMAs. Out-of-range rows / columns / k are zero-filled, skipped on store.
// in(m, k) by flags: x[m][k] | RMSNorm(x[m]) [k] * norm_w[k] | silu(x[m][k]) * x[m][K + k]. For RMSNorm
// the tile holds x * norm_w while each thread accumulates sum x^2 of the rows it loads; the per-row scale
// 1/sqrt(mean + eps) is applied to the finished dot products (it factors out of the sum over k).
// Quantized weights (Q8_0 / Q4_0) are dequantized in the W-tile load, a uint of 4 quants per thread.
// Bindings and push constants are identical to matvec.comp; mirrored by vkc::MatmulPush.
#include "common/types.glsl"

// 256 (tiles of 64 rows) or 64 (16 rows, for few rows: a 64-row tile of 8 tokens is 7/8 zeros)
layout(constant_id = 0) const uint WG = 256;
layout(local_size_x_id = 0) in;

const uint TM = WG / 16u; // thread rows: threads are 16 (columns / k) x TM
#define BM (4u * TM)      // tile rows
#define WR (64u / TM)     // W-tile rows each thread loads per slice (4 or 16)
#define BN 64
#define BK 16

#define MM_ACCUMULATE 1u
#define MM_IN_RMSNORM 2u
#define MM_IN_SWIGLU 4u

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { WSTORE w[]; } wp[WPARTS];
layout(std430, binding = 2) buffer Y { float y[]; };
layout(std430, binding = 3) readonly buffer NW { float nw[]; };

layout(push_constant) uniform Push {
    uint M, N, K;
    uint x_stride, y_stride;
    uint x_row0, y_row0;
    uint rows_per_part;
    uint flags;
    float eps;
} pc;

shared vec4 As[BK][BM / 4 + 1]; // As[k][m / 4][m % 4] = in(m0 + m, k0 + k)
shared vec4 Bs[BK][BN / 4 + 1]; // Bs[k][n / 4][n % 4] = W[n0 + n][k0 + k]

// W[n][k] where the tile straddles two parts (rows_per_part not a multiple of 64): the part index is not
// uniform, so select the binding with constant indices (valid without non-uniform descriptor indexing).
#ifndef WQUANT
float wget(uint n, uint k) {
    const uint p = n / pc.rows_per_part, K = pc.K, rpp = pc.rows_per_part;
    const uint r = n - p * rpp; // row within the part
    switch (p) {
    case 0: return WLOAD_RC(wp[0].w, r, k, K, rpp);
    case 1: return WLOAD_RC(wp[1].w, r, k, K, rpp);
    case 2: return WLOAD_RC(wp[2].w, r, k, K, rpp);
    default: return WLOAD_RC(wp[3].w, r, k, K, rpp);
    }
}
#endif

// Global values of one K slice held in registers: loaded for slice s + 1 while slice s is computed.
// Indices are clamped so every load is in bounds and issued unconditionally; out-of-range values are
// zeroed when stored to shared memory.
float rx[4], ru[4], rw[16], rn; // rw: WR used
#ifdef WQUANT
// Quantized W tile: thread (tile row tid / 4, c = tid % 4) loads one uint of quants = 4 weights of the
// 16-wide slice (a slice is half a 32-weight block: Q4_0 uint c holds k = 4c..4c+3 in its low nibbles
// for the first half, high for the second; Q8_0 uint 4 half + c holds 4 int8) and the block's scale:
// 2 loads per thread and slice, not 2 per weight (WLOAD_RC).
uint rq[4];  // 256 / WG used: rows (tid >> 2) + (WG / 4) i
float rd[4];
uint wword(uint part, uint i) { // word i of part `part` (non-uniform part: constant binding indices)
    switch (part) {
    case 0: return wp[0].w[i];
    case 1: return wp[1].w[i];
    case 2: return wp[2].w[i];
    default: return wp[3].w[i];
    }
}
#endif

void load_slice(uint k0, uint tx, uint ty, uint m0, uint n0, uint p0, bool one_part) {
    const uint K = pc.K, kc = min(k0 + tx, K - 1u);
    const bool rms = (pc.flags & MM_IN_RMSNORM) != 0u, swiglu = (pc.flags & MM_IN_SWIGLU) != 0u;
    for (uint i = 0; i < 4u; ++i) {
        const uint xb = (pc.x_row0 + min(m0 + ty + TM * i, pc.M - 1u)) * pc.x_stride;
        rx[i] = x[xb + kc];
        if (swiglu) ru[i] = x[xb + K + kc];
    }
    if (rms) rn = nw[kc];
#ifdef WQUANT
    for (uint i = 0; i < 256u / WG; ++i) {
        const uint tid = gl_LocalInvocationID.x, rpp = pc.rows_per_part;
        const uint n = min(n0 + (tid >> 2) + (WG / 4u) * i, pc.N - 1u), part = one_part ? p0 : n / rpp;
        const uint r = n - part * rpp, b = k0 >> 5, hb = (k0 >> 4) & 1u, h = r * WQ_NB(K) + b;
#if defined(WTYPE_Q8_0)
        const uint qi = r * WQ_ROWU(K) + b * 8u + hb * 4u + (tid & 3u);
#else
        const uint qi = r * WQ_ROWU(K) + b * 4u + (tid & 3u);
#endif
        if (one_part) {
            rq[i] = wp[p0].w[qi];
            rd[i] = unpackHalf2x16(wp[p0].w[rpp * WQ_ROWU(K) + (h >> 1)])[h & 1u];
        } else {
            rq[i] = wword(part, qi);
            rd[i] = unpackHalf2x16(wword(part, rpp * WQ_ROWU(K) + (h >> 1)))[h & 1u];
        }
    }
#else
    if (one_part) {
        for (uint i = 0; i < WR; ++i) {
            const uint n = min(n0 + ty + TM * i, pc.N - 1u);
            rw[i] = WLOAD_RC(wp[p0].w, n - p0 * pc.rows_per_part, kc, K, pc.rows_per_part);
        }
    } else {
        for (uint i = 0; i < WR; ++i) rw[i] = wget(min(n0 + ty + TM * i, pc.N - 1u), kc);
    }
#endif
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % 16u, ty = tid / 16u;
    const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
    const uint M = pc.M, N = pc.N, K = pc.K;
    const bool rms = (pc.flags & MM_IN_RMSNORM) != 0u;
    const bool swiglu = (pc.flags & MM_IN_SWIGLU) != 0u;
    // the usual case (rows_per_part a multiple of 64, or one part): the whole tile reads one binding
    const uint p0 = n0 / pc.rows_per_part;
    const bool one_part = p0 == min(n0 + BN - 1u, N - 1u) / pc.rows_per_part;

    vec4 acc[4]; // acc[i][j]: row 4 ty + i, column 4 tx + j
    float ss[4]; // sum x^2 of loaded rows ty + TM i (RMSNorm), over this thread's k = tx (mod 16)
    for (uint i = 0; i < 4u; ++i) { acc[i] = vec4(0.0); ss[i] = 0.0; }

    load_slice(0u, tx, ty, m0, n0, p0, one_part);
    for (uint k0 = 0; k0 < K; k0 += BK) {
        const bool kin = k0 + tx < K;
        for (uint i = 0; i < 4u; ++i) {
            const uint l = ty + TM * i; // tile row loaded by this thread
            const bool in_m = kin && m0 + l < M;
            float a = rx[i];
            if (rms) { ss[i] += in_m ? a * a : 0.0; a *= rn; }
            else if (swiglu) a = silu(a) * ru[i];
            As[tx][l / 4u][l % 4u] = in_m ? a : 0.0;
        }
#ifndef WQUANT
        for (uint i = 0; i < WR; ++i) {
            const uint l = ty + TM * i; // W-tile row loaded by this thread
            Bs[tx][l / 4u][l % 4u] = (kin && n0 + l < N) ? rw[i] : 0.0;
        }
#else
        for (uint i = 0; i < 256u / WG; ++i) {
            const uint l = (tid >> 2) + (WG / 4u) * i, c = tid & 3u;
#if defined(WTYPE_Q8_0)
            const vec4 qv = wq8_unpack(rq[i]);
#else
            const vec4 qv = ((k0 >> 4) & 1u) == 0u ? wq4_unpack_lo(rq[i]) : wq4_unpack_hi(rq[i]);
#endif
            for (uint j = 0; j < 4u; ++j)
                Bs[4u * c + j][l / 4u][l % 4u] = (k0 + 4u * c + j < K && n0 + l < N) ? rd[i] * qv[j] : 0.0;
        }
#endif
        barrier();
        if (k0 + BK < K) load_slice(k0 + BK, tx, ty, m0, n0, p0, one_part); // in flight during the FMAs
        for (uint kk = 0; kk < BK; ++kk) {
            const vec4 a = As[kk][ty], b = Bs[kk][tx];
            for (uint i = 0; i < 4u; ++i) acc[i] += a[i] * b;
        }
        barrier();
    }

    // RMSNorm: the 16 threads with this ty hold partial sums of squares of rows ty + TM i (as loaded);
    // this thread's output rows are 4 ty + i.
    vec4 scale = vec4(1.0);
    if (rms) {
        for (uint i = 0; i < 4u; ++i) { const uint l = ty + TM * i; As[tx][l / 4u][l % 4u] = ss[i]; }
        barrier();
        vec4 s = vec4(0.0);
        for (uint t = 0; t < 16u; ++t) s += As[t][ty];
        scale = inversesqrt(s / float(K) + pc.eps);
    }

    const bool accumulate = (pc.flags & MM_ACCUMULATE) != 0u;
    for (uint i = 0; i < 4u; ++i) {
        const uint m = m0 + 4u * ty + i;
        if (m >= M) continue;
        const uint yb = (pc.y_row0 + m) * pc.y_stride;
        for (uint j = 0; j < 4u; ++j) {
            const uint n = n0 + 4u * tx + j;
            if (n >= N) continue;
            const float v = acc[i][j] * scale[i];
            y[yb + n] = accumulate ? y[yb + n] + v : v;
        }
    }
}
