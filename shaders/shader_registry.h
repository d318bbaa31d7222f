// Embedded SPIR-V variants, compiled at build time (cmake/shaders.cmake).
#pragma once
#include <cstddef>
#include <cstdint>

namespace vkc {

struct ShaderBlob {
    const char* name;      // variant name as declared in shaders/CMakeLists.txt
    const uint32_t* code;
    size_t words;
};

const ShaderBlob* shader_table(size_t* count); // generated
const ShaderBlob* find_shader(const char* name); // nullptr when unknown

} // namespace vkc
