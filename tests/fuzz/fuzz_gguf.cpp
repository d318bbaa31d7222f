// libFuzzer target: a GGUF file image through GgufFile::parse, then the ConvGPT tensor store view.
#include <memory>

#include "model/gguf.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vkc::fuzz::expect_ok_or_error([&] {
        std::shared_ptr<vkc::GgufFile> f = vkc::GgufFile::parse(data, size, "fuzz.gguf");
        (void)f->find("general.architecture");
        const vkc::TensorStore store = vkc::gguf_tensor_store(f, "fuzz", "fuzz.gguf");
        for (const std::string& name : store.names()) {
            const vkc::TensorView& t = store.get(name);
            if (t.ggml_quant || !vkc::dtype_is_float(t.dtype)) continue;
            std::vector<float> f32(static_cast<size_t>(t.numel()));
            vkc::tensor_to_f32(t, f32.data());
        }
    });
    return 0;
}
