// libFuzzer target: tokenizer.json text through Tokenizer::load_json, then encode / decode of fixed texts
// and of every id (the loaded tokenizer must handle whatever vocabulary the file declared).
#include "host/text/tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

namespace {
const char* const k_texts[] = {"Hello world", "  two  spaces\n\nline", "Za\xc5\xbc\xc3\xb3\xc5\x82\xc4\x87 \xe6\x97\xa5\xe6\x9c\xac",
                               "<|im_start|>user\nhi<|im_end|>", "<s> </s> <unk> 12345 3.14", ""};
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vkc::fuzz::expect_ok_or_error([&] {
        auto tok = vkc::Tokenizer::load_json(vkc::fuzz::as_string(data, size), "");
        for (const char* text : k_texts) {
            const std::vector<int32_t> ids = tok->encode(text, true);
            (void)tok->decode(ids, false);
            (void)tok->decode(ids, true);
        }
        const int32_t n = std::min<int32_t>(tok->vocab_size(), 4096); // bounded work per input
        std::vector<int32_t> all;
        vkc::StreamDecoder sd(*tok);
        for (int32_t id = -1; id <= n; ++id) {
            (void)tok->token_bytes(id);
            (void)tok->id_to_token(id);
            (void)tok->is_special(id);
            if (id >= 0 && id < n) {
                all.push_back(id);
                (void)sd.push(id);
            }
        }
        (void)sd.flush();
        (void)tok->decode(all, false);
    });
    return 0;
}
