#version 450
// Chunk summaries after the cache write of positions [seq.pos, seq.pos + n_tokens): for every chunk j
// closing inside that range ((j+1)C - 1 in it), the mean of kcache rows jC .. jC+C-1.
// kcache [ctx, row], row = Hm * Dm. ksum is stored element-major, ksum[i][j] = ksum[i * n_chunks + j]
// (i = h * Dm + d), so that mem_select's threads, one chunk each, read it coalesced.
// Workgroup x = the x-th chunk that may close (at most ceil(n_tokens / C) do), y = tile of WG row
// elements. In decode nothing runs except at a chunk end, which reads C keys: flat cost.
#include "common/types.glsl"
layout(constant_id = 0) const uint WG = 128;
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Seq { SEQ_INFO_FIELDS } seq;
layout(std430, binding = 1) readonly buffer K { float kc[]; };
layout(std430, binding = 2) writeonly buffer S { float ksum[]; };
layout(push_constant) uniform Push { uint n_tokens; uint row; uint chunk; uint n_chunks; uint ctx; } pc;
void main() {
    const uint j = seq.pos / pc.chunk + gl_WorkGroupID.x; // first chunk with (j+1)C-1 >= pos, then on
    const uint i = gl_WorkGroupID.y * WG + gl_LocalInvocationID.x;
    const uint end = (j + 1u) * pc.chunk; // one past the chunk's last position
    if (end > seq.pos + pc.n_tokens || end > pc.ctx || j >= pc.n_chunks || i >= pc.row) return;
    float s = 0.0;
    for (uint r = j * pc.chunk; r < end; ++r) s += kc[r * pc.row + i];
    ksum[i * pc.n_chunks + j] = s / float(pc.chunk);
}
