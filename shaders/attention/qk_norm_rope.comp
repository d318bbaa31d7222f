#version 450
// Per-head q_norm / k_norm (RMSNorm) + NeoX rotate-half RoPE, and the K/V cache write.
//   qkv [T, (nh + 2 nkv) hd]: row t = the fused q | k | v projection of token t (absolute position
//   p = seq.pos + t). q heads -> q_out [T, nh hd]; k heads -> kcache[(p nkv + kh) hd + d];
//   v heads (copied) -> vcache at the same place. Cache rows p >= ctx are never written.
// One workgroup per (head of the fused row, token): gl_WorkGroupID = (head, t).
// BATCH: one token of each of B sequences (gl_WorkGroupID = (head, b)), each with its own cache.
// FUSED (decode): the qkv projection is computed here, not read: the workgroup stages its token's row
// RMSNorm(x) * norm_w [K] in shared memory and computes its head's hd values sum_k xs[k] W[head hd + r][k]
// (W [(nh + 2 nkv) hd, K], f32, f16, Q8_0 or Q4_0, one binding), then norms / ropes / writes them as
// above: one dispatch instead of a matvec and this. x row t (b) at t (b) * x_stride; K <= KMAX.
// RoPE follows HF's float32 path: inv_freq_i = 1 / theta^(fl32(2i / hd)), angle = fl32(p * inv_freq_i),
// then cos / sin of that float angle. The builtins pow / sin / cos are not used: Vulkan only bounds
// their error loosely (sin: 2^-11 absolute; pow: grows with the exponent), so inv_freq is computed
// with float-float arithmetic (<= ~1 ulp of the float32 reference) and sin / cos with an exact
// Cody-Waite reduction (accurate to ~1e-7 for angles up to ~1e6, i.e. positions up to ~1M).
#include "common/types.glsl"
layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;
#ifdef BATCH
// B sequences of one token each (decode_batch): gl_WorkGroupID.y = row b, with its own position, cache
// and capacity; qkv row b starts at b * in_stride, q_out row b at b * out_stride.
#define MAXB 8
layout(std430, binding = 0) readonly buffer QKV { float qkv[]; };
layout(std430, binding = 1) readonly buffer QN { float qn_w[]; };
layout(std430, binding = 2) readonly buffer KN { float kn_w[]; };
layout(std430, binding = 3) readonly buffer Seq { SEQ_INFO_FIELDS } seqs[MAXB];
layout(std430, binding = 4) writeonly buffer QO { float q_out[]; };
layout(std430, binding = 5) writeonly buffer KC { float d[]; } kcs[MAXB];
layout(std430, binding = 6) writeonly buffer VC { float d[]; } vcs[MAXB];
#ifdef FUSED
layout(push_constant) uniform Push { uint T, nh, nkv, hd; float eps, theta; uint flags, in_stride, out_stride; uint ctx[MAXB]; uint K; float in_eps; } pc;
#else
layout(push_constant) uniform Push { uint T, nh, nkv, hd; float eps, theta; uint flags, in_stride, out_stride; uint ctx[MAXB]; } pc;
#endif
uint bi = 0u;
#define KC kcs[bi].d
#define VC_ vcs[bi].d
#define SEQ seqs[bi]
#define CTX pc.ctx[bi]
#else
layout(std430, binding = 0) readonly buffer QKV { float qkv[]; };
layout(std430, binding = 1) readonly buffer QN { float qn_w[]; };
layout(std430, binding = 2) readonly buffer KN { float kn_w[]; };
layout(std430, binding = 3) readonly buffer Seq { SEQ_INFO_FIELDS } seq;
layout(std430, binding = 4) writeonly buffer QO { float q_out[]; };
layout(std430, binding = 5) writeonly buffer KC { float kc[]; };
layout(std430, binding = 6) writeonly buffer VC { float vc[]; };
#ifdef FUSED
layout(push_constant) uniform Push { uint T, nh, nkv, hd; float eps, theta; uint flags, ctx, K, in_stride; float in_eps; } pc;
#else
layout(push_constant) uniform Push { uint T, nh, nkv, hd; float eps, theta; uint flags, ctx; } pc;
#endif
#define KC kc
#define VC_ vc
#define SEQ seq
#define CTX pc.ctx
#endif

#define FLAG_NORM 1u
#define FLAG_ROPE 2u

