// libFuzzer target: user text (any bytes) encoded by the two fixture tokenizers (byte-level BPE and
// Metaspace BPE with NFKC) and decoded again; valid UTF-8 must round-trip through the byte-level one.
#include <cstdlib>
#include <memory>

#include "host/text/tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

namespace {
std::unique_ptr<vkc::Tokenizer> g_byte, g_meta;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const std::string dir = VKC_FIXTURES_DIR "/tokenizers/";
    g_byte = vkc::Tokenizer::load(dir + "bytelevel-bpe.json");
    g_meta = vkc::Tokenizer::load(dir + "metaspace-bpe.json");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text = vkc::fuzz::as_string(data, size);
    bool valid = true;
    vkc::fuzz::expect_ok_or_error([&] {
        try {
            const std::vector<int32_t> ids = g_byte->encode(text, true);
            if (g_byte->decode(ids, false) != text) __builtin_trap(); // byte-level BPE is lossless
        } catch (const vkc::Error&) {
            valid = false; // invalid UTF-8
            throw;
        }
    });
    vkc::fuzz::expect_ok_or_error([&] {
        const std::vector<int32_t> ids = g_meta->encode(text, true);
        vkc::StreamDecoder sd(*g_meta);
        for (int32_t id : ids) (void)sd.push(id);
        (void)sd.flush();
        (void)g_meta->decode(ids, true);
        if (!valid) __builtin_trap(); // both must reject the same invalid UTF-8
    });
    return 0;
}
