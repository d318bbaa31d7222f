# embed family: token ids -> first residual rows. v1: embedding row -> causal 1 x k conv -> f x f average
# pool -> ScaleNorm (one dispatch); v2: plain row gather.
vkc_shader(embed_conv_f32 embed/embed_conv.comp DEFINES WTYPE_F32)
vkc_shader(embed_conv_f16 embed/embed_conv.comp DEFINES WTYPE_F16)
vkc_shader(embed_gather_f32 embed/embed_gather.comp DEFINES WTYPE_F32)
vkc_shader(embed_gather_f16 embed/embed_gather.comp DEFINES WTYPE_F16)
# Q8_0 / Q4_0 rows (model/quant.h) dequantized as they are gathered
vkc_shader(embed_conv_q8_0 embed/embed_conv.comp DEFINES WTYPE_Q8_0)
vkc_shader(embed_conv_q4_0 embed/embed_conv.comp DEFINES WTYPE_Q4_0)
vkc_shader(embed_gather_q8_0 embed/embed_gather.comp DEFINES WTYPE_Q8_0)
vkc_shader(embed_gather_q4_0 embed/embed_gather.comp DEFINES WTYPE_Q4_0)
