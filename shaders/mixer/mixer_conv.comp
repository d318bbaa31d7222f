#version 450
// ConvGPT-v2 mixer core for token t (absolute p = seq.pos + t), one workgroup per token:
//   c1 = b1 + sum_{j<k1} w1[ch][j] a[p-(k1-1)+j]                      (causal depthwise 1D, a[<0] = 0)
//   c2 = b2 + sum_{|dx|,|dy|<=r} w2[ch][dy+r][dx+r] a[xy2d(x+dx, y+dy)]  (cells inside the grid with q <= p)
//   c2 = RMSNorm(c2) * norm_w ; g = sigmoid(glin)
//   m[t][ch] = (g silu(c1) + (1-g) silu(c2)) * silu(z)
// a is read from hist [ctx, d] (mixer_store ran first for this batch); z, glin from u [T, u_stride] at
// z_off / g_off. w1 [d, k1], w2 [d, k2*k2] are WTYPE; b1, b2, norm_w [d] are f32. m [T, m_stride] holds
// c2 between the two passes (each thread re-reads only what it wrote). WG must be a power of two.
#include "common/types.glsl"
#include "mixer/hilbert.glsl"
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
#define MAX_TAPS 232 // k2 <= 15: 225 taps, padded to a multiple of 8
layout(std430, binding = 0) readonly buffer Seq { SEQ_INFO_FIELDS } seq;
layout(std430, binding = 1) readonly buffer U { float u[]; };
layout(std430, binding = 2) readonly buffer H { float hist[]; };
layout(std430, binding = 3) readonly buffer W1 { WSTORE w1[]; };
layout(std430, binding = 4) readonly buffer B1 { float b1[]; };
layout(std430, binding = 5) readonly buffer W2 { WSTORE w2[]; };
layout(std430, binding = 6) readonly buffer B2 { float b2[]; };
layout(std430, binding = 7) readonly buffer NW { float nw[]; };
layout(std430, binding = 8) buffer M { float m[]; };
layout(push_constant) uniform Push {
    uint n_tokens; uint d; uint u_stride; uint z_off; uint g_off; uint m_stride;
    uint k1; uint k2; uint grid; uint ctx; float eps;
} pc;

const uint NO_TAP = 0xFFFFFFFFu;
shared uint tap_q[MAX_TAPS]; // history row of each 2D tap, then compacted to the n_taps valid ones
shared uint tap_i[MAX_TAPS]; // tap index (dy+r)*k2 + (dx+r) of each valid tap
shared float tap_m[MAX_TAPS]; // 1 for a valid tap, 0 for the padding (row p, weight 0)
shared uint n_taps;
shared float partial[WG];

void main() {
    const uint t = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
    const uint p = seq.pos + t;
    if (t >= pc.n_tokens || p >= pc.ctx) return; // uniform per workgroup

    const uint kk = pc.k2 * pc.k2, r = pc.k2 / 2u;
    const uvec2 xy = hilbert_d2xy(pc.grid, p);
    for (uint i = tid; i < kk; i += WG) {
        const int nx = int(xy.x) + int(i % pc.k2) - int(r);
        const int ny = int(xy.y) + int(i / pc.k2) - int(r);
        uint q = NO_TAP;
        if (nx >= 0 && ny >= 0 && nx < int(pc.grid) && ny < int(pc.grid)) {
            const uint qq = hilbert_xy2d(pc.grid, uint(nx), uint(ny));
            if (qq <= p) q = qq;
        }
        tap_q[i] = q;
    }
    barrier();
    if (tid == 0u) { // drop taps outside the grid or in the future (keeps tap order); pad to 8
        uint n = 0u;
        for (uint i = 0u; i < kk; ++i)
            if (tap_q[i] != NO_TAP) { tap_q[n] = tap_q[i]; tap_i[n] = i; tap_m[n] = 1.0; ++n; }
        for (; (n & 7u) != 0u; ++n) { tap_q[n] = p; tap_i[n] = 0u; tap_m[n] = 0.0; }
        n_taps = n;
    }
    barrier();
    const uint nt = n_taps;

    // pass 1: c2 before its norm -> m, sum of squares
    const uint mb = t * pc.m_stride;
    float ss = 0.0;
    for (uint ch = tid; ch < pc.d; ch += WG) {
        float c2 = b2[ch];
        const uint wb = ch * kk;
        for (uint i0 = 0u; i0 < nt; i0 += 8u) { // 8 unconditional loads in flight (latency-bound in decode)
            float hv[8], wv[8];
            for (uint l = 0u; l < 8u; ++l) {
                hv[l] = hist[tap_q[i0 + l] * pc.d + ch];
                wv[l] = tap_m[i0 + l] * WLOAD(w2, wb + tap_i[i0 + l]);
            }
            for (uint l = 0u; l < 8u; ++l) c2 += wv[l] * hv[l];
        }
        m[mb + ch] = c2;
        ss += c2 * c2;
    }
    partial[tid] = ss;
    barrier();
    for (uint k = WG / 2u; k > 0u; k >>= 1) {
        if (tid < k) partial[tid] += partial[tid + k];
        barrier();
    }
    const float rn = inversesqrt(partial[0] / float(pc.d) + pc.eps);

    // pass 2: 1D branch, norm, gated fusion
    const uint ub = t * pc.u_stride;
    for (uint ch = tid; ch < pc.d; ch += WG) {
        float c1 = b1[ch];
        const uint wb = ch * pc.k1;
        for (uint j = 0u; j < pc.k1; ++j) {
            const uint src = p + j; // a[src - (k1-1)]
            if (src + 1u >= pc.k1) c1 += WLOAD(w1, wb + j) * hist[(src + 1u - pc.k1) * pc.d + ch];
        }
        const float c2 = m[mb + ch] * rn * nw[ch];
        const float g = 1.0 / (1.0 + exp(-u[ub + pc.g_off + ch]));
        const float mix = g * silu(c1) + (1.0 - g) * silu(c2);
        m[mb + ch] = mix * silu(u[ub + pc.z_off + ch]);
    }
}
