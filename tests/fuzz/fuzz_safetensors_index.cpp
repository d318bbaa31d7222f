// libFuzzer target: model.safetensors.index.json text through parse_safetensors_index.
#include "model/safetensors.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vkc::fuzz::expect_ok_or_error([&] {
        auto wm = vkc::parse_safetensors_index(vkc::fuzz::as_string(data, size), "fuzz.index.json");
        for (const auto& [tensor, shard] : wm)
            if (shard.empty() || shard[0] == '/' || shard.find("..") != std::string::npos) __builtin_trap();
    });
    return 0;
}