shared float partial[WG];

#ifdef FUSED
// binding 0 (QKV above) is x [rows, in_stride]; the qkv weights and the input norm's weights:
layout(std430, binding = 7) readonly buffer W { WSTORE w[]; };
#if defined(WQUANT)
#if defined(WTYPE_Q8_0)
layout(std430, binding = 7) readonly buffer WV2 { uvec2 wv2[]; }; // 8 int8 quants
#endif
#elif defined(WTYPE_F16)
#define FVE 8u
layout(std430, binding = 7) readonly buffer WV { uvec4 wv[]; };
#else
#define FVE 4u
layout(std430, binding = 7) readonly buffer WV { vec4 wv[]; };
#endif
layout(std430, binding = 8) readonly buffer NW { float nw[]; };
#define KMAX 1024u
#define HDMAX 256u
shared float xs[KMAX]; // RMSNorm(x row) * nw
shared float hv[HDMAX]; // this head's projected values

// Part `lane` of TPR of W row n dotted with xs (lanes stride over 16-byte vectors when K % FVE == 0:
// TPR consecutive threads read consecutive vectors of one row).
#if defined(WQUANT)
// Q8_0 / Q4_0 (one part: the block scales follow all nheads * hd rows): lanes stride over 8-quant steps
// (wq_dot8, types.glsl) as in matvec.comp; xs is zero from K to the padded WQ_KP(K).
float row_dot(uint n, uint lane, uint TPR) {
    const uint K = pc.K, nb = WQ_NB(K), nsub = nb * 4u;
    const uint sbase = (pc.nh + 2u * pc.nkv) * pc.hd * WQ_ROWU(K);
    float acc = 0.0;
    for (uint s = lane; s < nsub; s += TPR) {
        const uint b = s >> 2, c = s & 3u, h = n * nb + b;
        const float d = unpackHalf2x16(w[sbase + (h >> 1)])[h & 1u];
#if defined(WTYPE_Q8_0)
        const uvec2 u = wv2[n * nsub + s];
        const uint k0 = b * 32u + c * 8u, k1 = k0 + 4u;
#else
        const uint u = w[n * nsub + s];
        const uint k0 = b * 32u + c * 4u, k1 = k0 + 16u;
#endif
        acc += d * wq_dot8(u, vec4(xs[k0], xs[k0 + 1u], xs[k0 + 2u], xs[k0 + 3u]),
                           vec4(xs[k1], xs[k1 + 1u], xs[k1 + 2u], xs[k1 + 3u]));
    }
    return acc;
}
#else
float row_dot(uint n, uint lane, uint TPR) {
    const uint K = pc.K;
    float acc = 0.0;
    if (K % FVE == 0u) {
        const uint v0 = n * (K / FVE);
        for (uint j = lane; j < K / FVE; j += TPR) {
            const uint k = j * FVE;
#ifdef WTYPE_F16
            const uvec4 u = wv[v0 + j];
            acc += dot(unpackHalf2x16(u.x), vec2(xs[k], xs[k + 1u])) + dot(unpackHalf2x16(u.y), vec2(xs[k + 2u], xs[k + 3u])) +
                   dot(unpackHalf2x16(u.z), vec2(xs[k + 4u], xs[k + 5u])) + dot(unpackHalf2x16(u.w), vec2(xs[k + 6u], xs[k + 7u]));
#else
            acc += dot(wv[v0 + j], vec4(xs[k], xs[k + 1u], xs[k + 2u], xs[k + 3u]));
#endif
        }
    } else {
        for (uint k = lane; k < K; k += TPR) acc += WLOAD(w, n * K + k) * xs[k];
    }
    return acc;
}
#endif

// Workgroup sum of v (partial[] is free again on return).
float wg_sum(float v) {
    const uint tid = gl_LocalInvocationID.x;
    partial[tid] = v;
    barrier();
    for (uint k = WG / 2u; k > 0u; k >>= 1) {
        if (tid < k) partial[tid] += partial[tid + k];
        barrier();
    }
    const float s = partial[0];
    barrier();
    return s;
}
#define IN(i) hv[i]
#else
#define IN(i) qkv[src + (i)]
#endif

