#include "shaders/shader_registry.h"

#include <cstring>

namespace vkc {

const ShaderBlob* find_shader(const char* name) {
    size_t n = 0;
    const ShaderBlob* t = shader_table(&n);
    for (size_t i = 0; i < n; ++i)
        if (std::strcmp(t[i].name, name) == 0) return &t[i];
    return nullptr;
}

} // namespace vkc
