#version 450
// Sparse chunk-memory attention, stage 2, one workgroup per (query t, head h); p = seq.pos + t, c = p / C.
// Selected chunks: all j < c if c <= K, else the K best of the splits' candidates written by mem_select
// (merged by rank, tile by tile: larger score, ties -> lower chunk). Then softmax(q.k / sqrt(Dm)) over
// every token of the selected chunks plus positions cC .. p, streamed KT = min(WG, 64) keys at a time
// (online softmax): each key's q.k by L = WG / KT threads reading its row together; the weighted sum
// of v uses all threads: NG = max(1, WG / Dm) key groups x Dm dims. Hot loops keep 8 loads in flight
// (decode is latency-bound: one workgroup per head).
// q [T, q_stride], kcache / vcache [ctx, Hm, Dm], cand [T, Hm, max_splits, K] uvec2, o [T, o_stride].
// Dm <= MAX_D, K <= MAX_K, WG a power of two <= 512.
#include "common/types.glsl"
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
#define MAX_D 512
#define MAX_K 32
#define SPAN 256  // chunks per mem_select split
#define TILE 256  // candidates merged per step
layout(std430, binding = 0) readonly buffer Seq { SEQ_INFO_FIELDS } seq;
layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) readonly buffer KC { float kc[]; };
layout(std430, binding = 3) readonly buffer VC { float vc[]; };
layout(std430, binding = 4) readonly buffer CA { uvec2 cand[]; };
layout(std430, binding = 5) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push {
    uint n_tokens; uint heads; uint head_dim; uint chunk; uint top_k; uint q_stride; uint o_stride; uint ctx;
    uint max_splits;
} pc;

const float NEG_BIG = -3.0e38;
shared float qs[MAX_D];
shared float accp[MAX_D];           // slot e = g * Dm + i: key group g's partial sum for dim i
shared float us[MAX_K + TILE];      // merge: running best (first n_run) then a tile of candidates
shared uint uj[MAX_K + TILE];
shared uint urank[MAX_K + TILE];
shared float bs[MAX_K];
shared uint bj[MAX_K];              // selected chunks
shared float red[WG];
shared float sc[64];
shared uint kpos[64];

void main() {
    const uint t = gl_WorkGroupID.x, h = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    const uint p = seq.pos + t;
    if (t >= pc.n_tokens || p >= pc.ctx) return; // uniform per workgroup
    const uint D = pc.head_dim, C = pc.chunk, K = pc.top_k, row = pc.heads * D, hoff = h * D;
    const uint NG = max(1u, WG / D), slots = NG * D;
    for (uint i = tid; i < D; i += WG) qs[i] = q[t * pc.q_stride + hoff + i];
    for (uint e = tid; e < slots; e += WG) accp[e] = 0.0;
    const uint c = p / C;

    uint nsel;
    if (c <= K) {
        nsel = c;
        for (uint j = tid; j < c; j += WG) bj[j] = j;
    } else {
        nsel = K;
        // candidates: split s < ns holds min(K, c - s*SPAN) entries (K except maybe the last)
        const uint ns = (c + SPAN - 1u) / SPAN;
        const uint n_cand = (ns - 1u) * K + min(K, c - (ns - 1u) * SPAN);
        const uint cb = (t * pc.heads + h) * pc.max_splits * K;
        uint n_run = 0u;
        for (uint f0 = 0u; f0 < n_cand; f0 += TILE) {
            const uint nt = min(TILE, n_cand - f0), nu = n_run + nt;
            for (uint i = tid; i < nt; i += WG) {
                const uint f = f0 + i;
                const uvec2 e = cand[cb + f];
                us[n_run + i] = uintBitsToFloat(e.x);
                uj[n_run + i] = e.y;
            }
            barrier();
            for (uint i = tid; i < nu; i += WG) {
                const float v = us[i];
                const uint vj = uj[i];
                uint rank = 0u;
                for (uint k = 0u; k < nu; ++k) {
                    const float w = us[k];
                    rank += (w > v || (w == v && uj[k] < vj)) ? 1u : 0u;
                }
                urank[i] = rank;
            }
            barrier();
            for (uint i = tid; i < nu; i += WG)
                if (urank[i] < K) { bs[urank[i]] = us[i]; bj[urank[i]] = uj[i]; }
            n_run = min(K, nu);
            barrier();
            for (uint i = tid; i < n_run; i += WG) { us[i] = bs[i]; uj[i] = bj[i]; }
            barrier();
        }
    }
    barrier();

    const float scale = inversesqrt(float(D));
    const uint n_sel_keys = nsel * C, n_keys = n_sel_keys + (p - c * C + 1u);
    float m_run = NEG_BIG, l_run = 0.0;
    const uint KT = min(WG, 64u), L = WG / KT, r = tid / L, lane = tid % L;
    for (uint base = 0u; base < n_keys; base += KT) {
        const uint n = base + r;
        float part = 0.0;
        if (n < n_keys) {
            const uint kp = n < n_sel_keys ? bj[n / C] * C + n % C : c * C + (n - n_sel_keys);
            const uint kb = kp * row + hoff;
            uint i = lane;
            for (; i + 7u * L < D; i += 8u * L) { // 8 unconditional loads in flight
                float v[8];
                for (uint l = 0u; l < 8u; ++l) v[l] = kc[kb + i + l * L];
                for (uint l = 0u; l < 8u; ++l) part += qs[i + l * L] * v[l];
            }
            for (; i < D; i += L) part += qs[i] * kc[kb + i];
            if (lane == 0u) kpos[r] = kb;
        }
        red[tid] = part;
        barrier();
        const uint nt = min(KT, n_keys - base);
        if (tid < nt) {
            float s = 0.0;
            for (uint l = 0u; l < L; ++l) s += red[tid * L + l];
            sc[tid] = s * scale;
        }
        barrier();
        float mt = m_run;
        for (uint k = 0u; k < nt; ++k) mt = max(mt, sc[k]);
        barrier();
        if (tid < nt) sc[tid] = exp(sc[tid] - mt);
        barrier();
        const float corr = exp(m_run - mt);
        l_run *= corr;
        for (uint k = 0u; k < nt; ++k) l_run += sc[k];
        for (uint e = tid; e < slots; e += WG) {
            const uint g = e / D, i = e % D;
            float a = accp[e] * corr;
            uint k = g;
            for (; k + 7u * NG < nt; k += 8u * NG) { // 8 unconditional loads in flight
                float v[8];
                for (uint l = 0u; l < 8u; ++l) v[l] = vc[kpos[k + l * NG] + i];
                for (uint l = 0u; l < 8u; ++l) a += sc[k + l * NG] * v[l];
            }
            for (; k < nt; k += NG) a += sc[k] * vc[kpos[k] + i];
            accp[e] = a;
        }
        m_run = mt;
        barrier();
    }
    for (uint i = tid; i < D; i += WG) {
        float a = 0.0;
        for (uint g = 0u; g < NG; ++g) a += accp[g * D + i];
        o[t * pc.o_stride + hoff + i] = a / l_run;
    }
}
