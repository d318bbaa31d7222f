#version 450
// Causal GQA attention with an online softmax (flash-attention style), any context length.
//   q [T, nh hd] (roped; row t at absolute position p_t = seq.pos + t), kcache / vcache [ctx, nkv, hd]
//   -> out [T, nh hd]. q head h uses kv head h / (nh / nkv). Key j is visible to query t iff j <= p_t and
//   (window == 0 or p_t - j < window). Scores are scaled by pc.scale (hd^-0.5).
// Workgroup = (row tile, kv head, split): a tile is NQ query rows of one kv head, rows ordered (t, head
// of the group) so a tile shares one causal key range and every K / V element loaded serves NQ rows.
// Per block of BK = 64 keys: K is staged through shared memory in chunks of 32 dims (32 consecutive
// threads read 32 consecutive floats of one key row: coalesced), thread (key, row group) accumulates
// the scores of 4 rows (q tile transposed in shared memory, read as vec4); the block max / sum per row
// are reduced in shared memory (online softmax: running max m, sum l, rescale factor alpha per row);
// then each thread rescales and accumulates its output dims from coalesced V rows (hd <= WG: threads
// split the block's keys into WG / hd lanes, summed at the end). Global loads are issued in batches
// (8 K values, VB V rows) so they are in flight together: the kernel is latency bound otherwise.
// Shared memory: 4 KiB q + 8.1 KiB K chunk + 2 KiB scores + 1 KiB reductions (< 16 KiB).
// Variants:
//   (none)  one split: normalizes and writes out.
//   SPLIT   split-K (decode with long contexts): gl_WorkGroupID.z = split s of n_splits handles a slice
//           of the key range and writes its unnormalized accumulator + (max, sum) to part (binding 5).
//   COMBINE merges the n_splits partials of each (t, h) into out; gl_WorkGroupID = (h, t).
//   BATCH   (with SPLIT or COMBINE) one token of each of B sequences, each with its own cache (see below).
#include "common/types.glsl"
layout(constant_id = 0) const uint WG = 128;   // threads; must equal 64 * NQ / 4 (BK = 64 keys x NQ / 4 row groups)
layout(constant_id = 1) const uint NQ = 8;     // query rows per workgroup: 8 (hd <= 128) or 4 (hd <= 256)
layout(constant_id = 2) const uint HDMAX = 128;// largest head dim of this pipeline
layout(local_size_x_id = 0) in;

#ifdef BATCH
// B sequences of one token each (decode_batch): row b = gl_WorkGroupID.z / n_splits (SPLIT) or
// gl_WorkGroupID.y (COMBINE) has its own cache, position and split count; q / out row b starts at
// b * stride, its partials at b * part_stride of one shared scratch. Each row computes exactly what the
// single-sequence variant computes for it. 27 storage buffers (lavapipe allows 32 per stage).
#define MAXB 8
layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer KC { float d[]; } kcs[MAXB];
layout(std430, binding = 2) readonly buffer VC { float d[]; } vcs[MAXB];
layout(std430, binding = 3) readonly buffer Seq { SEQ_INFO_FIELDS } seqs[MAXB];
layout(std430, binding = 4) writeonly buffer O { float o[]; };
layout(std430, binding = 5) buffer Part { float part[]; }; // row b's partials at b * part_stride
layout(push_constant) uniform Push { uint B, nh, nkv, hd, window; float scale; uint n_splits, stride, part_stride; uint splits[MAXB]; } pc;
uint bi = 0u; // this workgroup's sequence (dynamically uniform: indexes the descriptor arrays)
#define KC kcs[bi].d
#define VC_ vcs[bi].d
#define SEQ seqs[bi]
#define PART(i) part[bi * pc.part_stride + (i)]
#define NSPLITS pc.splits[bi]
#define TT 1u
#define QBASE (bi * pc.stride)
#else
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
#define KC kc
#define VC_ vc
#define SEQ seq
#define PART(i) part[i]
#define NSPLITS pc.n_splits
#define TT pc.T
#define QBASE 0u
#endif

// Finite "minus infinity": Vulkan does not require infinities to be preserved.
const float NEG = -1.0e30;

