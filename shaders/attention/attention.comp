#version 450
// Causal GQA attention with an online softmax (flash-attention style), any context length.
//   q [T, nh hd] (roped; row t at absolute position p_t = seq.pos + t), kcache / vcache [ctx, nkv, hd]
//   -> out [T, nh hd]. q head h uses kv head h / (nh / nkv). Key j is visible to query t iff j <= p_t and
//   (window == 0 or p_t - j < window). Scores are scaled by pc.scale (hd^-0.5).
// Workgroup = (row tile, kv head, split): a tile is NQ query rows of one kv head, rows ordered (t, head
// of the group) so a tile shares one causal key range and every K / V element loaded serves NQ rows.
// Per block of BK = WG keys: thread j computes the NQ scores of key j (q tile in shared memory), the
// block max / sum per row are reduced in shared memory, then each thread rescales and accumulates its
// output dims (hd <= WG: threads split the block's keys into WG / hd lanes, summed at the end).
// Variants:
//   (none)  one split: normalizes and writes out.
//   SPLIT   split-K (decode with long contexts): gl_WorkGroupID.z = split s of n_splits handles a slice
//           of the key range and writes its unnormalized accumulator + (max, sum) to part (binding 5).
//   COMBINE merges the n_splits partials of each (t, h) into out; gl_WorkGroupID = (h, t).
#include "common/types.glsl"
layout(constant_id = 0) const uint WG = 128;   // threads; must equal 64 * NQ / 4 (BK = 64 keys x NQ / 4 row groups)
layout(constant_id = 1) const uint NQ = 8;     // query rows per workgroup: 8 (hd <= 128) or 4 (hd <= 256)
layout(constant_id = 2) const uint HDMAX = 128;// largest head dim of this pipeline
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer KC { float kc[]; };
layout(std430, binding = 2) readonly buffer VC { float vc[]; };
layout(std430, binding = 3) readonly buffer Seq { SEQ_INFO_FIELDS } seq;
layout(std430, binding = 4) writeonly buffer O { float o[]; };
#if defined(SPLIT) || defined(COMBINE)
// part: acc [n_splits][T nh][hd], then (max, sum) [n_splits][T nh][2]
layout(std430, binding = 5) buffer Part { float part[]; };
layout(push_constant) uniform Push { uint T, nh, nkv, hd, window; float scale; uint n_splits; } pc;
#else
layout(push_constant) uniform Push { uint T, nh, nkv, hd, window; float scale; } pc;
#endif

// Finite "minus infinity": Vulkan does not require infinities to be preserved.
const float NEG = -1.0e30;

#ifdef COMBINE
void main() {
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    if (h >= pc.nh || t >= pc.T) return;
    const uint rows = pc.T * pc.nh, row = t * pc.nh + h, hd = pc.hd;
    const uint ml0 = pc.n_splits * rows * hd;
    float m = NEG;
    for (uint s = 0u; s < pc.n_splits; ++s) {
        const uint i = ml0 + (s * rows + row) * 2u;
        if (part[i + 1u] > 0.0) m = max(m, part[i]);
    }
    float l = 0.0;
    for (uint s = 0u; s < pc.n_splits; ++s) {
        const uint i = ml0 + (s * rows + row) * 2u;
        const float ls = part[i + 1u];
        if (ls > 0.0) l += exp(part[i] - m) * ls;
    }
    const float inv_l = l > 0.0 ? 1.0 / l : 0.0;
    for (uint d = tid; d < hd; d += WG) {
        float acc = 0.0;
        for (uint s = 0u; s < pc.n_splits; ++s) {
            const uint i = ml0 + (s * rows + row) * 2u;
            const float ls = part[i + 1u];
            if (ls > 0.0) acc += exp(part[i] - m) * part[(s * rows + row) * hd + d];
        }
        o[row * hd + d] = acc * inv_l;
    }
}
#else

const uint BK = 64u;                        // keys per block
const uint RG = NQ / 4u;                    // row groups of 4 in the score phase (WG = BK * RG)
const uint DC = 32u;                        // head dims per staged K chunk
const uint VB = 16u;                        // V rows per batch of loads
const uint KS = BK + 1u;                    // k_sh row stride (padding: conflict-free stores)
const uint LPR = WG / NQ;                   // threads per row in the softmax phase
const uint MAXD = (HDMAX + WG - 1u) / WG;   // output dims per thread when hd > WG

