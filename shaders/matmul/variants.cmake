# matmul family: y = in(x) W^T. matvec_* for small M (decode, memory bound), matmul_* tiled for prefill.
# Both variants of a weight type share one descriptor-set layout (see model/kernels/matmul.h).
vkc_shader(matvec_f32 matmul/matvec.comp DEFINES WTYPE_F32)
vkc_shader(matvec_f16 matmul/matvec.comp DEFINES WTYPE_F16)
vkc_shader(matmul_f32 matmul/matmul.comp DEFINES WTYPE_F32)
vkc_shader(matmul_f16 matmul/matmul.comp DEFINES WTYPE_F16)
# Q8_0 / Q4_0 (model/quant.h): dequantized on the fly (matvec: element path; tiled: weight-tile load)
vkc_shader(matvec_q8_0 matmul/matvec.comp DEFINES WTYPE_Q8_0)
vkc_shader(matvec_q4_0 matmul/matvec.comp DEFINES WTYPE_Q4_0)
vkc_shader(matmul_q8_0 matmul/matmul.comp DEFINES WTYPE_Q8_0)
vkc_shader(matmul_q4_0 matmul/matmul.comp DEFINES WTYPE_Q4_0)