#ifdef COMBINE
// One workgroup per (h, t): the split weights w_s = exp(m_s - M) are computed in parallel over the
// splits, then each thread sums its output dims over the splits.
const uint MAX_SPLITS = 256u;
shared float w_sh[MAX_SPLITS];
shared float red_sh[WG];
void main() {
#ifdef BATCH
    bi = gl_WorkGroupID.y;
    const uint h = gl_WorkGroupID.x, t = 0u, tid = gl_LocalInvocationID.x;
    if (bi >= pc.B) return;
#else
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
#endif
    if (h >= pc.nh || t >= TT || NSPLITS > MAX_SPLITS) return;
    const uint rows = TT * pc.nh, row = t * pc.nh + h, hd = pc.hd, ns = NSPLITS;
    const uint ml0 = ns * rows * hd;
    float m = NEG;
    for (uint s = tid; s < ns; s += WG) {
        const uint i = ml0 + (s * rows + row) * 2u;
        if (PART(i + 1u) > 0.0) m = max(m, PART(i));
    }
    red_sh[tid] = m;
    barrier();
    for (uint k = WG / 2u; k > 0u; k >>= 1) {
        if (tid < k) red_sh[tid] = max(red_sh[tid], red_sh[tid + k]);
        barrier();
    }
    m = red_sh[0];
    barrier();
    float l = 0.0;
    for (uint s = tid; s < ns; s += WG) {
        const uint i = ml0 + (s * rows + row) * 2u;
        const float ls = PART(i + 1u);
        const float w = ls > 0.0 ? exp(PART(i) - m) : 0.0;
        w_sh[s] = w;
        l += w * ls;
    }
    red_sh[tid] = l;
    barrier();
    for (uint k = WG / 2u; k > 0u; k >>= 1) {
        if (tid < k) red_sh[tid] += red_sh[tid + k];
        barrier();
    }
    const float inv_l = red_sh[0] > 0.0 ? 1.0 / red_sh[0] : 0.0;
    for (uint d = tid; d < hd; d += WG) {
        float acc = 0.0;
        for (uint s0 = 0u; s0 < ns; s0 += 8u) { // loads batched by 8
            float a8[8];
            for (uint u = 0u; u < 8u; ++u)
                a8[u] = (s0 + u < ns && w_sh[s0 + u] != 0.0) ? PART(((s0 + u) * rows + row) * hd + d) : 0.0;
            for (uint u = 0u; u < 8u; ++u)
                if (s0 + u < ns) acc += w_sh[s0 + u] * a8[u]; // empty splits (l = 0: w = 0) were not read
        }
        o[QBASE + row * hd + d] = acc * inv_l;
    }
}
#else

const uint BK = 64u;                        // keys per block
const uint RG = NQ / 4u;                    // row groups of 4 in the score phase (WG = BK * RG)
const uint DC = 32u;                        // head dims per staged K chunk
const uint VB = 32u;                        // V rows per batch of loads
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
#ifdef BATCH
    bi = gl_WorkGroupID.z / pc.n_splits;
    const uint split = gl_WorkGroupID.z % pc.n_splits;
    if (bi >= pc.B || split >= NSPLITS) return; // workgroup-uniform
#elif defined(SPLIT)
    const uint split = gl_WorkGroupID.z;
#endif
    const uint hd = pc.hd, g = pc.nh / pc.nkv;
    const uint rows_total = TT * g;
    const uint row0 = gl_WorkGroupID.x * NQ;
    if (row0 >= rows_total || kh >= pc.nkv || hd > HDMAX || hd == 0u) return; // workgroup-uniform
    const uint nrows = min(NQ, rows_total - row0);
    const uint pos = SEQ.pos;

    // Key range of the tile: the union of its rows' ranges (rows are t-major).
    const uint p_first = pos + row0 / g, p_last = pos + (row0 + nrows - 1u) / g;
    const uint lo = (pc.window > 0u && p_first + 1u > pc.window) ? p_first + 1u - pc.window : 0u;
    const uint kv_stride = pc.nkv * hd;
    const uint hi = min(p_last + 1u, min(uint(KC.length()), uint(VC_.length())) / kv_stride); // never past the caches
#ifdef SPLIT
    const uint chunk = hi > lo ? (hi - lo + NSPLITS - 1u) / NSPLITS : 0u;
    const uint k_lo = min(hi, lo + split * chunk), k_hi = min(hi, lo + (split + 1u) * chunk);
#else
    const uint k_lo = lo, k_hi = hi;
#endif

    // q tile -> shared (transposed); rows past nrows are zero.
    for (uint i0 = tid; i0 < NQ * hd; i0 += 4u * WG) { // loads batched by 4
        float v4[4];
        for (uint u = 0u; u < 4u; ++u) {
            const uint i = i0 + u * WG, r = i / hd, d = i - r * hd, row = row0 + r;
            v4[u] = (i < NQ * hd && r < nrows) ? q[QBASE + ((row / g) * pc.nh + kh * g + row % g) * hd + d] : 0.0;
        }
        for (uint u = 0u; u < 4u; ++u) {
            const uint i = i0 + u * WG, r = i / hd, d = i - r * hd;
            if (i < NQ * hd) q_sh[d * RG + r / 4u][r % 4u] = v4[u];
        }
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
                    t8[u] = (j < k_hi && d < hd) ? KC[(j * pc.nkv + kh) * hd + d] : 0.0;
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
                        vv[u] = jj < nk ? VC_[((kb + jj) * pc.nkv + kh) * hd + d] : 0.0;
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
        const uint rows = TT * pc.nh;
        for (uint i = 0u; i < MAXD; ++i) {
            const uint d = dbase + i * WG;
            if (d < hd) PART((split * rows + orow) * hd + d) = acc[r * MAXD + i];
        }
        if (tid == 0u) {
            const uint ml = NSPLITS * rows * hd + (split * rows + orow) * 2u;
            PART(ml) = m_sh[r];
            PART(ml + 1u) = l_sh[r];
        }
#else
        const float l = l_sh[r];
        const float inv_l = l > 0.0 ? 1.0 / l : 0.0;
        for (uint i = 0u; i < MAXD; ++i) {
            const uint d = dbase + i * WG;
            if (d < hd) o[QBASE + orow * hd + d] = acc[r * MAXD + i] * inv_l;
        }
#endif
    }
}
#endif
