// Shared declarations. Activations are always f32. Weights are f32 (WTYPE_F32) or IEEE half packed
// two per uint (WTYPE_F16, read with unpackHalf2x16: needs no 16-bit storage feature, so it runs on
// every Vulkan 1.1 device). A weight tensor larger than maxStorageBufferRange is split by rows into
// up to WPARTS bindings; rows_per_part is a push constant and a workgroup's rows never straddle parts.
#ifndef VKC_TYPES_GLSL
#define VKC_TYPES_GLSL

#define WPARTS 4

#if defined(WTYPE_Q8_0) || defined(WTYPE_Q4_0)
// Q8_0 / Q4_0 (layout in model/quant.h): per part, the quants of row n at uint n * WQ_ROWU(K) (K padded
// to WQ_KP(K)), then from uint rows_per_part * WQ_ROWU(K) the f16 block scales, two per uint.
#define WQUANT 1
#define WSTORE uint
#define WQ_KP(K) (((K) + 31u) & ~31u)
#define WQ_NB(K) (WQ_KP(K) >> 5) // blocks per row
#if defined(WTYPE_Q8_0)
#define WQ_ROWU(K) (WQ_KP(K) >> 2)
// int8 k of row n (4 per uint, low byte first)
#define WQ_Q(arr, n, k, K) float(bitfieldExtract(int((arr)[(n) * WQ_ROWU(K) + ((k) >> 2)]), int(((k) & 3u) * 8u), 8))
#else
#define WQ_ROWU(K) (WQ_KP(K) >> 3)
// nibble of k: byte (k % 16) of its block (4 uints), low nibble for k % 32 < 16, minus 8
#define WQ_Q(arr, n, k, K) \
    (float(((arr)[(n) * WQ_ROWU(K) + ((k) >> 5) * 4u + (((k) & 15u) >> 2)] >> (((k) & 3u) * 8u + (((k) & 16u) >> 2))) & 15u) - 8.0)
#endif
// scale of the block of (n, k)
#define WQ_H(n, k, K) ((n) * WQ_NB(K) + ((k) >> 5))
#define WQ_D(arr, n, k, K, rpp) (unpackHalf2x16((arr)[(rpp) * WQ_ROWU(K) + (WQ_H(n, k, K) >> 1)])[WQ_H(n, k, K) & 1u])
// element (n, k) of a part: row n within the part, k < K
#define WLOAD_RC(arr, n, k, K, rpp) (WQ_D(arr, n, k, K, rpp) * WQ_Q(arr, n, k, K))
// 16-byte vectors (uvec4) of quants: row n of a part starts on vector n * WQ_ROWV(K) (rows are whole
// blocks: Kp bytes (Q8_0) or Kp / 2 bytes (Q4_0), both multiples of 16). One vector holds WQ_VQ weights:
// half a Q8_0 block or one whole Q4_0 block.
#if defined(WTYPE_Q8_0)
#define WQ_VQ 16u
#else
#define WQ_VQ 32u
#endif
#define WQ_ROWV(K) (WQ_ROWU(K) >> 2)
// Q8_0: the 4 int8 of one quant uint (low byte first)
vec4 wq8_unpack(uint u) { return vec4(ivec4(u << 24u, u << 16u, u << 8u, u) >> 24); }
// Q4_0: the 4 low (element j) or high (element j + 16) nibbles of one quant uint, minus 8
vec4 wq4_unpack_lo(uint u) { return vec4(uvec4(u, u >> 8u, u >> 16u, u >> 24u) & 15u) - 8.0; }
vec4 wq4_unpack_hi(uint u) { return vec4(uvec4(u >> 4u, u >> 12u, u >> 20u, u >> 28u) & 15u) - 8.0; }
// One 8-quant step of a block (the matvec's and qkv_rope's unit), dotted with its inputs before the
// block scale: Q8_0 uvec2 c holds elements 8c..8c+7 (x0 = 8c.., x1 = 8c+4..); Q4_0 uint c holds 4c..4c+3
// in its low nibbles (x0) and 16+4c..16+4c+3 in its high ones (x1).
#if defined(WTYPE_Q8_0)
#define WQ_STEP uvec2
float wq_dot8(uvec2 u, vec4 x0, vec4 x1) { return dot(wq8_unpack(u.x), x0) + dot(wq8_unpack(u.y), x1); }
#else
#define WQ_STEP uint
float wq_dot8(uint u, vec4 x0, vec4 x1) { return dot(wq4_unpack_lo(u), x0) + dot(wq4_unpack_hi(u), x1); }
#endif
#elif defined(WTYPE_F16)
#define WSTORE uint
// element i of a packed-half array
#define WLOAD(arr, i) (unpackHalf2x16((arr)[(i) >> 1])[(i) & 1u])
#else
#define WSTORE float
#define WLOAD(arr, i) ((arr)[(i)])
#endif
#ifndef WQUANT
// element (n, k) of a part for every weight type: row n within the part (rows of K elements), k < K
#define WLOAD_RC(arr, n, k, K, rpp) WLOAD(arr, (n) * (K) + (k))
#endif

// Per-sequence decode state written by the host before a submission and advanced on the GPU.
// Layout mirrored by vkc::SeqInfo (model/kernels/kernel.h).
#define SEQ_INFO_FIELDS uint pos; uint n_past_unused; uint pad0; uint pad1;

float silu(float x) { return x / (1.0 + exp(-x)); }

#endif