// a / b correctly rounded to float (round to nearest even), 0 <= a < 2^16, 0 < b < 2^16; bitwise long
// division because Vulkan allows 2.5 ulp for float division and the exponent's error is amplified.
float div_rn(uint a, uint b) {
    if (a == 0u) return 0.0;
    int k = 0;
    uint r = a;
    while (r < b) { r <<= 1; ++k; }
    uint m = 0u;
    for (int i = 0; i < 24; ++i) {
        m <<= 1;
        if (r >= b) { m |= 1u; r -= b; }
        r <<= 1;
    }
    if (r > b || (r == b && (m & 1u) == 1u)) ++m;
    return ldexp(float(m), -(k + 23));
}

// 2^(hi + lo) for |lo| << 1: 2^n * 2^f with f in [-0.5, 0.5], Taylor series of e^(f ln2) to degree 8
// (truncation < 1e-8 relative); ldexp is exact.
float exp2_ff(float hi, float lo) {
    precise float n = roundEven(hi);
    precise float f = (hi - n) + lo;
    precise float p = 1.3215486790144307e-06;
    p = p * f + 1.5252733804059838e-05;
    p = p * f + 1.5403530393381606e-04;
    p = p * f + 1.3333558146428443e-03;
    p = p * f + 9.6181291076284772e-03;
    p = p * f + 5.5504108664821580e-02;
    p = p * f + 2.4022650695910071e-01;
    p = p * f + 6.9314718055994531e-01;
    p = p * f + 1.0;
    return ldexp(p, int(n));
}

// Dekker's exact product a * b = p + e (no fma: Vulkan's fma need not be fused).
void two_prod(float a, float b, out float p, out float e) {
    precise float ta = 4097.0 * a;
    precise float ah = ta - (ta - a);
    precise float al = a - ah;
    precise float tb = 4097.0 * b;
    precise float bh = tb - (tb - b);
    precise float bl = b - bh;
    precise float pp = a * b;
    precise float ee = (((ah * bh - pp) + ah * bl) + al * bh) + al * bl;
    p = pp;
    e = ee;
}

// inv_freq_i = theta^(-e), e = fl32(2i / hd): exponent e * log2(theta) in float-float, log2(theta) =
// builtin log2 refined by one Newton step (hi + lo).
float rope_inv_freq(uint i, uint hd, float theta) {
    const float e = div_rn(2u * i, hd);
    const float l_hi = log2(theta);
    precise float y0 = exp2_ff(l_hi, 0.0);
    precise float l_lo = (theta - y0) / (y0 * 0.69314718055994531);
    float x_hi, x_lo;
    two_prod(e, l_hi, x_hi, x_lo);
    precise float lo = x_lo + e * l_lo;
    return exp2_ff(-x_hi, -lo);
}

// sin and cos of a float angle a >= 0: a - j pi/2 with pi/2 split into 8-bit parts (8, 8, 8 bits + the
// rest) and j split into high and low parts, so every product j * C is exact and the reduction is exact
// for j < 2^24; then cephes sinf / cosf polynomials on [-pi/4, pi/4].
vec2 sincos_f32(float a) {
    const float C[4] = float[4](1.5703125, 4.825592041015625e-04, 1.2665987014770508e-06,
                                9.920936294705030e-10);
    precise float j = roundEven(a * 0.63661977236758134);
    precise float jl = float(uint(j) & 255u);
    precise float jh = j - jl;
    precise float r = a;
    for (int c = 0; c < 4; ++c) {
        r = r - jh * C[c];
        r = r - jl * C[c];
    }
    precise float z = r * r;
    precise float s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
    precise float co = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z
                       - 0.5 * z + 1.0;
    switch (uint(j) & 3u) {
    case 0u: return vec2(s, co);
    case 1u: return vec2(co, -s);
    case 2u: return vec2(-s, -co);
    default: return vec2(-co, s);
    }
}

