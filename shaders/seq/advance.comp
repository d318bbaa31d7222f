#version 450
// seq.pos += n_tokens: ends every prefill chunk and decode step, so a replayed decode command buffer
// sees the next position without host involvement beyond writing the token id.
#include "common/types.glsl"
layout(local_size_x = 1) in;
layout(std430, binding = 0) buffer Seq { SEQ_INFO_FIELDS } seq;
layout(push_constant) uniform Push { uint n_tokens; } pc;
void main() { seq.pos += pc.n_tokens; }
