vkc_shader(advance seq/advance.comp)