void main() {
    const uint head = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
    const uint nheads = pc.nh + 2u * pc.nkv, hd = pc.hd;
#ifdef BATCH
    bi = gl_WorkGroupID.y;
    const uint t = 0u;
    if (head >= nheads || bi >= pc.T) return; // workgroup-uniform
    const uint src = bi * pc.in_stride + head * hd;
#ifdef FUSED
    const uint xrow = bi * pc.in_stride;
#endif
    const uint qdst = bi * pc.out_stride + head * hd;
#else
    const uint t = gl_WorkGroupID.y;
    if (head >= nheads || t >= pc.T) return; // workgroup-uniform
    const uint src = (t * nheads + head) * hd;
#ifdef FUSED
    const uint xrow = t * pc.in_stride;
#endif
    const uint qdst = (t * pc.nh + head) * hd;
#endif
    const uint p = SEQ.pos + t;
    // kind 0: q head h; 1: k head; 2: v head
    const uint kind = head < pc.nh ? 0u : (head < pc.nh + pc.nkv ? 1u : 2u);
    const uint kvh = kind == 1u ? head - pc.nh : head - pc.nh - pc.nkv;
    const bool in_cache = p < CTX;
    const uint cdst = (p * pc.nkv + kvh) * hd;
#ifdef FUSED
    if (kind != 0u && !in_cache) return; // nothing to write (uniform)
    {
        const uint K = min(pc.K, KMAX);
        float ss = 0.0;
        for (uint k = tid; k < K; k += WG) { const float v = qkv[xrow + k]; xs[k] = v; ss += v * v; }
        const float rin = inversesqrt(wg_sum(ss) / float(K) + pc.in_eps); // wg_sum's barriers publish xs
        for (uint k = tid; k < K; k += WG) xs[k] = (xs[k] * rin) * nw[k];
#if defined(WQUANT)
        for (uint k = K + tid; k < min(WQ_KP(K), KMAX); k += WG) xs[k] = 0.0; // block padding
#endif
        barrier();
        // TPR threads per head row (a power of two <= WG / hd): short per-thread load chains, since only
        // nh + 2 nkv workgroups run per token; their partial sums meet in `partial`
        uint TPR = 1u;
        while (TPR * 2u * hd <= WG) TPR *= 2u;
        const uint lane = tid % TPR, rows_per_pass = WG / TPR;
        for (uint r0 = 0u; r0 < min(hd, HDMAX); r0 += rows_per_pass) {
            const uint r = r0 + tid / TPR;
            partial[tid] = r < min(hd, HDMAX) ? row_dot(head * hd + r, lane, TPR) : 0.0;
            barrier();
            if (lane == 0u && r < min(hd, HDMAX)) {
                float s = 0.0;
                for (uint l = 0u; l < TPR; ++l) s += partial[tid + l];
                hv[r] = s;
            }
            barrier();
        }
    }
#endif

    if (kind == 2u) {
        if (!in_cache) return;
        for (uint i = tid; i < hd; i += WG)
            if (cdst + i < uint(VC_.length())) VC_[cdst + i] = IN(i);
        return;
    }
    if (kind == 1u && !in_cache) return;

    float rn = 1.0;
    const bool norm = (pc.flags & FLAG_NORM) != 0u;
    if (norm) {
        float s = 0.0;
        for (uint i = tid; i < hd; i += WG) { float v = IN(i); s += v * v; }
        partial[tid] = s;
        barrier();
        for (uint k = WG / 2u; k > 0u; k >>= 1) {
            if (tid < k) partial[tid] += partial[tid + k];
            barrier();
        }
        rn = inversesqrt(partial[0] / float(hd) + pc.eps);
    }
    // element i after the norm (HF order: (x * rsqrt) * w)
#define NORMED(i) (norm ? (IN(i) * rn) * (kind == 0u ? qn_w[i] : kn_w[i]) : IN(i))
#define STORE(i, v)                                                          \
    {                                                                        \
        if (kind == 0u) { if (qdst + (i) < uint(q_out.length())) q_out[qdst + (i)] = (v); } \
        else if (cdst + (i) < uint(KC.length())) KC[cdst + (i)] = (v);       \
    }
    if ((pc.flags & FLAG_ROPE) != 0u) {
        const uint half_hd = hd / 2u;
        for (uint i = tid; i < half_hd; i += WG) {
            const float x1 = NORMED(i), x2 = NORMED(i + half_hd);
            precise float ang = float(p) * rope_inv_freq(i, hd, pc.theta);
            const vec2 sc = sincos_f32(ang);
            STORE(i, x1 * sc.y - x2 * sc.x);
            STORE(i + half_hd, x2 * sc.y + x1 * sc.x);
        }
        if ((hd & 1u) != 0u && tid == 0u) STORE(hd - 1u, NORMED(hd - 1u)); // odd hd: rejected by the host
    } else {
        for (uint i = tid; i < hd; i += WG) STORE(i, NORMED(i));
    }
}
