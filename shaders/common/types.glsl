// Shared declarations. Activations are always f32. Weights are f32 (WTYPE_F32) or IEEE half packed
// two per uint (WTYPE_F16, read with unpackHalf2x16: needs no 16-bit storage feature, so it runs on
// every Vulkan 1.1 device). A weight tensor larger than maxStorageBufferRange is split by rows into
// up to WPARTS bindings; rows_per_part is a push constant and a workgroup's rows never straddle parts.
#ifndef VKC_TYPES_GLSL
#define VKC_TYPES_GLSL

#define WPARTS 4

#if defined(WTYPE_F16)
#define WSTORE uint
// element i of a packed-half array
#define WLOAD(arr, i) (unpackHalf2x16((arr)[(i) >> 1])[(i) & 1u])
#else
#define WSTORE float
#define WLOAD(arr, i) ((arr)[(i)])
#endif

// Per-sequence decode state written by the host before a submission and advanced on the GPU.
// Layout mirrored by vkc::SeqInfo (model/kernels/kernel.h).
#define SEQ_INFO_FIELDS uint pos; uint n_past_unused; uint pad0; uint pad1;

float silu(float x) { return x / (1.0 + exp(-x)); }

#endif
