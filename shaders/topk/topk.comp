#version 450
// Per-row top-K of x [rows, n] (row stride x_stride floats): (id, value) pairs sorted by value
// descending, ties -> lower id; slots beyond the valid elements get id 0xFFFFFFFF, value -inf.
// Default (topk_slice): grid (n_slices, rows); workgroup s reduces x[row, s*slice_len ..) to its local
//   top-K -> cand[row, s, 0..k) (or straight to out[row, 0..k) when direct != 0, i.e. n_slices == 1).
// MERGE (topk_merge): grid (1, rows); merges cand[row, 0..n_slices*k) -> out[row, 0..k).
// Method: k rounds of a shared-memory argmax over the workgroup. Each thread keeps the best of its
// strided elements that come after the previous winner in the total order; only the winner's thread
// rescans, so a round costs one tree reduction (no subgroup-size assumption). NaN is never selected.
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
struct Pair { uint id; float v; };
const uint INVALID = 0xFFFFFFFFu;
layout(std430, binding = 0) readonly buffer X { float x[]; };
#ifdef MERGE
layout(std430, binding = 1) readonly buffer C { Pair cand[]; };
#else
layout(std430, binding = 1) writeonly buffer C { Pair cand[]; };
#endif
layout(std430, binding = 2) writeonly buffer O { Pair outp[]; };
layout(push_constant) uniform Push {
    uint rows, n, x_stride, k, slice_len, n_slices, direct;
    uint out_offset; // pairs before row 0's output (greedy chains write step i's pick to pair i + 1)
} pc;

shared float s_v[WG];
shared uint s_id[WG];
shared uint s_owner[WG];

// a strictly before b: larger value, or equal value and lower id.
bool better(Pair a, Pair b) { return a.v > b.v || (a.v == b.v && a.id < b.id); }

uint g_row, g_lo, g_count;

Pair load(uint j) {
#ifdef MERGE
    return cand[g_lo + j];
#else
    return Pair(g_lo + j, x[g_row * pc.x_stride + g_lo + j]);
#endif
}

void store(uint r, Pair p) {
#ifdef MERGE
    outp[pc.out_offset + g_row * pc.k + r] = p;
#else
    if (pc.direct != 0) outp[pc.out_offset + g_row * pc.k + r] = p;
    else cand[(g_row * pc.n_slices + gl_WorkGroupID.x) * pc.k + r] = p;
#endif
}

// Best of this thread's elements (j = tid, tid + WG, ...) strictly after prev (all when !has_prev).
Pair scan(uint tid, Pair prev, bool has_prev) {
    Pair b = Pair(INVALID, uintBitsToFloat(0xFF800000u));
    for (uint j = tid; j < g_count; j += WG) {
        Pair e = load(j);
        if (e.id != INVALID && (!has_prev || better(prev, e)) && better(e, b)) b = e;
    }
    return b;
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    g_row = gl_WorkGroupID.y;
    if (g_row >= pc.rows) return; // whole workgroup
#ifdef MERGE
    g_count = pc.n_slices * pc.k;
    g_lo = g_row * g_count;
#else
    g_lo = gl_WorkGroupID.x * pc.slice_len;
    g_count = g_lo < pc.n ? min(pc.slice_len, pc.n - g_lo) : 0u;
#endif
    const Pair none = Pair(INVALID, uintBitsToFloat(0xFF800000u));
    Pair mine = scan(tid, none, false);
    for (uint r = 0; r < pc.k; ++r) {
        s_v[tid] = mine.v;
        s_id[tid] = mine.id;
        s_owner[tid] = tid;
        barrier();
        for (uint h = WG / 2; h > 0; h >>= 1) {
            if (tid < h) {
                Pair a = Pair(s_id[tid], s_v[tid]), b = Pair(s_id[tid + h], s_v[tid + h]);
                if (b.id != INVALID && (a.id == INVALID || better(b, a))) {
                    s_v[tid] = b.v;
                    s_id[tid] = b.id;
                    s_owner[tid] = s_owner[tid + h];
                }
            }
            barrier();
        }
        const Pair w = Pair(s_id[0], s_v[0]);
        const uint owner = s_owner[0];
        if (w.id == INVALID) { // nothing left: the rest of the slots are invalid (uniform branch)
            for (uint j = r + tid; j < pc.k; j += WG) store(j, none);
            break;
        }
        if (tid == 0) store(r, w);
        if (tid == owner) mine = scan(tid, w, true);
        barrier(); // everyone has read s_*[0] before the next round overwrites it
    }
}
