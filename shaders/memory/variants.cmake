vkc_shader(mem_summarize memory/mem_summarize.comp)
vkc_shader(mem_select memory/mem_select.comp)
vkc_shader(mem_attention memory/mem_attention.comp)
