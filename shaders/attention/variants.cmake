# attention family: per-head q/k RMSNorm + RoPE + K/V cache write, and causal GQA attention with an
# online softmax. attention_split + attention_combine are the split-K path (decode, long contexts); all
# three attention variants share one descriptor-set layout (see model/kernels/attention.h).
vkc_shader(qk_norm_rope attention/qk_norm_rope.comp)
vkc_shader(attention attention/attention.comp)
vkc_shader(attention_split attention/attention.comp DEFINES SPLIT)
vkc_shader(attention_combine attention/attention.comp DEFINES COMBINE)
# decode_batch: one token of each of up to 8 sequences (descriptor arrays of caches, positions, scratch)
vkc_shader(qk_norm_rope_batch attention/qk_norm_rope.comp DEFINES BATCH)
vkc_shader(attention_split_batch attention/attention.comp DEFINES SPLIT BATCH)
vkc_shader(attention_combine_batch attention/attention.comp DEFINES COMBINE BATCH)
# decode: the qkv projection fused into qk_norm_rope (every weight type; see qk_norm_rope.comp FUSED)
foreach(t f32 f16 q8_0 q4_0)
  string(TOUPPER ${t} T)
  vkc_shader(qkv_rope_${t} attention/qk_norm_rope.comp DEFINES FUSED WTYPE_${T})
  vkc_shader(qkv_rope_batch_${t} attention/qk_norm_rope.comp DEFINES FUSED BATCH WTYPE_${T})
endforeach()
