vkc_shader(mixer_store mixer/mixer_store.comp)
vkc_shader(mixer_conv_f32 mixer/mixer_conv.comp DEFINES WTYPE_F32)
vkc_shader(mixer_conv_f16 mixer/mixer_conv.comp DEFINES WTYPE_F16)
vkc_shader(hilbert_probe mixer/hilbert_probe.comp)
