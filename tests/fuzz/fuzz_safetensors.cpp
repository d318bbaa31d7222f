// libFuzzer target: a .safetensors file image (header length, JSON header, data) through
// SafetensorsFile::from_memory, then every float tensor converted to f32 and f16.
#include <vector>

#include "model/safetensors.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vkc::fuzz::expect_ok_or_error([&] {
        auto f = vkc::SafetensorsFile::from_memory(data, size, "fuzz.safetensors");
        for (const auto& [name, t] : f->tensors()) {
            (void)t.shape_str();
            if (!vkc::dtype_is_float(t.dtype)) continue;
            // The header check guarantees nbytes == numel * dtype size <= input size.
            std::vector<float> f32(static_cast<size_t>(t.numel()));
            std::vector<uint16_t> f16(static_cast<size_t>(t.numel()));
            vkc::tensor_to_f32(t, f32.data());
            vkc::tensor_to_f16(t, f16.data());
        }
    });
    return 0;
}
