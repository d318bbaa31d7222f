vkc_shader(topk_slice topk/topk.comp)
vkc_shader(topk_merge topk/topk.comp DEFINES MERGE)
