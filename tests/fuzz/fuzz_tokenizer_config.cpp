// libFuzzer target: tokenizer_config.json text applied to a fixed small tokenizer.json
// (Tokenizer::load_json), then the chat template it declares (if any) parsed and rendered, and
// encode with the special tokens it configured.
#include "host/text/chat_template.h"
#include "host/text/tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

namespace {
// A 1-merge BPE without byte-level alphabet: enough for special-token lookups and encode/decode.
const char* const k_tokenizer_json = R"({
  "added_tokens": [{"id": 0, "content": "<s>", "special": true}, {"id": 1, "content": "</s>", "special": true},
                   {"id": 2, "content": "<unk>", "special": true}],
  "normalizer": null, "pre_tokenizer": null, "decoder": null, "post_processor": null,
  "model": {"type": "BPE", "unk_token": "<unk>", "vocab": {"<s>": 0, "</s>": 1, "<unk>": 2, "a": 3, "b": 4, "ab": 5},
            "merges": ["a b"]}
})";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    vkc::fuzz::expect_ok_or_error([&] {
        auto tok = vkc::Tokenizer::load_json(k_tokenizer_json, vkc::fuzz::as_string(data, size));
        (void)tok->decode(tok->encode("ab a b <s>", true), false);
        if (tok->chat_template().empty()) return;
        vkc::ChatTemplate t(tok->chat_template());
        (void)t.render({{"user", "hi"}, {"assistant", "yo"}}, true, "<s>", "</s>");
    });
    return 0;
}
