vkc_shader(rmsnorm norm/rmsnorm.comp)