shared vec4 q_sh[HDMAX * RG];   // q tile, transposed: [d][NQ] as vec4 groups of rows
shared float k_sh[DC * KS];     // K chunk [DC][BK]; reused for the final lane reduction
shared vec4 s_sh[BK * RG];      // scores, then probabilities [BK][NQ]
shared float red_max[WG], red_sum[WG];
shared float m_sh[NQ], l_sh[NQ], a_sh[NQ];

float s_get(uint j, uint r) { return s_sh[j * RG + r / 4u][r % 4u]; }

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint kh = gl_WorkGroupID.y;
    const uint hd = pc.hd, g = pc.nh / pc.nkv;
    const uint rows_total = pc.T * g;
    const uint row0 = gl_WorkGroupID.x * NQ;
    if (row0 >= rows_total || kh >= pc.nkv || hd > HDMAX || hd == 0u) return; // workgroup-uniform
    const uint nrows = min(NQ, rows_total - row0);
    const uint pos = seq.pos;

    // Key range of the tile: the union of its rows' ranges (rows are t-major).
    const uint p_first = pos + row0 / g, p_last = pos + (row0 + nrows - 1u) / g;
    const uint lo = (pc.window > 0u && p_first + 1u > pc.window) ? p_first + 1u - pc.window : 0u;
    const uint kv_stride = pc.nkv * hd;
    const uint hi = min(p_last + 1u, min(uint(kc.length()), uint(vc.length())) / kv_stride); // never past the caches
#ifdef SPLIT
    const uint split = gl_WorkGroupID.z;
    const uint chunk = hi > lo ? (hi - lo + pc.n_splits - 1u) / pc.n_splits : 0u;
    const uint k_lo = min(hi, lo + split * chunk), k_hi = min(hi, lo + (split + 1u) * chunk);
#else
    const uint k_lo = lo, k_hi = hi;
