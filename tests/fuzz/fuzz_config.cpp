// libFuzzer target: config.json text through parse_config_json, then the derived tensor specs.
#include "model/config.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vkc::fuzz::expect_ok_or_error([&] {
        const vkc::ModelConfig c = vkc::parse_config_json(vkc::fuzz::as_string(data, size), "fuzz config.json");
        (void)c.vocab_size();
        (void)c.max_context();
        if (c.arch == vkc::Arch::v1) (void)vkc::v1_tensor_specs(c.v1);
        else (void)vkc::v2_tensor_specs(c.v2);
    });
    return 0;
}
