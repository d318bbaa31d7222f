# Shader build: vkc_shader(NAME SOURCE [DEFINES ...]) declares one SPIR-V variant; vkc_embed_shaders(TARGET)
# compiles all declared variants with glslc (depfiles track #includes) and embeds them in a static library
# exposing vkc::find_shader(name).
find_program(GLSLC glslc REQUIRED)

set(VKC_SHADER_NAMES "" CACHE INTERNAL "")
set(VKC_SHADER_SPVS "" CACHE INTERNAL "")

function(vkc_shader name source)
  cmake_parse_arguments(S "" "" "DEFINES" ${ARGN})
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/${source})
  set(spv ${CMAKE_CURRENT_BINARY_DIR}/spv/${name}.spv)
  set(defs "")
  foreach(d ${S_DEFINES})
    list(APPEND defs "-D${d}")
  endforeach()
  add_custom_command(
    OUTPUT ${spv}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/spv
    COMMAND ${GLSLC} --target-env=vulkan1.1 -O -fshader-stage=compute ${defs}
            -I ${CMAKE_CURRENT_SOURCE_DIR} -MD -MF ${spv}.d -o ${spv} ${src}
    DEPENDS ${src}
    DEPFILE ${spv}.d
    COMMENT "glslc ${name}"
    VERBATIM)
  set(VKC_SHADER_NAMES "${VKC_SHADER_NAMES};${name}" CACHE INTERNAL "")
  set(VKC_SHADER_SPVS "${VKC_SHADER_SPVS};${spv}" CACHE INTERNAL "")
endfunction()

function(vkc_embed_shaders target)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/vkc_shaders_embedded.cpp)
  set(names ${VKC_SHADER_NAMES})
  set(spvs ${VKC_SHADER_SPVS})
  list(FILTER names EXCLUDE REGEX "^$")
  list(FILTER spvs EXCLUDE REGEX "^$")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} "-DNAMES=${names}" "-DSPVS=${spvs}" -DOUT=${out}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_spirv.cmake
    DEPENDS ${spvs} ${PROJECT_SOURCE_DIR}/cmake/embed_spirv.cmake
    COMMENT "embedding ${CMAKE_CURRENT_LIST_LENGTH} SPIR-V variants"
    VERBATIM)
  add_library(${target} STATIC ${out} ${PROJECT_SOURCE_DIR}/shaders/shader_registry.cpp)
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()