#endif

    // q tile -> shared (transposed); rows past nrows are zero.
    for (uint i = tid; i < NQ * hd; i += WG) {
        const uint r = i / hd, d = i - r * hd, row = row0 + r;
        float v = 0.0;
        if (r < nrows) v = q[((row / g) * pc.nh + kh * g + row % g) * hd + d];
        q_sh[d * RG + r / 4u][r % 4u] = v;
    }
    if (tid < NQ) { m_sh[tid] = NEG; l_sh[tid] = 0.0; }

    // score role: key jloc of the block, rows 4 rg .. 4 rg + 3
    const uint jloc = tid % BK, rg = tid / BK;
    const bool rg_live = rg * 4u < nrows;
    // K-chunk load role: 32 consecutive threads read 32 consecutive floats of one key row
    const uint ld_lane = tid % 32u, ld_grp = tid / 32u, LD_GRPS = WG / 32u;
    // softmax role
    const uint sr = tid / LPR, slane = tid % LPR;
    // output role: hd <= WG: dim tid % hd, key lane tid / hd of KL; else dims tid + i WG
    const uint KL = hd <= WG ? WG / hd : 1u;
    const uint kl = hd <= WG ? tid / hd : 0u;
    const uint dbase = hd <= WG ? tid % hd : tid;
    float acc[NQ * MAXD];
    for (uint i = 0u; i < NQ * MAXD; ++i) acc[i] = 0.0;
    barrier();

    for (uint kb = k_lo; kb < k_hi; kb += BK) {
        // 1. scores: K staged chunk by chunk (coalesced rows), thread (jloc, rg) accumulates 4 rows
        vec4 sc = vec4(0.0);
        for (uint dc = 0u; dc < hd; dc += DC) {
            // loads batched by 8 (constant) so they are in flight together, then stored
            const uint d = dc + ld_lane;
            for (uint kk0 = ld_grp; kk0 < BK; kk0 += 8u * LD_GRPS) {
                float t8[8];
                for (uint u = 0u; u < 8u; ++u) {
                    const uint j = kb + kk0 + u * LD_GRPS;
                    t8[u] = (j < k_hi && d < hd) ? kc[(j * pc.nkv + kh) * hd + d] : 0.0;
                }
                for (uint u = 0u; u < 8u; ++u) k_sh[ld_lane * KS + kk0 + u * LD_GRPS] = t8[u];
            }
            barrier();
            if (rg_live) {
                const uint nd = min(DC, hd - dc);
                for (uint dd = 0u; dd < nd; ++dd) sc += k_sh[dd * KS + jloc] * q_sh[(dc + dd) * RG + rg];
            }
            barrier();
        }
        {
            const uint j = kb + jloc;
            vec4 sv;
            for (uint c = 0u; c < 4u; ++c) {
                const uint r = rg * 4u + c, p = pos + (row0 + r) / g;
                const bool ok = j < k_hi && r < nrows && j <= p && (pc.window == 0u || p - j < pc.window);
                sv[c] = ok ? sc[c] * pc.scale : NEG;
            }
            s_sh[jloc * RG + rg] = sv;
        }
        barrier();
        // 2. block max of row sr
        float mx = NEG;
        for (uint c = slane; c < BK; c += LPR) mx = max(mx, s_get(c, sr));
        red_max[tid] = mx;
        barrier();
        float mb = NEG;
        for (uint i = 0u; i < LPR; ++i) mb = max(mb, red_max[sr * LPR + i]);
        const float m_old = m_sh[sr], m_new = max(m_old, mb);
        // 3. probabilities (in place) and their partial sums
        float sum = 0.0;
        for (uint c = slane; c < BK; c += LPR) {
            const float sv = s_get(c, sr);
            const float pv = sv > 0.5 * NEG ? exp(sv - m_new) : 0.0;
            s_sh[c * RG + sr / 4u][sr % 4u] = pv;
            sum += pv;
        }
        red_sum[tid] = sum;
        barrier(); // also: every thread has read m_sh and red_max
        if (slane == 0u) {
            float tot = 0.0;
            for (uint i = 0u; i < LPR; ++i) tot += red_sum[sr * LPR + i];
            const float alpha = exp(m_old - m_new);
            l_sh[sr] = l_sh[sr] * alpha + tot;
            m_sh[sr] = m_new;
            a_sh[sr] = alpha;
        }
        barrier();
        // 4. rescale and accumulate P V over this block's keys (V rows read coalesced)
        for (uint r = 0u; r < NQ; ++r) {
            const float al = a_sh[r];
            for (uint i = 0u; i < MAXD; ++i) acc[r * MAXD + i] *= al;
        }
        if (kl < KL) {
            // V loads batched by VB keys (in flight together), coalesced along d
            const uint nk = min(BK, k_hi - kb);
            for (uint j0 = kl; j0 < nk; j0 += VB * KL)
                for (uint i = 0u; i < MAXD; ++i) {
                    const uint d = dbase + i * WG;
                    if (d >= hd) continue;
                    float vv[VB];
                    for (uint u = 0u; u < VB; ++u) {
                        const uint jj = j0 + u * KL;
                        vv[u] = jj < nk ? vc[((kb + jj) * pc.nkv + kh) * hd + d] : 0.0;
                    }
                    for (uint u = 0u; u < VB; ++u) {
                        const uint jj = min(j0 + u * KL, BK - 1u); // probabilities past nk are 0
                        for (uint g4 = 0u; g4 < RG; ++g4) {
                            const vec4 pr = s_sh[jj * RG + g4];
                            for (uint c = 0u; c < 4u; ++c) acc[(g4 * 4u + c) * MAXD + i] += pr[c] * vv[u];
                        }
                    }
                }
        }
        barrier(); // s_sh / a_sh are rewritten by the next block
    }

    // Sum the key lanes (hd <= WG / 2): lanes kl > 0 park their accumulators in k_sh [KL - 1][NQ][hd].
    if (KL > 1u) {
        if (kl > 0u && kl < KL)
            for (uint r = 0u; r < NQ; ++r) k_sh[((kl - 1u) * NQ + r) * hd + dbase] = acc[r * MAXD];
        barrier();
        if (kl == 0u)
            for (uint l2 = 1u; l2 < KL; ++l2)
                for (uint r = 0u; r < NQ; ++r) acc[r * MAXD] += k_sh[((l2 - 1u) * NQ + r) * hd + dbase];
    }
    if (kl != 0u) return;
    for (uint r = 0u; r < nrows; ++r) {
        const uint row = row0 + r;
        const uint orow = (row / g) * pc.nh + kh * g + row % g; // t * nh + h
#ifdef SPLIT
        const uint rows = pc.T * pc.nh;
        for (uint i = 0u; i < MAXD; ++i) {
            const uint d = dbase + i * WG;
            if (d < hd) part[(split * rows + orow) * hd + d] = acc[r * MAXD + i];
        }
        if (tid == 0u) {
            const uint ml = pc.n_splits * rows * hd + (split * rows + orow) * 2u;
            part[ml] = m_sh[r];
            part[ml + 1u] = l_sh[r];
        }
#else
        const float l = l_sh[r];
        const float inv_l = l > 0.0 ? 1.0 / l : 0.0;
        for (uint i = 0u; i < MAXD; ++i) {
            const uint d = dbase + i * WG;
            if (d < hd) o[orow * hd + d] = acc[r * MAXD + i] * inv_l;
        }
#endif
    }
}
#endif
