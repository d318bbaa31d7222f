# matmul family: y = in(x) W^T. matvec_* for small M (decode, memory bound), matmul_* tiled for prefill.
# Both variants of a weight type share one descriptor-set layout (see model/kernels/matmul.h).
vkc_shader(matvec_f32 matmul/matvec.comp DEFINES WTYPE_F32)
vkc_shader(matvec_f16 matmul/matvec.comp DEFINES WTYPE_F16)
vkc_shader(matmul_f32 matmul/matmul.comp DEFINES WTYPE_F32)
vkc_shader(matmul_f16 matmul/matmul.comp DEFINES WTYPE_F16)
